//! Verified credentials, remembered within their lifetime so a repeated token
//! costs a hash and a lookup instead of a signature check or a network call.
//! Keyed by SHA-256(authenticator name, credential): the cache never holds a
//! credential itself.

use super::principal::Identity;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries live until the credential's `exp`, at most an hour (60 s when it has none).
pub struct UntilExp;

impl moka::Expiry<[u8; 32], Arc<Identity>> for UntilExp {
    fn expire_after_create(&self, _: &[u8; 32], v: &Arc<Identity>, _: Instant) -> Option<Duration> {
        let left = v
            .expires_at
            .map_or(60, |exp| exp.saturating_sub(super::kind::unix_now()));
        Some(Duration::from_secs(left.min(3600)))
    }
}

pub type VerifiedCache = moka::sync::Cache<[u8; 32], Arc<Identity>>;

pub fn verified_cache(capacity: u64) -> VerifiedCache {
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .expire_after(UntilExp)
        .build()
}

/// SHA-256(name, 0, credential): the cache key, never reversible to the credential.
pub fn key(name: &str, credential: &[u8]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(&[0]);
    ctx.update(credential);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
