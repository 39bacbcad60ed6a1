//! Credentials the store holds for every replica: API keys (and, later, opaque
//! access tokens and refresh-token families). Only a SHA-256 of a key is ever
//! stored; the record is found by the key's id (a prefix of that hash) and the
//! full hash is compared in constant time by the authenticator.

use super::{Store, StoreUnavailable};
use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One API key, as stored and as listed (it never contains the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    /// Hex SHA-256 of the whole key.
    pub hash: String,
    pub authenticator: String,
    pub subject: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub expires_at: Option<u64>,
    pub created_at: u64,
    #[serde(default)]
    pub description: String,
}

/// Records without an expiry are kept this long (the store needs a TTL).
const NO_EXPIRY: Duration = Duration::from_secs(10 * 365 * 86400);

fn api_key_key(id: &str) -> String {
    format!("apikey:{id}")
}

impl Store {
    pub async fn put_api_key(
        &self,
        r: &ApiKeyRecord,
        now: u64,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        let ttl = r.expires_at.map_or(NO_EXPIRY, |exp| {
            Duration::from_secs(exp.saturating_sub(now).max(1))
        });
        let value = serde_json::to_string(r).map_err(|_| StoreUnavailable)?;
        self.set(&api_key_key(&r.id), &value, ttl, metrics).await
    }

    /// The record for `id`; `Ok(None)` when there is none (never issued, revoked, expired).
    pub async fn api_key(
        &self,
        id: &str,
        metrics: &Metrics,
    ) -> Result<Option<ApiKeyRecord>, StoreUnavailable> {
        let value = self.get(&api_key_key(id), metrics).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn delete_api_key(
        &self,
        id: &str,
        metrics: &Metrics,
    ) -> Result<bool, StoreUnavailable> {
        self.unrevoke(&api_key_key(id), metrics).await
    }

    pub async fn api_keys(&self, metrics: &Metrics) -> Result<Vec<ApiKeyRecord>, StoreUnavailable> {
        let mut out: Vec<ApiKeyRecord> = self
            .list("apikey:", metrics)
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }
}
