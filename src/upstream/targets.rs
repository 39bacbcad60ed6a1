//! Round-robin over an upstream's targets with passive ejection: a target that
//! fails `eject_after` times in a row (connect errors, timeouts) is skipped for
//! `eject_for`. When every target is ejected the rotation ignores ejection
//! rather than failing everything (Envoy's panic threshold at 100%).

use http::uri::{Authority, Scheme};
use http::HeaderValue;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Target {
    pub scheme: Scheme,
    pub authority: Authority,
    /// `scheme://authority/`: where the connector dials.
    pub origin: http::Uri,
    /// The `Host` an HTTP/1.1 request carries unless it keeps the client's:
    /// the authority without the scheme's default port.
    pub host: HeaderValue,
    failures: AtomicU32,
    /// Milliseconds since `Targets::epoch` until which the target is skipped.
    ejected_until: AtomicU64,
}

#[derive(Debug)]
pub struct Targets {
    targets: Vec<Target>,
    next: AtomicUsize,
    epoch: Instant,
    eject_after: u32,
    eject_for: Duration,
}

impl Targets {
    pub fn new(uris: &[http::Uri], eject_after: u32, eject_for: Duration) -> Targets {
        Targets {
            targets: uris
                .iter()
                .filter_map(|u| {
                    let (scheme, authority) = (u.scheme()?, u.authority()?);
                    Some(Target {
                        origin: http::Uri::from_parts(origin(scheme, authority)).ok()?,
                        host: host(scheme, authority)?,
                        scheme: scheme.clone(),
                        authority: authority.clone(),
                        failures: AtomicU32::new(0),
                        ejected_until: AtomicU64::new(0),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            eject_after,
            eject_for,
        }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next healthy target, or the next one at all when none is healthy.
    pub fn pick(&self) -> Option<(usize, &Target)> {
        let n = self.targets.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.targets[i].ejected_until.load(Ordering::Relaxed) <= now)
            .or(Some(start % n))
            .map(|i| (i, &self.targets[i]))
    }

    pub fn success(&self, index: usize) {
        if let Some(t) = self.targets.get(index) {
            if t.failures.load(Ordering::Relaxed) != 0 {
                t.failures.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Records a failure; returns true when this failure ejected the target.
    pub fn failure(&self, index: usize) -> bool {
        let Some(t) = self.targets.get(index) else {
            return false;
        };
        let failures = t.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.eject_after {
            t.failures.store(0, Ordering::Relaxed);
            let until =
                self.now_ms() + u64::try_from(self.eject_for.as_millis()).unwrap_or(u64::MAX / 2);
            t.ejected_until.store(until, Ordering::Relaxed);
            return true;
        }
        false
    }
}

fn origin(scheme: &Scheme, authority: &Authority) -> http::uri::Parts {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    parts
}

/// Host and port only: never the authority's userinfo.
fn host(scheme: &Scheme, authority: &Authority) -> Option<HeaderValue> {
    let default = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    let host = match authority.port_u16() {
        Some(port) if port != default => format!("{}:{port}", authority.host()),
        _ => authority.host().to_string(),
    };
    HeaderValue::from_str(&host).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        let uris: Vec<http::Uri> = ["http://a:1", "http://b:2"]
            .iter()
            .map(|u| u.parse().unwrap())
            .collect();
        Targets::new(&uris, 2, Duration::from_secs(60))
    }

    #[test]
    fn round_robin_and_ejection() {
        let t = targets();
        let picks: Vec<usize> = (0..4).map(|_| t.pick().unwrap().0).collect();
        assert_eq!(picks, [0, 1, 0, 1]);
        assert!(!t.failure(0));
        assert!(t.failure(0));
        let picks: Vec<usize> = (0..4).map(|_| t.pick().unwrap().0).collect();
        assert_eq!(picks, [1, 1, 1, 1]);
        // All ejected: still answers rather than failing closed on every request.
        t.failure(1);
        t.failure(1);
        assert!(t.pick().is_some());
    }

    #[test]
    fn host_drops_only_the_schemes_default_port() {
        let hosts: Vec<String> = [
            "http://a:80",
            "https://b:443",
            "http://c:443",
            "https://[::1]:8443",
            "https://d",
            "http://user:secret@e:8080",
        ]
        .iter()
        .map(|u| u.parse::<http::Uri>().unwrap())
        .map(|u| {
            Targets::new(&[u], 1, Duration::ZERO).targets[0]
                .host
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
        assert_eq!(hosts, ["a", "b", "c:443", "[::1]:8443", "d", "e:8080"]);
    }

    #[test]
    fn success_resets_the_streak() {
        let t = targets();
        t.failure(0);
        t.success(0);
        assert!(!t.failure(0));
    }
}
