//! What one sampled request records as it passes the phases (a few
//! instants and labels, no allocation per step), and the OTLP spans made
//! of it once it has ended: the server span, with children for
//! authentication, the store round trip and the upstream call.

use crate::tracecontext::{new_span_id, TraceContext};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status, Span, Status};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest `url.path` exported; paths are the client's to choose.
const MAX_PATH: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Step {
    start: Duration,
    end: Duration,
}

#[derive(Debug)]
struct AuthStep {
    step: Step,
    /// The kind that decided (none when no credential was accepted).
    kind: Option<&'static str>,
    result: &'static str,
    cache_hit: bool,
}

#[derive(Debug)]
struct UpstreamStep {
    step: Step,
    name: Arc<str>,
    status: Option<u16>,
    error: Option<&'static str>,
}

/// One sampled request's timings, filled in by the pipeline.
#[derive(Debug)]
pub struct Recording {
    start_unix_nanos: u64,
    started: Instant,
    auth: Option<AuthStep>,
    store: Option<(Step, &'static str)>,
    upstream: Option<UpstreamStep>,
    /// The upstream call's span id, sent upstream as the parent.
    upstream_span: [u8; 8],
}

impl Recording {
    pub fn start() -> Recording {
        let start_unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Recording {
            start_unix_nanos,
            started: Instant::now(),
            auth: None,
            store: None,
            upstream: None,
            upstream_span: new_span_id(),
        }
    }

    fn step(&self, since: Instant) -> Step {
        Step {
            start: since.saturating_duration_since(self.started),
            end: self.started.elapsed(),
        }
    }

    /// Authentication that began at `since`: the kind that decided, its
    /// result (`ok` or the refusal's reason) and whether the verified-token
    /// cache answered.
    pub fn auth(
        &mut self,
        since: Instant,
        kind: Option<&'static str>,
        result: &'static str,
        cache_hit: bool,
    ) {
        let step = self.step(since);
        self.auth = Some(AuthStep {
            step,
            kind,
            result,
            cache_hit,
        });
    }

    /// The store round trip that began at `since`, on a store of `kind`.
    pub fn store(&mut self, since: Instant, kind: &'static str) {
        self.store = Some((self.step(since), kind));
    }

    /// The upstream call that began at `since`: its status, or why it failed.
    pub fn upstream(&mut self, since: Instant, name: Arc<str>, outcome: Result<u16, &'static str>) {
        let step = self.step(since);
        let (status, error) = match outcome {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        self.upstream = Some(UpstreamStep {
            step,
            name,
            status,
            error,
        });
    }

    pub fn upstream_span(&self) -> [u8; 8] {
        self.upstream_span
    }

    /// Since the recording began (for a sealed request: since its envelope opened).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// What the access record knows of the whole request when it ends.
#[derive(Debug)]
pub struct Ended {
    pub trace: TraceContext,
    pub recording: Box<Recording>,
    pub elapsed: Duration,
    pub method: http::Method,
    pub route: Option<Arc<str>>,
    pub path: Option<String>,
    pub status: u16,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub peer: std::net::IpAddr,
    pub request_id: String,
}

impl Ended {
    /// The OTLP spans: the server span first, then its children.
    pub fn spans(self) -> Vec<Span> {
        let r = &self.recording;
        let (trace_id, server_id) = (self.trace.trace_id_bytes(), self.trace.span_id_bytes());
        let at = |d: Duration| {
            r.start_unix_nanos
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        // Semantic conventions: a method outside the known set is `_OTHER`.
        let method = match crate::metrics::method_label(&self.method) {
            "OTHER" => "_OTHER",
            m => m,
        };
        let name = match &self.route {
            Some(route) => format!("{method} {route}"),
            None => method.to_string(),
        };
        let mut attrs = vec![
            text("http.request.method", method),
            text("url.scheme", "https"),
            text(
                "url.path",
                truncate(self.path.as_deref().unwrap_or(""), MAX_PATH),
            ),
            int("http.response.status_code", i64::from(self.status)),
            text("client.address", &self.peer.to_string()),
            text("sealgate.outcome", self.outcome),
            text("sealgate.request_id", &self.request_id),
        ];
        if let Some(route) = &self.route {
            attrs.push(text("http.route", route));
        }
        if let Some(reason) = self.reason {
            attrs.push(text("sealgate.reason", reason));
        }
        let mut server = span(
            trace_id,
            server_id,
            self.trace.parent_id(),
            name,
            SpanKind::Server,
        );
        server.start_time_unix_nano = r.start_unix_nanos;
        server.end_time_unix_nano = at(self.elapsed);
        server.attributes = attrs;
        // A server span is in error for 5xx only (the client's 4xx are not ours).
        if self.status >= 500 {
            server.status = Some(error_status(self.reason.unwrap_or("server_error")));
        }
        // W3C flags, plus "the parent is remote" when a client's trace is continued.
        server.flags = 0x1 | 0x100 | if self.trace.continued { 0x200 } else { 0 };
        let child = |name: &str, kind: SpanKind, step: Step, id: [u8; 8]| {
            let mut s = span(trace_id, id, Some(server_id), name.to_string(), kind);
            s.start_time_unix_nano = at(step.start);
            s.end_time_unix_nano = at(step.end);
            s.flags = 0x1 | 0x100;
            s
        };
        let mut out = vec![server];
        if let Some(a) = &r.auth {
            let mut s = child("authenticate", SpanKind::Internal, a.step, new_span_id());
            s.attributes = vec![
                text("sealgate.auth.result", a.result),
                boolean("sealgate.auth.cache_hit", a.cache_hit),
            ];
            if let Some(kind) = a.kind {
                s.attributes.push(text("sealgate.auth.kind", kind));
            }
            out.push(s);
        }
        if let Some((step, kind)) = r.store {
            let mut s = child("store", SpanKind::Client, step, new_span_id());
            s.attributes = vec![text("sealgate.store.kind", kind)];
            out.push(s);
        }
        if let Some(u) = &r.upstream {
            let mut s = child(method, SpanKind::Client, u.step, r.upstream_span);
            s.attributes = vec![text("sealgate.upstream", &u.name)];
            if let Some(status) = u.status {
                s.attributes
                    .push(int("http.response.status_code", i64::from(status)));
            }
            if let Some(e) = u.error {
                s.attributes.push(text("error.type", e));
                s.status = Some(error_status(e));
            }
            out.push(s);
        }
        out
    }
}

fn span(
    trace: [u8; 16],
    id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: String,
    kind: SpanKind,
) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name,
        kind: kind as i32,
        ..Default::default()
    }
}

fn error_status(message: &str) -> Status {
    Status {
        message: message.to_string(),
        code: status::StatusCode::Error as i32,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(super) fn text(key: &str, v: &str) -> KeyValue {
    attr(key, any_value::Value::StringValue(v.to_string()))
}

fn int(key: &str, v: i64) -> KeyValue {
    attr(key, any_value::Value::IntValue(v))
}

fn boolean(key: &str, v: bool) -> KeyValue {
    attr(key, any_value::Value::BoolValue(v))
}

fn attr(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}
