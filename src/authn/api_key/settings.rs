//! `kind = "api-key"` settings, and the hashes-only keys file.

use super::format::generate;
use crate::authn::extract::TokenSource;
use crate::config::diag::Diag;
use crate::config::file::ApiKeyFile;
use crate::store::tokens::ApiKeyRecord;
use serde_json::Map;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Validated `[authenticators.NAME]` settings of kind `api-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// Recognisable prefix, e.g. `sgk_` (secret scanners match on it).
    pub prefix: String,
    pub token_from: TokenSource,
    /// A TOML file of `[[keys]]` with hashes only, instead of the store.
    pub keys_file: Option<PathBuf>,
}

/// Validates a `kind = "api-key"` table.
pub fn settings(d: &mut Diag<'_>, name: &str, f: &ApiKeyFile) -> Option<ApiKeySettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let prefix = f.prefix.clone().unwrap_or_else(|| "sgk_".into());
    let prefix_ok = (2..=16).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !prefix_ok {
        d.push(
            p("prefix"),
            "2-16 letters, digits or '_', e.g. \"sgk_\" (secret scanners match on it)",
        );
    }
    let token_from = match &f.header {
        None => TokenSource::Bearer,
        Some(h) => match http::HeaderName::from_bytes(h.as_bytes()) {
            Ok(h) => TokenSource::Header(h),
            Err(_) => {
                d.push(p("header"), format!("invalid header name {h:?}"));
                TokenSource::Bearer
            }
        },
    };
    let keys_file = f.keys_file.as_deref().map(|k| d.path(k));
    if let Some(path) = &keys_file {
        if let Err(m) = load_keys_file(path, name) {
            d.push(p("keys_file"), m);
        }
    }
    prefix_ok.then_some(ApiKeySettings {
        prefix,
        token_from,
        keys_file,
    })
}

/// What a new key is for.
pub struct NewKey {
    pub subject: String,
    pub scopes: Vec<String>,
    pub ttl: Option<Duration>,
    pub description: String,
}

/// A fresh key and the record that stands for it: `(record, key)`.
pub fn new_record(
    authenticator: &str,
    prefix: &str,
    new: NewKey,
    now: u64,
) -> Result<(ApiKeyRecord, String), String> {
    check_new(&new)?;
    let (key, id, hash) = generate(prefix)?;
    let record = ApiKeyRecord {
        id,
        hash,
        authenticator: authenticator.to_string(),
        subject: new.subject,
        scopes: new.scopes,
        claims: Map::new(),
        expires_at: new.ttl.map(|t| now.saturating_add(t.as_secs())),
        created_at: now,
        description: new.description,
    };
    Ok((record, key))
}

/// The longest lifetime a key may be given.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 86400);

/// What the admin API and the CLI both refuse: text that headers, logs or the
/// keys file could not carry, and lifetimes past any sensible rotation.
fn check_new(new: &NewKey) -> Result<(), String> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    if new.subject.is_empty() || new.subject.len() > 256 || !printable(&new.subject) {
        return Err("subject: 1-256 printable characters".into());
    }
    let scope_ok =
        |s: &String| !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic());
    if new.scopes.len() > 64 || !new.scopes.iter().all(scope_ok) {
        return Err(
            "scopes: at most 64, each 1-128 visible ASCII characters without spaces".into(),
        );
    }
    if new.description.len() > 256 || !printable(&new.description) {
        return Err("description: at most 256 printable characters".into());
    }
    if new.ttl.is_some_and(|t| t.is_zero() || t > MAX_TTL) {
        return Err("ttl: more than 0s and at most 10 years".into());
    }
    Ok(())
}

/// The `[[keys]]` of a hashes-only keys file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<FileKey>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    /// Hex SHA-256 of the key (`sealgate api-key create --keys-file` writes it).
    hash: String,
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
    expires_at: Option<u64>,
    #[serde(default)]
    description: String,
}

/// Reads a keys file into records by id; every problem names the entry.
pub fn load_keys_file(
    path: &std::path::Path,
    authenticator: &str,
) -> Result<HashMap<String, ApiKeyRecord>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: KeysFile = toml_from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (i, k) in file.keys.into_iter().enumerate() {
        let ok = k.hash.len() == 64
            && k.hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !ok {
            return Err(format!("{}: keys[{i}].hash: expected 64 lowercase hex digits (a SHA-256), never the key itself", path.display()));
        }
        let id = k.hash[..16].to_string();
        out.insert(
            id.clone(),
            ApiKeyRecord {
                id,
                hash: k.hash,
                authenticator: authenticator.to_string(),
                subject: k.subject,
                scopes: k.scopes,
                claims: Map::new(),
                expires_at: k.expires_at,
                created_at: 0,
                description: k.description,
            },
        );
    }
    Ok(out)
}

fn toml_from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    ::config::Config::builder()
        .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;
    #[test]
    fn the_validator_names_prefix_header_and_keys_file() {
        let bad = ApiKeyFile {
            prefix: Some("sg-".into()),
            header: Some("bad header".into()),
            keys_file: Some("/nonexistent/keys.toml".into()),
        };
        let errs = errors_of(|d| assert!(settings(d, "k", &bad).is_none()));
        assert_eq!(
            errs,
            [
                "authenticators.k.prefix",
                "authenticators.k.header",
                "authenticators.k.keys_file"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.toml");
        std::fs::write(
            &file,
            "[[keys]]\nhash = \"sgk_plaintext\"\nsubject = \"s\"\n",
        )
        .unwrap();
        let plain = ApiKeyFile {
            keys_file: Some(file.display().to_string()),
            ..ApiKeyFile::default()
        };
        assert_eq!(
            errors_of(|d| {
                settings(d, "k", &plain);
            }),
            ["authenticators.k.keys_file"]
        );
        let (_, _, hash) = generate("sgk_").unwrap();
        std::fs::write(
            &file,
            format!("[[keys]]\nhash = \"{hash}\"\nsubject = \"svc\"\nscopes = [\"a\"]\n"),
        )
        .unwrap();
        let keys = load_keys_file(&file, "k").unwrap();
        assert_eq!(keys[&hash[..16]].subject, "svc");
    }
}
