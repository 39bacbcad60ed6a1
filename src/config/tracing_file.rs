//! `[tracing]` as written: OpenTelemetry span export.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingFile {
    /// OTLP/HTTP traces endpoint, e.g. "http://otel-collector:4318/v1/traces";
    /// no endpoint, no export.
    pub otlp_endpoint: Option<String>,
    /// PEM bundle trusted for an https endpoint instead of the system roots.
    pub otlp_ca: Option<String>,
    /// `service.name` of the exported spans (default "sealgate").
    pub service_name: Option<String>,
    /// Share of new traces recorded, 0.0 to 1.0 (default 1.0); a continued
    /// trace follows its caller's `sampled` flag.
    pub sampling_ratio: Option<f64>,
    /// How often queued spans are sent (default "5s").
    pub export_interval: Option<String>,
    /// The longest one export may take (default "10s").
    pub export_timeout: Option<String>,
    /// Requests' spans waiting for export at most; more are dropped and
    /// counted (default 2048).
    pub max_queue: Option<usize>,
}
