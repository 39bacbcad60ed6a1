//! The in-process store: a bounded moka cache with per-entry expiry. Atomic per
//! key through moka's entry API, with the same semantics as the Redis store.

use super::{gcra, jti_key, sid_key, sub_key, used_key, Batch, Outcome};
use moka::sync::Cache;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    value: Arc<str>,
    ttl: Duration,
}

struct ByTtl;

impl moka::Expiry<String, Entry> for ByTtl {
    fn expire_after_create(&self, _: &String, e: &Entry, _: Instant) -> Option<Duration> {
        Some(e.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        e: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(e.ttl)
    }
}

pub struct MemoryStore {
    cache: Cache<String, Entry>,
    epoch: Instant,
    /// Set before the first revocation (a `rev:` key) is written: until
    /// then every request's revocation lookups have nothing to find, and
    /// are skipped (two key strings and two cache lookups a request).
    revoked_any: AtomicBool,
}

/// The prefix shared by the revocation keys (`jti_key`, `sub_key`, `sid_key`).
const REVOCATION: &str = "rev:";

impl MemoryStore {
    pub fn new(max_entries: u64) -> MemoryStore {
        MemoryStore {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(ByTtl)
                .build(),
            epoch: Instant::now(),
            revoked_any: AtomicBool::new(false),
        }
    }

    /// Notes a write of `key` before it happens, so that a request that
    /// could find the entry also sees the flag.
    fn note(&self, key: &str) {
        if key.starts_with(REVOCATION) && !self.revoked_any.load(Ordering::Relaxed) {
            self.revoked_any.store(true, Ordering::SeqCst);
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<str>> {
        self.cache.get(key).map(|e| e.value)
    }

    pub fn set(&self, key: &str, value: &str, ttl: Duration) {
        self.note(key);
        self.cache.insert(
            key.to_string(),
            Entry {
                value: Arc::from(value),
                ttl: ttl.max(Duration::from_millis(1)),
            },
        );
    }

    /// Atomic per key (moka's entry compute): `new` replaces exactly `old`.
    pub fn compare_and_swap(&self, key: &str, old: &str, new: &str, ttl: Duration) -> bool {
        self.note(key);
        let mut swapped = false;
        self.cache
            .entry(key.to_string())
            .and_compute_with(|current| match current {
                Some(e) if &*e.value().value == old => {
                    swapped = true;
                    moka::ops::compute::Op::Put(Entry {
                        value: Arc::from(new),
                        ttl: ttl.max(Duration::from_millis(1)),
                    })
                }
                _ => moka::ops::compute::Op::Nop,
            });
        swapped
    }

    pub fn delete(&self, key: &str) -> bool {
        self.cache.remove(key).is_some()
    }

    pub fn scan(&self, prefix: &str) -> Vec<(String, String)> {
        self.cache
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, e)| (k.to_string(), e.value.to_string()))
            .collect()
    }

    /// Inserts `key` unless present: true when it was new.
    fn first_use(&self, key: String, ttl: Duration) -> bool {
        let entry = self.cache.entry(key).or_insert_with(|| Entry {
            value: Arc::from("1"),
            ttl: ttl.max(Duration::from_millis(1)),
        });
        entry.is_fresh()
    }

    pub fn run(&self, b: &Batch<'_>) -> Outcome {
        let mut out = Outcome {
            first_use: true,
            nonce_fresh: true,
            ..Outcome::default()
        };
        let revoked_any = self.revoked_any.load(Ordering::SeqCst);
        if let Some((jti, sub)) = b.revocation.filter(|_| revoked_any) {
            out.jti_revoked = jti.is_some_and(|j| self.get(&jti_key(j)).is_some());
            out.subject_not_before = self.get(&sub_key(sub)).and_then(|v| v.parse().ok());
        }
        if let Some(sid) = b.session.filter(|_| revoked_any) {
            out.session_revoked = self.get(&sid_key(sid)).is_some();
        }
        if let Some((jti, ttl)) = b.single_use {
            out.first_use = self.first_use(used_key(jti), ttl);
        }
        if let Some((nonce, ttl)) = b.nonce {
            out.nonce_fresh = self.first_use(used_key(nonce), ttl);
        }
        if let Some((key, rate)) = b.rate {
            let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut retry = None;
            self.cache
                .entry(format!("rl:{key}"))
                .and_compute_with(|current| {
                    let tat = current.and_then(|e| e.into_value().value.parse().ok());
                    match gcra(tat, now, rate) {
                        Ok(new_tat) => moka::ops::compute::Op::Put(Entry {
                            value: Arc::from(new_tat.to_string().as_str()),
                            ttl: Duration::from_millis(new_tat - now),
                        }),
                        Err(wait) => {
                            retry = Some(Duration::from_millis(wait));
                            moka::ops::compute::Op::Nop
                        }
                    }
                });
            out.retry_after = retry;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{jti_key, sid_key, sub_key};
    use super::*;

    fn lookups(store: &MemoryStore) -> Outcome {
        store.run(&Batch {
            revocation: Some((Some("j1"), "alice")),
            session: Some("s1"),
            ..Batch::default()
        })
    }

    #[test]
    fn revocations_are_found_once_written_and_only_then_looked_up() {
        let store = MemoryStore::new(100);
        let before = lookups(&store);
        assert!(!before.jti_revoked && !before.session_revoked);
        assert!(
            !store.revoked_any.load(Ordering::SeqCst),
            "nothing to look up yet"
        );
        store.set("used:x", "1", Duration::from_secs(60));
        assert!(
            !store.revoked_any.load(Ordering::SeqCst),
            "not a revocation"
        );
        let ttl = Duration::from_secs(60);
        store.set(&jti_key("j1"), "1", ttl);
        store.set(&sub_key("alice"), "1700000000", ttl);
        store.set(&sid_key("s1"), "1", ttl);
        let after = lookups(&store);
        assert!(after.jti_revoked);
        assert!(after.session_revoked);
        assert_eq!(after.subject_not_before, Some(1_700_000_000));
    }
}
