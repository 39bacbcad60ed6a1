//! Whether the introspection endpoint is answering, for `/readyz`. With no
//! cached keys to fall back on, an endpoint that fails means new tokens
//! cannot be checked, so readiness says so; it says so only while failures
//! are recent (a window after the last one), so an idle replica that is
//! taken out of rotation comes back and can find out that the IdP recovered,
//! and only after several failures in a row, so one client's odd token that
//! the endpoint chokes on cannot take replicas out of rotation.

use crate::authn::kind::unix_now;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// How long after the last failed call readiness reports the endpoint down.
const WINDOW_SECS: u64 = 10;
/// Failed calls in a row before readiness reports the endpoint down.
const IN_A_ROW: u32 = 3;

#[derive(Default)]
pub(super) struct Health {
    last_failure: AtomicU64,
    last_success: AtomicU64,
    in_a_row: AtomicU32,
}

impl Health {
    pub(super) fn record(&self, ok: bool) {
        let slot = if ok {
            &self.last_success
        } else {
            &self.last_failure
        };
        slot.store(unix_now(), Ordering::Relaxed);
        if ok {
            self.in_a_row.store(0, Ordering::Relaxed);
        } else {
            self.in_a_row.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Seconds since the last failure, when that failure is the latest outcome and recent.
    pub(super) fn failing_for(&self, now: u64) -> Option<u64> {
        let failure = self.last_failure.load(Ordering::Relaxed);
        let success = self.last_success.load(Ordering::Relaxed);
        let since = now.saturating_sub(failure);
        let sustained = self.in_a_row.load(Ordering::Relaxed) >= IN_A_ROW;
        (sustained && failure >= success && since <= WINDOW_SECS).then_some(since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recent_latest_failure_is_reported() {
        let h = Health::default();
        assert_eq!(h.failing_for(unix_now()), None);
        h.record(false);
        h.record(false);
        assert_eq!(
            h.failing_for(unix_now()),
            None,
            "two failures are not an outage"
        );
        h.record(false);
        assert_eq!(h.failing_for(unix_now()), Some(0));
        assert_eq!(
            h.failing_for(unix_now() + WINDOW_SECS + 1),
            None,
            "the window ends"
        );
        h.record(true);
        h.record(false);
        assert_eq!(
            h.failing_for(unix_now()),
            None,
            "a success restarts the count"
        );
    }
}
