//! Whether the introspection endpoint is answering, for `/readyz`. With no
//! cached keys to fall back on, an endpoint that fails means new tokens
//! cannot be checked, so readiness says so; it says so only while failures
//! are recent (a window after the last one), so an idle replica that is
//! taken out of rotation comes back and can find out that the IdP recovered.

use crate::authn::kind::unix_now;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long after the last failed call readiness reports the endpoint down.
const WINDOW_SECS: u64 = 10;

#[derive(Default)]
pub(super) struct Health {
    last_failure: AtomicU64,
    last_success: AtomicU64,
}

impl Health {
    pub(super) fn record(&self, ok: bool) {
        let slot = if ok {
            &self.last_success
        } else {
            &self.last_failure
        };
        slot.store(unix_now(), Ordering::Relaxed);
    }

    /// Seconds since the last failure, when that failure is the latest outcome and recent.
    pub(super) fn failing_for(&self, now: u64) -> Option<u64> {
        let failure = self.last_failure.load(Ordering::Relaxed);
        let success = self.last_success.load(Ordering::Relaxed);
        let since = now.saturating_sub(failure);
        (failure != 0 && failure >= success && since <= WINDOW_SECS).then_some(since)
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
        assert_eq!(h.failing_for(unix_now()), Some(0));
        assert_eq!(
            h.failing_for(unix_now() + WINDOW_SECS + 1),
            None,
            "the window ends"
        );
        h.last_success.store(unix_now() + 1, Ordering::Relaxed);
        assert_eq!(h.failing_for(unix_now()), None, "a later success clears it");
    }
}
