//! What the token endpoint keeps for every replica: refresh-token families
//! (one per login) and opaque access tokens. Only SHA-256 hashes of tokens are
//! stored (and a family's generation number, which is not secret). A family changes only by compare-and-swap of its whole record, so
//! two replicas rotating the same refresh token cannot both succeed.

use super::{Store, StoreUnavailable};
use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// One login's refresh-token family (RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyRecord {
    pub sub: String,
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The DPoP key the family is bound to (RFC 9449 §5), if any.
    #[serde(default)]
    pub jkt: Option<String>,
    pub remember: bool,
    pub created_at: u64,
    /// The absolute end of the session, whatever its use.
    pub expires_at: u64,
    pub last_used: u64,
    /// Hex SHA-256 of the one refresh token that may be used next.
    pub current: String,
    /// The current token's generation (0 at login, one more per rotation):
    /// a token of an earlier generation, proven ours by its MAC, is reuse.
    pub generation: u64,
}

/// One opaque access token (the API key format, found by its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub hash: String,
    pub sub: String,
    #[serde(default)]
    pub claims: Map<String, Value>,
    pub issued_at: u64,
    pub expires_at: u64,
}

fn family_key(fid: &str) -> String {
    format!("fam:{fid}")
}

fn access_key(id: &str) -> String {
    format!("at:{id}")
}

fn ttl_until(exp: u64, now: u64) -> Duration {
    Duration::from_secs(exp.saturating_sub(now).max(1))
}

impl FamilyRecord {
    pub fn encode(&self) -> Result<String, StoreUnavailable> {
        serde_json::to_string(self).map_err(|_| StoreUnavailable)
    }
}

impl Store {
    pub async fn put_family(
        &self,
        fid: &str,
        f: &FamilyRecord,
        now: u64,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        let ttl = ttl_until(f.expires_at, now);
        self.put(&family_key(fid), &f.encode()?, ttl, metrics).await
    }

    /// The family and its stored form (the `old` value of a later swap).
    pub async fn family(
        &self,
        fid: &str,
        metrics: &Metrics,
    ) -> Result<Option<(FamilyRecord, String)>, StoreUnavailable> {
        let raw = self.get(&family_key(fid), metrics).await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok().map(|f| (f, r))))
    }

    /// Replaces the family read as `old` by `new`: false when another
    /// request changed (or ended) it in between.
    pub async fn swap_family(
        &self,
        fid: &str,
        old: &str,
        new: &FamilyRecord,
        now: u64,
        metrics: &Metrics,
    ) -> Result<bool, StoreUnavailable> {
        let ttl = ttl_until(new.expires_at, now);
        self.compare_and_swap(&family_key(fid), old, &new.encode()?, ttl, metrics)
            .await
    }

    pub async fn delete_family(
        &self,
        fid: &str,
        metrics: &Metrics,
    ) -> Result<bool, StoreUnavailable> {
        self.unrevoke(&family_key(fid), metrics).await
    }

    pub async fn put_access(
        &self,
        id: &str,
        r: &AccessRecord,
        now: u64,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        let value = serde_json::to_string(r).map_err(|_| StoreUnavailable)?;
        let ttl = ttl_until(r.expires_at, now);
        self.put(&access_key(id), &value, ttl, metrics).await
    }

    pub async fn access(
        &self,
        id: &str,
        metrics: &Metrics,
    ) -> Result<Option<AccessRecord>, StoreUnavailable> {
        let raw = self.get(&access_key(id), metrics).await?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }

    pub async fn delete_access(
        &self,
        id: &str,
        metrics: &Metrics,
    ) -> Result<bool, StoreUnavailable> {
        self.unrevoke(&access_key(id), metrics).await
    }
}
