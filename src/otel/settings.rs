//! `[tracing]` validated: where spans go, how many are recorded, how they
//! are batched. No `otlp_endpoint`, no export (and no cost).

use crate::config::diag::Diag;
use crate::config::tracing_file::TracingFile;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub endpoint: http::Uri,
    pub ca: Option<PathBuf>,
    pub service_name: String,
    pub sampling_ratio: f64,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_queue: usize,
}

/// The OTLP/HTTP path for traces, added to an endpoint given without one.
const TRACES_PATH: &str = "/v1/traces";

pub fn export(d: &mut Diag<'_>, t: &TracingFile) -> Option<Export> {
    let set = t.otlp_ca.is_some()
        || t.service_name.is_some()
        || t.sampling_ratio.is_some()
        || t.export_interval.is_some()
        || t.export_timeout.is_some()
        || t.max_queue.is_some();
    let Some(text) = &t.otlp_endpoint else {
        if set {
            d.push(
                "tracing.otlp_endpoint",
                "missing: the other [tracing] keys need an endpoint to export to",
            );
        }
        return None;
    };
    let endpoint = endpoint(d, text)?;
    let sampling_ratio = t.sampling_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sampling_ratio) {
        d.push(
            "tracing.sampling_ratio",
            format!("{sampling_ratio} is not between 0.0 and 1.0"),
        );
    }
    let service_name = t.service_name.clone().unwrap_or_else(|| "sealgate".into());
    if service_name.is_empty() || service_name.len() > 255 {
        d.push("tracing.service_name", "must be 1 to 255 characters");
    }
    let max_queue = t.max_queue.unwrap_or(2048);
    if !(1..=1_000_000).contains(&max_queue) {
        d.push("tracing.max_queue", "must be between 1 and 1000000");
    }
    let interval = d.duration(
        "tracing.export_interval",
        t.export_interval.as_ref(),
        Duration::from_secs(5),
    );
    let timeout = d.duration(
        "tracing.export_timeout",
        t.export_timeout.as_ref(),
        Duration::from_secs(10),
    );
    for (key, v) in [
        ("tracing.export_interval", interval),
        ("tracing.export_timeout", timeout),
    ] {
        if v.is_zero() {
            d.push(key, "must be longer than zero");
        }
    }
    Some(Export {
        endpoint,
        ca: t.otlp_ca.as_ref().map(|p| d.path(p)),
        service_name,
        sampling_ratio,
        interval,
        timeout,
        max_queue,
    })
}

/// `http://` or `https://` with a host; a bare origin gets `/v1/traces`.
fn endpoint(d: &mut Diag<'_>, text: &str) -> Option<http::Uri> {
    let key = "tracing.otlp_endpoint";
    let uri: http::Uri = match text.parse() {
        Ok(u) => u,
        Err(_) => {
            d.push(key, format!("{text:?} is not a URL"));
            return None;
        }
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        d.push(
            key,
            format!("{text:?} must be an http:// or https:// URL with a host"),
        );
        return None;
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        // It would be logged; collectors take credentials as headers.
        d.push(key, "must not carry a user or password");
        return None;
    }
    if uri.path() != "/" {
        return Some(uri);
    }
    let with_path = format!("{}{TRACES_PATH}", text.trim_end_matches('/'));
    match with_path.parse() {
        Ok(u) => Some(u),
        Err(_) => {
            d.push(key, format!("{text:?} is not a URL"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;

    fn file(endpoint: Option<&str>, ratio: Option<f64>) -> TracingFile {
        TracingFile {
            otlp_endpoint: endpoint.map(str::to_string),
            sampling_ratio: ratio,
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_origin_gets_the_traces_path_and_defaults() {
        let mut got = None;
        let errors = errors_of(|d| got = export(d, &file(Some("http://collector:4318"), None)));
        assert!(errors.is_empty(), "{errors:?}");
        let e = got.unwrap();
        assert_eq!(e.endpoint, "http://collector:4318/v1/traces");
        assert_eq!((e.sampling_ratio, e.max_queue), (1.0, 2048));
        assert_eq!(e.service_name, "sealgate");
        let mut got = None;
        errors_of(|d| got = export(d, &file(Some("https://c.example/otlp/traces"), Some(0.25))));
        assert_eq!(got.unwrap().endpoint, "https://c.example/otlp/traces");
    }

    #[test]
    fn bad_endpoints_ratios_and_orphan_keys_are_named() {
        for (f, key) in [
            (file(Some("ftp://c:1/"), None), "tracing.otlp_endpoint"),
            (file(Some("not a url"), None), "tracing.otlp_endpoint"),
            (
                file(Some("http://u:p@c:4318/"), None),
                "tracing.otlp_endpoint",
            ),
            (
                file(Some("http://c:4318"), Some(1.5)),
                "tracing.sampling_ratio",
            ),
            (file(None, Some(0.5)), "tracing.otlp_endpoint"),
        ] {
            assert_eq!(
                errors_of(|d| {
                    export(d, &f);
                }),
                [key]
            );
        }
        assert!(errors_of(|d| assert!(export(d, &file(None, None)).is_none())).is_empty());
    }
}
