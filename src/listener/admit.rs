//! Connection admission and idleness. A listener takes at most
//! `listen.max_connections` connections, and `listen.max_connections_per_ip`
//! from one client address (peers in `trusted_proxies` are exempt: a load
//! balancer carries many clients); a connection past either limit is closed
//! at once and counted. A connection with no request in flight for
//! `listen.idle_timeout` is closed: that covers keep-alive idling, an HTTP/2
//! preface with no request, and a header block never finished.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The open connections, in all and per client address.
#[derive(Default)]
pub struct Admission {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused (a metric label).
pub type Refused = &'static str;

impl Admission {
    /// A slot for a connection from `ip`, or why there is none.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        max: usize,
        max_per_ip: Option<usize>,
    ) -> Result<Slot, Refused> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= max {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err("max_connections");
        }
        let ip = ip.to_canonical();
        if let Some(limit) = max_per_ip {
            let Ok(mut map) = self.per_ip.lock() else {
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err("max_connections");
            };
            let n = map.entry(ip).or_insert(0);
            if *n >= limit {
                drop(map);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err("max_connections_per_ip");
            }
            *n += 1;
        }
        Ok(Slot {
            admission: self.clone(),
            ip: max_per_ip.map(|_| ip),
        })
    }
}

/// A connection's place; released when the connection ends.
pub struct Slot {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.total.fetch_sub(1, Ordering::AcqRel);
        let Some(ip) = self.ip else { return };
        if let Ok(mut map) = self.admission.per_ip.lock() {
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
pub struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `started` when the connection last went quiet.
    quiet_since: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            quiet_since: AtomicU64::new(0),
        })
    }

    /// A request began; the guard ends it (hold it until the response body is done).
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `limit`.
    pub async fn idle(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            let now = self.elapsed_ms();
            let quiet = self.quiet_since.load(Ordering::Acquire);
            let busy = self.in_flight.load(Ordering::Acquire) > 0;
            let wait = match (busy, now.saturating_sub(quiet)) {
                (false, q) if q >= limit_ms => return,
                (false, q) => limit_ms - q,
                (true, _) => limit_ms,
            };
            tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// One request in flight.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        a.quiet_since.store(a.elapsed_ms(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_in_all_and_per_address() {
        let a = Arc::new(Admission::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = a.admit(ip, 3, Some(2)).unwrap();
        let _s2 = a.admit(ip, 3, Some(2)).unwrap();
        assert_eq!(
            a.admit(ip, 3, Some(2)).err(),
            Some("max_connections_per_ip")
        );
        let _s3 = a.admit(other, 3, Some(2)).unwrap();
        assert_eq!(a.admit(other, 3, Some(2)).err(), Some("max_connections"));
        drop(s1);
        assert!(
            a.admit(ip, 3, Some(2)).is_ok(),
            "a closed connection frees its slot"
        );
        assert!(
            a.admit(ip, 10, None).is_ok(),
            "exempt peers have no per-address cap"
        );
    }
}
