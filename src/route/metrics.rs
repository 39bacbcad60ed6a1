//! A route's request metrics, resolved when the route table is built rather
//! than per request. `with_label_values` hashes every label value and takes
//! the metric vector's lock, a cache line every serving worker writes on
//! every request; with the handles held here a request only adds to its
//! series. A route's duration series now exists (empty) from the start; its
//! request counters still appear on their first request.

use crate::metrics::{method_label, status_class, Metrics};
use prometheus::{Histogram, IntCounter, IntCounterVec};
use std::sync::OnceLock;

/// The `outcome` label values the access record sets; any other falls back
/// to a lookup.
const OUTCOMES: [&str; 4] = ["forwarded", "rejected", "upstream_error", "allowed"];
/// `method_label`'s values; a slot's method is its position here.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];
/// `status_class`'s values; a slot's class is its position here.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

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
        let slots = METHODS.len() * CLASSES.len() * OUTCOMES.len();
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
        let (method, class) = (method_label(method), status_class(status));
        let labels = [&*self.route, method, class, outcome];
        match slot(method, class, outcome).and_then(|i| self.counters.get(i)) {
            Some(cell) => cell
                .get_or_init(|| self.requests.with_label_values(&labels))
                .inc(),
            None => self.requests.with_label_values(&labels).inc(),
        }
    }
}

/// The slot of a label combination, from the labels themselves (so a new
/// class or method label can never share a slot with another): None for a
/// label outside the tables.
fn slot(method: &str, class: &str, outcome: &str) -> Option<usize> {
    let m = METHODS.iter().position(|&k| k == method)?;
    let c = CLASSES.iter().position(|&k| k == class)?;
    let o = OUTCOMES.iter().position(|&k| k == outcome)?;
    Some((m * CLASSES.len() + c) * OUTCOMES.len() + o)
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
        for m in METHODS {
            for c in CLASSES {
                for o in OUTCOMES {
                    let i = slot(m, c, o).unwrap();
                    assert!(i < METHODS.len() * CLASSES.len() * OUTCOMES.len());
                    assert!(seen.insert(i), "{m} {c} {o} shares slot {i}");
                }
            }
        }
        assert_eq!(slot("GET", "2xx", "unusual"), None);
        // Every label the metrics module gives has a slot.
        for code in [100, 204, 399, 404, 599, 600, 999] {
            let class = status_class(http::StatusCode::from_u16(code).unwrap());
            assert!(slot("GET", class, "forwarded").is_some(), "{code}");
        }
        for m in ["GET", "PURGE", "OPTIONS", "CONNECT", "TRACE"] {
            let label = method_label(&http::Method::from_bytes(m.as_bytes()).unwrap());
            assert!(slot(label, "2xx", "forwarded").is_some(), "{m}");
        }
    }
}
