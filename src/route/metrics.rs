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
/// `method_label`'s values, in the order `method_index` numbers them.
const METHODS: usize = 8;
/// `status_class`'s values: 1xx..5xx.
const CLASSES: usize = 5;

pub struct RouteMetrics {
    requests: IntCounterVec,
    /// `sealgate_requests_total{route, method, status_class, outcome}`, one
    /// slot per label combination, filled on its first request.
    counters: Box<[OnceLock<IntCounter>]>,
    /// `sealgate_request_duration_seconds{route}`.
    duration: Histogram,
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteMetrics")
    }
}

impl RouteMetrics {
    pub fn new(metrics: &Metrics, route: &str) -> RouteMetrics {
        let slots = METHODS * CLASSES * OUTCOMES.len();
        RouteMetrics {
            requests: metrics.requests.clone(),
            counters: (0..slots).map(|_| OnceLock::new()).collect(),
            duration: metrics.request_duration.with_label_values(&[route]),
        }
    }

    /// Counts one finished request of route `route` (this route's name).
    pub fn finished(
        &self,
        route: &str,
        method: &http::Method,
        status: http::StatusCode,
        outcome: &str,
        seconds: f64,
    ) {
        self.duration.observe(seconds);
        let (method, class) = (method_label(method), status_class(status));
        let Some(o) = OUTCOMES.iter().position(|&k| k == outcome) else {
            let labels = [route, method, class, outcome];
            return self.requests.with_label_values(&labels).inc();
        };
        let m = method_index(method);
        let c = usize::from(status.as_u16().clamp(100, 599) / 100 - 1);
        let slot = (m * CLASSES + c) * OUTCOMES.len() + o;
        match self.counters.get(slot) {
            Some(cell) => cell
                .get_or_init(|| {
                    self.requests
                        .with_label_values(&[route, method, class, outcome])
                })
                .inc(),
            None => self
                .requests
                .with_label_values(&[route, method, class, outcome])
                .inc(),
        }
    }
}

fn method_index(label: &str) -> usize {
    match label {
        "GET" => 0,
        "POST" => 1,
        "PUT" => 2,
        "DELETE" => 3,
        "PATCH" => 4,
        "HEAD" => 5,
        "OPTIONS" => 6,
        _ => 7,
    }
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
        r.finished("api", &Method::GET, StatusCode::OK, "forwarded", 0.01);
        r.finished("api", &Method::GET, StatusCode::OK, "forwarded", 0.01);
        r.finished(
            "api",
            &Method::POST,
            StatusCode::UNAUTHORIZED,
            "rejected",
            0.01,
        );
        r.finished(
            "api",
            &Method::from_bytes(b"PURGE").unwrap(),
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            0.0,
        );
        r.finished("api", &Method::HEAD, StatusCode::NO_CONTENT, "unusual", 0.0);
        assert_eq!(count(&m, &["api", "GET", "2xx", "forwarded"]), 2);
        assert_eq!(count(&m, &["api", "POST", "4xx", "rejected"]), 1);
        assert_eq!(count(&m, &["api", "OTHER", "5xx", "upstream_error"]), 1);
        assert_eq!(count(&m, &["api", "HEAD", "2xx", "unusual"]), 1);
        assert_eq!(count(&m, &["api", "GET", "4xx", "forwarded"]), 0);
        let h = m.request_duration.with_label_values(&["api"]);
        assert_eq!(h.get_sample_count(), 5);
    }

    #[test]
    fn every_label_maps_to_its_own_slot() {
        let methods = [
            "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
        ];
        let idx: Vec<usize> = methods.iter().map(|m| method_index(m)).collect();
        assert_eq!(idx, (0..METHODS).collect::<Vec<_>>());
    }
}
