//! The Grafana dashboard (deploy/grafana/sealgate.json) queries only metrics
//! the binary registers: every `sealgate_*` name in a panel's PromQL must
//! already be taken in a fresh registry (registering it again fails). Its
//! PromQL syntax is checked by promtool in scripts/check-alerts.sh.

use std::collections::BTreeSet;

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/sealgate.json");

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("expr", Some(e)) => out.push(e.to_string()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| exprs(i, out)),
        _ => {}
    }
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("sealgate_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// Whether the gateway's registry already has `name` (a histogram's series
/// are named after it with `_bucket`, `_sum` and `_count`).
fn registered(metrics: &sealgate::metrics::Metrics, name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    let probe = prometheus::Gauge::new(base, "probe").unwrap();
    metrics.registry.register(Box::new(probe)).is_err()
}

#[test]
fn every_panel_queries_exported_metrics() {
    let text = std::fs::read_to_string(DASHBOARD).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    exprs(&dashboard["panels"], &mut all);
    assert!(all.len() >= 30, "{} queries", all.len());
    let metrics = sealgate::metrics::Metrics::new().unwrap();
    let mut used = BTreeSet::new();
    for e in &all {
        for name in metric_names(e) {
            assert!(
                registered(&metrics, &name),
                "{name} (in {e}) is not exported"
            );
            used.insert(name);
        }
    }
    // The list: each of these families has a panel.
    for family in [
        "sealgate_requests_total",
        "sealgate_request_duration_seconds_bucket",
        "sealgate_auth_failures_total",
        "sealgate_token_cache_total",
        "sealgate_jwks_fetches_total",
        "sealgate_jwks_keys",
        "sealgate_store_errors_total",
        "sealgate_store_duration_seconds_bucket",
        "sealgate_envelope_failures_total",
        "sealgate_upstream_errors_total",
        "sealgate_tls_handshake_failures_total",
        "sealgate_config_reloads_total",
        "sealgate_ready",
    ] {
        assert!(used.contains(family), "no panel shows {family}");
    }
    // And the probe itself can fail: a name nobody registered is free.
    assert!(!registered(&metrics, "sealgate_no_such_metric_total"));
}
