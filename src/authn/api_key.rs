//! `kind = "api-key"`: long-lived random keys for services and scripts.
//!
//! A key is `PREFIX` + base64url(32 random bytes) + a 6-character checksum.
//! The prefix lets secret scanners recognise a leaked key; the checksum lets a
//! typo fail here, without a store lookup. The gateway keeps only SHA-256 of
//! a key: the record is found by the key's id (the first 8 bytes of that hash,
//! in hex) and the whole hash is compared in constant time. Records live in the
//! store, so every replica sees a key created or revoked on another; a replica
//! remembers a record for at most one second, which bounds how long a revoked
//! key keeps working elsewhere. A static file of hashes serves deployments
//! without an admin API.

use super::failure::{AuthError, AuthFailure, Dependency};
use super::kind::{Attempt, Challenge, Kind, Verdict};
use super::principal::{Identity, Principal};
use crate::authn::extract::TokenSource;
use crate::config::diag::Diag;
use crate::config::file::ApiKeyFile;
use crate::metrics::Metrics;
use crate::store::tokens::ApiKeyRecord;
use crate::store::Store;
use base64::Engine;
use http::HeaderMap;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const SECRET_CHARS: usize = 43;
const CHECKSUM_CHARS: usize = 6;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

fn checksum(prefix: &str, secret: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(prefix.as_bytes());
    ctx.update(secret.as_bytes());
    let d = ctx.finish();
    B64.encode(&d.as_ref()[..4])
}

/// `(id, hex SHA-256)` of a key: what the store knows of it.
pub fn fingerprint(key: &str) -> (String, String) {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    (hex::encode(&d.as_ref()[..8]), hex::encode(d.as_ref()))
}

/// A new key with `prefix`: (key, id, hash). The key is shown once and never stored.
pub fn generate(prefix: &str) -> Result<(String, String, String), String> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| "no randomness available".to_string())?;
    let secret = B64.encode(raw);
    let key = format!("{prefix}{secret}{}", checksum(prefix, &secret));
    let (id, hash) = fingerprint(&key);
    Ok((key, id, hash))
}

/// Checks a presented key's shape and checksum: no store lookup for a typo.
pub fn check_shape(prefix: &str, key: &str) -> Result<(), AuthFailure> {
    let body = key.strip_prefix(prefix).ok_or(AuthFailure::Malformed)?;
    if body.len() != SECRET_CHARS + CHECKSUM_CHARS
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AuthFailure::Malformed);
    }
    let (secret, sum) = body.split_at(SECRET_CHARS);
    let want = checksum(prefix, secret);
    if aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), sum.as_bytes()).is_err() {
        return Err(AuthFailure::BadChecksum);
    }
    Ok(())
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
    let (key, id, hash) = generate(prefix)?;
    let record = ApiKeyRecord {
        id,
        hash,
        authenticator: authenticator.to_string(),
        subject: new.subject,
        scopes: new.scopes,
        claims: Map::new(),
        expires_at: new.ttl.map(|t| now + t.as_secs()),
        created_at: now,
        description: new.description,
    };
    Ok((record, key))
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

enum Source {
    Store(Arc<Store>),
    File(HashMap<String, ApiKeyRecord>),
}

pub struct ApiKeyAuthenticator {
    name: Arc<str>,
    settings: ApiKeySettings,
    source: Source,
    /// Records by id, for at most a second: a revocation elsewhere is honoured within it.
    recent: moka::sync::Cache<String, Arc<ApiKeyRecord>>,
    metrics: Metrics,
}

impl ApiKeyAuthenticator {
    pub fn build(
        name: &str,
        settings: &ApiKeySettings,
        store: &Arc<Store>,
        metrics: &Metrics,
    ) -> Result<ApiKeyAuthenticator, String> {
        let source = match &settings.keys_file {
            Some(path) => Source::File(load_keys_file(path, name)?),
            None => Source::Store(store.clone()),
        };
        Ok(ApiKeyAuthenticator {
            name: Arc::from(name),
            settings: settings.clone(),
            source,
            recent: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(1))
                .build(),
            metrics: metrics.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Issues a new key for `new.subject` into the store: `(record, key)`; the
    /// key exists only in this answer. `Ok(Err)` is a refusal of the request.
    pub async fn create(
        &self,
        store: &Store,
        new: NewKey,
        now: u64,
        metrics: &Metrics,
    ) -> Result<Result<(ApiKeyRecord, String), String>, crate::store::StoreUnavailable> {
        if self.settings.keys_file.is_some() {
            return Ok(Err(format!("authenticator {:?} reads a keys file; add keys with `sealgate api-key create --keys-file`", self.name)));
        }
        let subject_ok = !new.subject.is_empty()
            && new.subject.len() <= 256
            && !new.subject.chars().any(char::is_control);
        if !subject_ok {
            return Ok(Err("subject: 1-256 printable characters".into()));
        }
        let (record, key) = match new_record(&self.name, &self.settings.prefix, new, now) {
            Ok(r) => r,
            Err(m) => return Ok(Err(m)),
        };
        store.put_api_key(&record, now, metrics).await?;
        Ok(Ok((record, key)))
    }

    pub fn token_source(&self) -> &TokenSource {
        &self.settings.token_from
    }

    fn key<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        crate::authn::extract::token(headers, &self.settings.token_from)
    }

    async fn record(&self, id: &str) -> Result<Option<Arc<ApiKeyRecord>>, AuthError> {
        if let Some(r) = self.recent.get(id) {
            return Ok(Some(r));
        }
        let found = match &self.source {
            Source::File(keys) => keys.get(id).cloned(),
            Source::Store(store) => store
                .api_key(id, &self.metrics)
                .await
                .map_err(|_| AuthError::Unavailable(Dependency::Store))?
                .filter(|r| r.authenticator == *self.name),
        };
        Ok(found.map(|r| {
            let r = Arc::new(r);
            self.recent.insert(id.to_string(), r.clone());
            r
        }))
    }

    fn identity(&self, r: &ApiKeyRecord) -> Identity {
        let mut claims = r.claims.clone();
        if !r.scopes.is_empty() {
            claims.insert("scope".into(), Value::from(r.scopes.join(" ")));
        }
        Identity {
            subject: r.subject.clone(),
            claims,
            expires_at: r.expires_at,
            issued_at: Some(r.created_at),
            token_id: Some(r.id.clone()),
            ..Identity::default()
        }
    }
}

impl Kind for ApiKeyAuthenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        matches!(self.key(at.headers), Ok(Some(k)) if k.starts_with(&self.settings.prefix))
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let key = self.key(at.headers)?.ok_or(AuthFailure::Missing)?;
        check_shape(&self.settings.prefix, key)?;
        let (id, hash) = fingerprint(key);
        let record = self.record(&id).await?.ok_or(AuthFailure::UnknownKey)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            record.hash.as_bytes(),
            hash.as_bytes(),
        )
        .is_err()
        {
            return Err(AuthFailure::UnknownKey.into());
        }
        if record.expires_at.is_some_and(|exp| at.now >= exp) {
            return Err(AuthFailure::Expired.into());
        }
        let identity = Arc::new(self.identity(&record));
        Ok(Verdict::of(Principal::new(
            self.name.clone(),
            "api-key",
            identity,
        )))
    }

    fn challenge(&self) -> Challenge {
        Challenge::Bearer
    }

    fn strip(&self, headers: &mut HeaderMap) {
        crate::authn::extract::strip(headers, &self.settings.token_from);
    }

    fn watched_files(&self) -> Vec<PathBuf> {
        self.settings.keys_file.iter().cloned().collect()
    }

    fn log_settings(&self) {
        tracing::info!(
            authenticator = %self.name,
            kind = "api-key",
            prefix = %self.settings.prefix,
            source = if self.settings.keys_file.is_some() { "keys_file" } else { "store" },
            "authenticator"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(f: impl FnOnce(&mut Diag<'_>)) -> Vec<String> {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let base = std::env::temp_dir();
        let mut d = Diag {
            errors: &mut errors,
            warnings: &mut warnings,
            base: &base,
        };
        f(&mut d);
        errors.into_iter().map(|e| e.path).collect()
    }

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

    #[test]
    fn keys_carry_prefix_and_checksum() {
        let (key, id, hash) = generate("sgk_").unwrap();
        assert!(key.starts_with("sgk_"));
        assert_eq!(key.len(), 4 + SECRET_CHARS + CHECKSUM_CHARS);
        assert_eq!(check_shape("sgk_", &key), Ok(()));
        assert_eq!(fingerprint(&key), (id.clone(), hash.clone()));
        assert_eq!(&hash[..16], id);
        // One changed character: the checksum catches it.
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(check_shape("sgk_", &typo), Err(AuthFailure::BadChecksum));
        assert_eq!(check_shape("other_", &key), Err(AuthFailure::Malformed));
        assert_eq!(
            check_shape("sgk_", "sgk_short"),
            Err(AuthFailure::Malformed)
        );
        assert_ne!(generate("sgk_").unwrap().0, key);
    }
}
