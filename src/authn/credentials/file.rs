//! The credentials file on disk: TOML, one `[[credential]]` per client, HMAC
//! secrets only in sealed form (see `kek`). Read by the gateway, written only
//! by `sealgate credentials`, atomically.

use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT_VERSION: u32 = 1;
const HEADER: &str = "# sealgate credentials: HMAC secrets are AES-256-GCM encrypted under the KEK.\n# Edit with `sealgate credentials add|rotate|list|remove|rekey`; a plaintext secret is refused.\n\n";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    pub version: u32,
    #[serde(default, rename = "credential")]
    pub credentials: Vec<Entry>,
}

/// One client. `secrets` for HMAC algorithms, `public_key` for the others.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub algorithms: Vec<String>,
    /// Unix seconds after which the credential no longer verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Identity claims forwarded for this client (`x-auth-*`, the assertion).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub claims: toml::Table,
    /// PEM `PUBLIC KEY` (or `RSA PUBLIC KEY`) for asymmetric algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, rename = "secret", skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SealedSecret>,
}

/// One HMAC secret, sealed; several during a rotation's overlap.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecret {
    pub sealed: String,
    pub created: u64,
    /// Unix seconds after which this (rotated-out) secret no longer verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
}

/// Reads and parses the file; a plaintext secret anywhere is an error naming the entry.
pub fn read(path: &Path) -> Result<CredentialsFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Some(id) = plaintext_secret(&text) {
        return Err(format!(
            "{}: credential {id:?} has a plaintext `secret`; secrets are only stored encrypted: add them with `sealgate credentials add --secret-stdin`",
            path.display()
        ));
    }
    let file: CredentialsFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "{}: version {} is not supported (expected {FORMAT_VERSION})",
            path.display(),
            file.version
        ));
    }
    Ok(file)
}

/// The id of an entry whose `secret` is a string (a plaintext secret) rather
/// than the tables of sealed secrets.
fn plaintext_secret(text: &str) -> Option<String> {
    let value: toml::Table = toml::from_str(text).ok()?;
    let entries = value.get("credential")?.as_array()?;
    entries.iter().find_map(|e| {
        let t = e.as_table()?;
        let plain = ["secret", "hmac_secret", "key"]
            .iter()
            .any(|k| t.get(*k).is_some_and(|v| v.is_str()));
        plain.then(|| {
            t.get("id")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string()
        })
    })
}

/// Writes the file atomically (a temporary file renamed over it), mode 0600.
pub fn write(path: &Path, file: &CredentialsFile) -> Result<(), String> {
    let body = toml::to_string_pretty(file).map_err(|e| format!("cannot encode: {e}"))?;
    crate::fsutil::write_replace(path, format!("{HEADER}{body}").as_bytes(), 0o600)
}
