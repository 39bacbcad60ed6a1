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
use crate::metrics::Metrics;
use crate::store::tokens::ApiKeyRecord;
use crate::store::Store;
use http::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod format;
mod settings;

pub use format::{check_shape, fingerprint, generate};
pub use settings::{load_keys_file, new_record, settings, ApiKeySettings, NewKey};

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

    /// Any token where the key would be: when no kind claims it, this one
    /// explains why it is not a key (malformed) rather than "missing".
    fn located(&self, at: &Attempt<'_>) -> bool {
        !matches!(self.key(at.headers), Ok(None))
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
