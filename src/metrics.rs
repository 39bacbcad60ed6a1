//! The Prometheus registry and every metric the gateway exports.
//!
//! Label values are bounded: route and upstream names come from configuration,
//! reasons and kinds from fixed enums. Never paths, subjects or tokens.

use prometheus::{
    exponential_buckets, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub upstream_errors: IntCounterVec,
    pub rejections: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub active_connections: IntGaugeVec,
    pub connections_refused: IntCounterVec,
    pub connections_closed: IntCounterVec,
    pub tls_handshake_failures: IntCounterVec,
    pub tls_handshakes: IntCounterVec,
    pub config_reloads: IntCounterVec,
    pub config_last_reload_success: Gauge,
    pub build_info: IntGaugeVec,
    pub ready: prometheus::IntGauge,
    pub jwks_fetches: IntCounterVec,
    pub introspections: IntCounterVec,
    pub issuer_requests: IntCounterVec,
    pub jwks_keys: IntGaugeVec,
    pub token_cache: IntCounterVec,
    pub store_errors: IntCounterVec,
    pub store_duration: HistogramVec,
    /// `store_duration{op="batch"}`, resolved once (so the series exists,
    /// empty, from start-up): an authenticated request's admission runs a
    /// batch whenever it has anything to check.
    pub store_batch_duration: prometheus::Histogram,
    pub rate_limited: IntCounterVec,
    pub envelope_failures: IntCounterVec,
    pub sealed_requests: IntCounterVec,
    pub envelope_open: prometheus::Histogram,
    pub upgraded: crate::relay::RelayMetrics,
    pub traced_requests: IntCounterVec,
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<HistogramVec> {
    // 100us .. ~13s: gateway overhead is sub-millisecond, upstreams are not.
    let buckets = exponential_buckets(0.0001, 2.5, 14)?;
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

impl Metrics {
    pub fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let active_connections = IntGaugeVec::new(
            Opts::new(
                "sealgate_active_connections",
                "Open downstream connections, by listener.",
            ),
            &["listener"],
        )?;
        r.register(Box::new(active_connections.clone()))?;
        let config_last_reload_success = Gauge::new(
            "sealgate_config_last_reload_success_timestamp_seconds",
            "Unix time of the last configuration that was loaded successfully.",
        )?;
        r.register(Box::new(config_last_reload_success.clone()))?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "sealgate_build_info",
                "Always 1; labelled with the version.",
            ),
            &["version"],
        )?;
        r.register(Box::new(build_info.clone()))?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let ready =
            prometheus::IntGauge::new("sealgate_ready", "1 when /readyz answers 200, else 0.")?;
        r.register(Box::new(ready.clone()))?;
        let jwks_keys = IntGaugeVec::new(
            Opts::new(
                "sealgate_jwks_keys",
                "Signing keys currently loaded from a remote JWKS, by authenticator.",
            ),
            &["authenticator"],
        )?;
        r.register(Box::new(jwks_keys.clone()))?;
        let store_duration = histogram(
            &r,
            "sealgate_store_duration_seconds",
            "State store round trips, by op (batch, set, delete, scan).",
            &["op"],
        )?;
        Ok(Metrics {
            requests: counter(
                &r,
                "sealgate_requests_total",
                "Requests answered, by route, method, status class and outcome (forwarded, rejected, upstream_error).",
                &["route", "method", "status_class", "outcome"],
            )?,
            request_duration: histogram(
                &r,
                "sealgate_request_duration_seconds",
                "Time from request head to the end of the response body, by route.",
                &["route"],
            )?,
            upstream_duration: histogram(
                &r,
                "sealgate_upstream_duration_seconds",
                "Time until the upstream's response head arrived, by upstream.",
                &["upstream"],
            )?,
            upstream_errors: counter(
                &r,
                "sealgate_upstream_errors_total",
                "Failed upstream exchanges, by upstream and kind (connect, timeout, protocol, read_timeout, and the refused answers).",
                &["upstream", "kind"],
            )?,
            rejections: counter(
                &r,
                "sealgate_rejections_total",
                "Requests the gateway refused before reaching an upstream, by route and reason.",
                &["route", "reason"],
            )?,
            auth_failures: counter(
                &r,
                "sealgate_auth_failures_total",
                "Authentication and authorization failures, by route and reason.",
                &["route", "reason"],
            )?,
            tls_handshake_failures: counter(
                &r,
                "sealgate_tls_handshake_failures_total",
                "TLS handshakes that failed, by reason.",
                &["reason"],
            )?,
            tls_handshakes: counter(
                &r,
                "sealgate_tls_handshakes_total",
                "Completed TLS handshakes by direction (inbound, outbound), negotiated key exchange group and protocol version.",
                &["direction", "group", "version"],
            )?,
            config_reloads: counter(
                &r,
                "sealgate_config_reloads_total",
                "Configuration loads and reloads, by result (success, failure).",
                &["result"],
            )?,
            active_connections,
            config_last_reload_success,
            build_info,
            ready,
            jwks_keys,
            jwks_fetches: counter(
                &r,
                "sealgate_jwks_fetches_total",
                "JWKS/discovery fetches, by authenticator and result (success, failure).",
                &["authenticator", "result"],
            )?,
            introspections: counter(
                &r,
                "sealgate_introspection_requests_total",
                "RFC 7662 introspection calls, by authenticator and result (active, inactive, refused: active but unacceptable, error).",
                &["authenticator", "result"],
            )?,
            connections_refused: counter(
                &r,
                "sealgate_connections_refused_total",
                "Connections closed on accept, by reason (max_connections, max_connections_per_ip), accept errors (accept_error), and sockets that could not move to a serving thread (handover_failed).",
                &["reason"],
            )?,
            connections_closed: counter(
                &r,
                "sealgate_connections_closed_total",
                "Connections the gateway closed, by reason (idle: no request in flight for listen.idle_timeout).",
                &["reason"],
            )?,
            issuer_requests: counter(
                &r,
                "sealgate_issuer_requests_total",
                "Token endpoint requests, by endpoint (token, revoke, logout) and outcome (a grant type issued, or the refusal reason: invalid_credentials, refresh_reused, ...).",
                &["endpoint", "outcome"],
            )?,
            token_cache: counter(
                &r,
                "sealgate_token_cache_total",
                "Verified-token cache lookups, by authenticator and result (hit; miss, which verifies; rejected_hit, a token refused within the last 60 s against the same keys).",
                &["authenticator", "result"],
            )?,
            store_errors: counter(
                &r,
                "sealgate_store_errors_total",
                "State store operations that failed (unreachable, timeout), by op.",
                &["op"],
            )?,
            store_batch_duration: store_duration.with_label_values(&["batch"]),
            store_duration,
            rate_limited: counter(
                &r,
                "sealgate_rate_limited_total",
                "Requests refused with 429, by route and limit (route, failed_auth).",
                &["route", "limit"],
            )?,
            envelope_failures: counter(
                &r,
                "sealgate_envelope_failures_total",
                "Oblivious HTTP envelopes refused before opening, by reason.",
                &["reason"],
            )?,
            sealed_requests: counter(
                &r,
                "sealgate_sealed_requests_total",
                "Opened Oblivious HTTP requests, by the inner response's status class.",
                &["status_class"],
            )?,
            envelope_open: {
                let h = prometheus::Histogram::with_opts(
                    HistogramOpts::new("sealgate_envelope_open_seconds", "Time to decapsulate an Oblivious HTTP request.")
                        .buckets(exponential_buckets(0.00001, 2.5, 12)?),
                )?;
                r.register(Box::new(h.clone()))?;
                h
            },
            upgraded: crate::relay::RelayMetrics::register(&r)?,
            traced_requests: counter(
                &r,
                "sealgate_traced_requests_total",
                "Sampled requests whose spans were exported, failed to export, or were dropped on a full queue ([tracing]).",
                &["result"],
            )?,
            registry: r,
        })
    }

    /// Renders the registry in the Prometheus text format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail except on invalid metric data, which we never build.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// `method_label`'s values, in the order `method_index` numbers them.
pub const METHOD_LABELS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER",
];
/// `status_class`'s values, in the order `status_class_index` numbers them.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A bounded label for an HTTP method.
pub fn method_label(m: &http::Method) -> &'static str {
    METHOD_LABELS[method_index(m)]
}

/// The position of `m`'s label in [`METHOD_LABELS`].
pub fn method_index(m: &http::Method) -> usize {
    match *m {
        http::Method::GET => 0,
        http::Method::POST => 1,
        http::Method::PUT => 2,
        http::Method::DELETE => 3,
        http::Method::PATCH => 4,
        http::Method::HEAD => 5,
        http::Method::OPTIONS => 6,
        _ => 7,
    }
}

pub fn status_class(status: http::StatusCode) -> &'static str {
    STATUS_CLASSES[status_class_index(status)]
}

/// The position of `status`'s class in [`STATUS_CLASSES`].
pub fn status_class_index(status: http::StatusCode) -> usize {
    match status.as_u16() {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}
