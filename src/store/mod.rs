//! Shared state: revocations, single-use tokens, rate limits, API keys
//! (`tokens`), the token endpoint's sessions (`sessions`). `memory` serves one
//! process; `redis` serves many replicas; `registry` keeps one across reloads.
//!
//! Everything one request needs from the store is one [`Batch`], answered in one
//! round trip (a Redis pipeline), after authentication so the subject is known.

mod memory;
mod redis;
mod registry;
pub mod sessions;
pub mod settings;
pub mod tokens;

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use registry::StoreRegistry;

use crate::metrics::Metrics;
use std::time::{Duration, Instant};

/// The store did not answer (unreachable, timed out, or refused the command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the state store is unavailable")]
pub struct StoreUnavailable;

/// A GCRA limit: `burst` requests at once, refilled at one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

impl Rate {
    /// Parses "100/s", "10/m", "5/h" with a burst.
    pub fn parse(text: &str, burst: u32) -> Result<Rate, String> {
        let (n, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("invalid rate {text:?}; write it like \"100/s\" or \"10/m\""))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid rate {text:?}"))?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(format!("invalid rate unit in {text:?}; use /s, /m or /h")),
        };
        if n == 0 || burst == 0 {
            return Err("rate and burst must be at least 1".into());
        }
        Ok(Rate {
            interval: per / n,
            burst,
        })
    }
}

/// What one request asks of the store.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// Revocation lookups: the token's `jti` and its subject.
    pub revocation: Option<(Option<&'a str>, &'a str)>,
    /// Mark this `jti` used, for this long; a second use is a replay.
    pub single_use: Option<(&'a str, Duration)>,
    /// One rate-limit step on this key.
    pub rate: Option<(&'a str, Rate)>,
    /// A signed request's nonce key (or a DPoP proof's): new, or a replay.
    pub nonce: Option<(&'a str, Duration)>,
    /// The session (refresh-token family) an issued token belongs to: revoked?
    pub session: Option<&'a str>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub jti_revoked: bool,
    /// The token's session was revoked (logout, refresh-token reuse).
    pub session_revoked: bool,
    /// "Every token of this subject issued before T is invalid."
    pub subject_not_before: Option<u64>,
    /// False when the single-use `jti` had been seen before.
    pub first_use: bool,
    /// False when the nonce had been seen before.
    pub nonce_fresh: bool,
    /// `Some(wait)` when the rate limit refused the request.
    pub retry_after: Option<Duration>,
}

/// A revocation record, as listed by the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Revocation {
    Jti {
        jti: String,
        exp: u64,
    },
    Subject {
        sub: String,
        issued_before: u64,
    },
    /// A session (refresh-token family) of the token endpoint: its tokens are void.
    Session {
        sid: String,
        until: u64,
    },
}

pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// Key names, below the configured prefix.
pub fn jti_key(jti: &str) -> String {
    format!("rev:jti:{jti}")
}
pub fn sub_key(sub: &str) -> String {
    format!("rev:sub:{sub}")
}
pub fn used_key(jti: &str) -> String {
    format!("used:{jti}")
}
pub fn sid_key(sid: &str) -> String {
    format!("rev:sid:{sid}")
}

impl Store {
    pub async fn run(
        &self,
        batch: &Batch<'_>,
        metrics: &Metrics,
    ) -> Result<Outcome, StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => Ok(m.run(batch)),
            Store::Redis(r) => r.run(batch).await,
        };
        observe(metrics, "batch", started, result.is_ok());
        result
    }

    /// One rate-limit step outside a batch (failed-authentication limiting).
    pub async fn rate_step(
        &self,
        key: &str,
        rate: Rate,
        metrics: &Metrics,
    ) -> Result<Option<Duration>, StoreUnavailable> {
        let batch = Batch {
            rate: Some((key, rate)),
            ..Batch::default()
        };
        Ok(self.run(&batch, metrics).await?.retry_after)
    }

    pub async fn revoke(
        &self,
        r: &Revocation,
        ttl: Duration,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        let (key, value) = match r {
            Revocation::Jti { jti, exp } => (jti_key(jti), exp.to_string()),
            Revocation::Subject { sub, issued_before } => (sub_key(sub), issued_before.to_string()),
            Revocation::Session { sid, until } => (sid_key(sid), until.to_string()),
        };
        self.set(&key, &value, ttl, metrics).await
    }

    /// SET with expiry (the key is indexed so `list` finds it without SCAN).
    pub async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        self.write(key, value, ttl, true, metrics).await
    }

    /// SET with expiry, not indexed (records found by key, never listed).
    pub async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        self.write(key, value, ttl, false, metrics).await
    }

    async fn write(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        indexed: bool,
        metrics: &Metrics,
    ) -> Result<(), StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Store::Redis(s) => s.write(key, value, ttl, indexed).await,
        };
        observe(metrics, "set", started, result.is_ok());
        result
    }

    /// Replaces `key`'s value with `new` only if it is still `old` (atomic on
    /// every replica): false when another writer got there first.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        old: &str,
        new: &str,
        ttl: Duration,
        metrics: &Metrics,
    ) -> Result<bool, StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => Ok(m.compare_and_swap(key, old, new, ttl)),
            Store::Redis(s) => s.compare_and_swap(key, old, new, ttl).await,
        };
        observe(metrics, "cas", started, result.is_ok());
        result
    }

    pub async fn get(
        &self,
        key: &str,
        metrics: &Metrics,
    ) -> Result<Option<String>, StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => Ok(m.get(key).map(|v| v.to_string())),
            Store::Redis(s) => s.get(key).await,
        };
        observe(metrics, "get", started, result.is_ok());
        result
    }

    /// Indexed keys under `prefix` with their values.
    pub async fn list(
        &self,
        prefix: &str,
        metrics: &Metrics,
    ) -> Result<Vec<(String, String)>, StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => Ok(m.scan(prefix)),
            Store::Redis(s) => s.scan(prefix).await,
        };
        observe(metrics, "scan", started, result.is_ok());
        result
    }

    pub async fn unrevoke(&self, key: &str, metrics: &Metrics) -> Result<bool, StoreUnavailable> {
        let started = Instant::now();
        let result = match self {
            Store::Memory(m) => Ok(m.delete(key)),
            Store::Redis(s) => s.delete(key).await,
        };
        observe(metrics, "delete", started, result.is_ok());
        result
    }

    pub async fn revocations(
        &self,
        metrics: &Metrics,
    ) -> Result<Vec<Revocation>, StoreUnavailable> {
        let started = Instant::now();
        let pairs = match self {
            Store::Memory(m) => Ok(m.scan("rev:")),
            Store::Redis(s) => s.scan("rev:").await,
        };
        observe(metrics, "scan", started, pairs.is_ok());
        let mut out: Vec<Revocation> = pairs?
            .into_iter()
            .filter_map(|(k, v)| {
                let n = v.parse().ok()?;
                if let Some(jti) = k.strip_prefix("rev:jti:") {
                    Some(Revocation::Jti {
                        jti: jti.into(),
                        exp: n,
                    })
                } else if let Some(sid) = k.strip_prefix("rev:sid:") {
                    Some(Revocation::Session {
                        sid: sid.into(),
                        until: n,
                    })
                } else {
                    k.strip_prefix("rev:sub:").map(|sub| Revocation::Subject {
                        sub: sub.into(),
                        issued_before: n,
                    })
                }
            })
            .collect();
        out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        Ok(out)
    }

    /// Resolves once the store has connected (at once for the memory store).
    pub async fn connected(&self) {
        if let Store::Redis(r) = self {
            r.connected().await;
        }
    }

    /// Whether the store answers now (readiness).
    pub async fn ping(&self) -> Result<(), StoreUnavailable> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Redis(r) => r.ping().await,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }
}

fn observe(metrics: &Metrics, op: &str, started: Instant, ok: bool) {
    let seconds = started.elapsed().as_secs_f64();
    match op {
        // Admission's batch runs on the request path: no lookup for it.
        "batch" => metrics.store_batch_duration.observe(seconds),
        _ => metrics
            .store_duration
            .with_label_values(&[op])
            .observe(seconds),
    }
    if !ok {
        metrics.store_errors.with_label_values(&[op]).inc();
    }
}

/// GCRA (the "virtual scheduling" form): `tat` is the theoretical arrival time in
/// ms. Returns the new tat when allowed, or how long to wait.
pub fn gcra(tat: Option<u64>, now_ms: u64, rate: Rate) -> Result<u64, u64> {
    let interval = u64::try_from(rate.interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + interval;
    let allow_at = new_tat.saturating_sub(interval * u64::from(rate.burst));
    if allow_at > now_ms {
        Err(allow_at - now_ms)
    } else {
        Ok(new_tat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("100/s", 5).unwrap().interval,
            Duration::from_millis(10)
        );
        assert_eq!(
            Rate::parse("2/m", 1).unwrap().interval,
            Duration::from_secs(30)
        );
        assert!(Rate::parse("0/s", 1).is_err());
        assert!(Rate::parse("5/d", 1).is_err());
    }

    #[test]
    fn gcra_allows_the_burst_then_paces() {
        let rate = Rate::parse("10/s", 3).unwrap();
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra(tat, 1000, rate).unwrap());
        }
        assert_eq!(gcra(tat, 1000, rate), Err(100));
        assert!(gcra(tat, 1100, rate).is_ok());
    }
}
