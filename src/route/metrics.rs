//! A route's request metrics, resolved when the route table is built rather
//! than per request. `with_label_values` hashes every label value and takes
//! the metric vector's lock, a cache line every serving worker writes on
//! every request; with the handles held here a request only adds to its
//! series. A route's duration series now exists (empty) from the start; its
//! request counters still appear on their first request.

use crate::metrics::{method_index, status_class_index, Metrics, METHOD_LABELS, STATUS_CLASSES};
use prometheus::{Histogram, IntCounter, IntCounterVec};
use std::sync::OnceLock;

/// The `outcome` label values the access record sets; any other falls back
/// to a lookup.
const OUTCOMES: [&str; 4] = ["forwarded", "rejected", "upstream_error", "allowed"];
const METHODS: usize = METHOD_LABELS.len();
const CLASSES: usize = STATUS_CLASSES.len();

pub struct RouteMetrics {
    /// The route's name: the `route` label of every series here.
    route: Box<str>,
    requests: IntCounterVec,
    /// `sealgate_requests_total{route, method, status_class, outcome}`, one
    /// slot per label combination, filled on its first request.
    counters: Box<[OnceLock<IntCounter>]>,
    /// `sealgate_request_duration_seconds{route}`.
    duration: Histogram,
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMetrics")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RouteMetrics {
    pub fn new(metrics: &Metrics, route: &str) -> RouteMetrics {
        let slots = METHODS * CLASSES * OUTCOMES.len();
        RouteMetrics {
            route: route.into(),
            requests: metrics.requests.clone(),
            counters: (0..slots).map(|_| OnceLock::new()).collect(),
            duration: metrics.request_duration.with_label_values(&[route]),
        }
    }

    /// Counts one finished request of this route.
    pub fn finished(
        &self,
        method: &http::Method,
        status: http::StatusCode,
        outcome: &str,
        seconds: f64,
    ) {
        self.duration.observe(seconds);
        let (m, c) = (method_index(method), status_class_index(status));
        let labels = || [&*self.route, METHOD_LABELS[m], STATUS_CLASSES[c], outcome];
        match slot(m, c, outcome).and_then(|i| self.counters.get(i)) {
            Some(cell) => cell
                .get_or_init(|| self.requests.with_label_values(&labels()))
                .inc(),
            None => self.requests.with_label_values(&labels()).inc(),
        }
    }
}

/// The slot of a label combination, from the metrics module's own label
/// numbering (so no two combinations share one); None for an outcome
/// outside [`OUTCOMES`].
fn slot(method: usize, class: usize, outcome: &str) -> Option<usize> {
    let o = OUTCOMES.iter().position(|&k| k == outcome)?;
    Some((method * CLASSES + class) * OUTCOMES.len() + o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, StatusCode};

    fn count(m: &Metrics, labels: &[&str]) -> u64 {
        m.requests.with_label_values(labels).get()
    }

    #[test]
    fn counts_land_in_the_series_a_lookup_would_find() {
        let m = Metrics::new().unwrap();
        let r = RouteMetrics::new(&m, "api");
        r.finished(&Method::GET, StatusCode::OK, "forwarded", 0.01);
        r.finished(&Method::GET, StatusCode::OK, "forwarded", 0.01);
        r.finished(&Method::POST, StatusCode::UNAUTHORIZED, "rejected", 0.01);
        r.finished(
            &Method::from_bytes(b"PURGE").unwrap(),
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            0.0,
        );
        r.finished(&Method::HEAD, StatusCode::NO_CONTENT, "unusual", 0.0);
        assert_eq!(count(&m, &["api", "GET", "2xx", "forwarded"]), 2);
        assert_eq!(count(&m, &["api", "POST", "4xx", "rejected"]), 1);
        assert_eq!(count(&m, &["api", "OTHER", "5xx", "upstream_error"]), 1);
        assert_eq!(count(&m, &["api", "HEAD", "2xx", "unusual"]), 1);
        assert_eq!(count(&m, &["api", "GET", "4xx", "forwarded"]), 0);
        let h = m.request_duration.with_label_values(&["api"]);
        assert_eq!(h.get_sample_count(), 5);
    }

    #[test]
    fn every_label_combination_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for m in 0..METHODS {
            for c in 0..CLASSES {
                for o in OUTCOMES {
                    let i = slot(m, c, o).unwrap();
                    assert!(i < METHODS * CLASSES * OUTCOMES.len());
                    assert!(seen.insert(i), "{m} {c} {o} shares slot {i}");
                }
            }
        }
        assert_eq!(slot(0, 1, "unusual"), None);
    }

    #[test]
    fn label_numbering_matches_the_labels() {
        for code in [100, 204, 399, 404, 599, 600, 999] {
            let s = StatusCode::from_u16(code).unwrap();
            let class = crate::metrics::status_class(s);
            assert_eq!(STATUS_CLASSES[status_class_index(s)], class, "{code}");
            let hundreds = (code.min(599) / 100).to_string();
            assert_eq!(class[..1], hundreds, "{code}");
        }
        for m in [
            "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PURGE", "TRACE",
        ] {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            let label = crate::metrics::method_label(&method);
            assert_eq!(
                label,
                if m == "PURGE" || m == "TRACE" {
                    "OTHER"
                } else {
                    m
                }
            );
            assert_eq!(METHOD_LABELS[method_index(&method)], label);
        }
    }
}
