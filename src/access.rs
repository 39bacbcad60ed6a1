//! The request's single exit: when its response body ends (or is dropped), one
//! access-log line is written and the request metrics are recorded.

use crate::body::Finish;
use crate::error::GatewayError;
use crate::metrics::{method_label, status_class};
use crate::state::Shared;
use http::{HeaderValue, Method, Request, StatusCode};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub struct AccessRecord {
    state: Arc<Shared>,
    started: Instant,
    request_id: HeaderValue,
    method: Method,
    peer: IpAddr,
    pub path: Option<String>,
    pub route: Option<Arc<str>>,
    pub upstream: Option<Arc<str>>,
    pub status: StatusCode,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub subject: Option<String>,
    /// The matched route: its scopes and challenges shape a refusal.
    pub route_entry: Option<Arc<crate::route::RouteEntry>>,
    pub bytes_in: Option<Arc<AtomicU64>>,
    /// The request's W3C trace and the gateway's span in it.
    pub trace: crate::tracecontext::TraceContext,
    /// The request's timings when its trace is sampled and spans are exported.
    recording: Option<Box<crate::otel::Recording>>,
}

impl AccessRecord {
    pub fn start<B>(
        state: Arc<Shared>,
        req: &Request<B>,
        peer: IpAddr,
        request_id: HeaderValue,
    ) -> AccessRecord {
        AccessRecord {
            state,
            started: Instant::now(),
            request_id,
            method: req.method().clone(),
            peer,
            path: None,
            route: None,
            upstream: None,
            status: StatusCode::OK,
            outcome: "forwarded",
            reason: None,
            subject: None,
            route_entry: None,
            bytes_in: None,
            trace: crate::tracecontext::TraceContext::continue_or_start(req.headers()),
            recording: None,
        }
        .traced(req.headers())
    }

    /// Takes up the trace of `headers` (a new one, the inner request's,
    /// replaces any before it) and decides whether to record it.
    pub fn retrace(&mut self, headers: &http::HeaderMap) {
        self.trace = crate::tracecontext::TraceContext::continue_or_start(headers);
        self.recording = None;
        if let Some(t) = &self.state.tracer {
            if t.sample(&mut self.trace) {
                self.recording = Some(Box::new(crate::otel::Recording::start()));
            }
        }
    }

    fn traced(mut self, headers: &http::HeaderMap) -> AccessRecord {
        if self.state.tracer.is_some() {
            self.retrace(headers);
        }
        self
    }

    /// The instant a step begins, when the request is being recorded.
    pub fn clock(&self) -> Option<Instant> {
        self.recording.as_ref().map(|_| Instant::now())
    }

    /// The recording, for a step that began at `since` (see `clock`).
    pub fn recording(
        &mut self,
        since: Option<Instant>,
    ) -> Option<(&mut crate::otel::Recording, Instant)> {
        Some((self.recording.as_deref_mut()?, since?))
    }

    /// The trace the upstream continues: its parent is the upstream call's
    /// span when the request is recorded, else the gateway's span.
    pub fn upstream_trace(&self) -> crate::tracecontext::TraceContext {
        match &self.recording {
            Some(r) => self.trace.with_span(r.upstream_span()),
            None => self.trace,
        }
    }

    /// Marks the request as ended by `e`, counting the rejection by reason.
    pub fn fail(&mut self, e: GatewayError) {
        self.reason = Some(e.reason());
        self.outcome = if e.is_upstream() {
            "upstream_error"
        } else {
            "rejected"
        };
        if !e.is_upstream() {
            let route = self.route.as_deref().unwrap_or("unmatched");
            self.state
                .metrics
                .rejections
                .with_label_values(&[route, e.reason()])
                .inc();
            if let GatewayError::RateLimited { failed_auth, .. } = e {
                let limit = if failed_auth { "failed_auth" } else { "route" };
                self.state
                    .metrics
                    .rate_limited
                    .with_label_values(&[route, limit])
                    .inc();
            }
            // Authentication, authorization and admission refusals, as before the
            // split into domains: dashboards read them from one family.
            if matches!(
                e,
                GatewayError::Auth(_) | GatewayError::Forbidden(_) | GatewayError::Admission(_)
            ) {
                self.state
                    .metrics
                    .auth_failures
                    .with_label_values(&[route, e.reason()])
                    .inc();
            }
        }
    }
}

impl Finish for AccessRecord {
    fn finish(self: Box<Self>, bytes_out: u64, completed: bool) {
        let elapsed = self.started.elapsed();
        let route = self.route.as_deref().unwrap_or("unmatched");
        let m = &self.state.metrics;
        let seconds = elapsed.as_secs_f64();
        match &self.route_entry {
            // The matched route's own handles. Routing sets both fields
            // together; the check keeps a label and its handles from ever
            // disagreeing should that change.
            Some(e) if self.route.as_ref().is_some_and(|r| Arc::ptr_eq(r, &e.name)) => {
                let (method, status) = (&self.method, self.status);
                e.metrics.finished(method, status, self.outcome, seconds);
            }
            _ => {
                let method = method_label(&self.method);
                let labels = [route, method, status_class(self.status), self.outcome];
                m.requests.with_label_values(&labels).inc();
                m.request_duration
                    .with_label_values(&[route])
                    .observe(seconds);
            }
        }
        let bytes_in = self
            .bytes_in
            .as_ref()
            .map_or(0, |c| c.load(Ordering::Relaxed));
        tracing::info!(
            target: "sealgate::access",
            request_id = self.request_id.to_str().unwrap_or(""),
            trace_id = %self.trace.trace_id(),
            span_id = %self.trace.span_id(),
            peer = %self.peer,
            method = self.method.as_str(),
            path = self.path.as_deref().unwrap_or(""),
            route,
            status = self.status.as_u16(),
            outcome = self.outcome,
            reason = self.reason.unwrap_or(""),
            upstream = self.upstream.as_deref().unwrap_or(""),
            subject = self.subject.as_deref().unwrap_or(""),
            // Microsecond precision, no float noise (0.123, not 0.12300000000000001).
            duration_ms = (elapsed.as_micros() as f64 / 1000.0),
            bytes_in,
            bytes_out,
            completed,
            "request"
        );
        if self.recording.is_none() {
            return;
        }
        // A recorded request only: its fields move into the span record.
        let this = *self;
        if let (Some(recording), Some(tracer)) = (this.recording, &this.state.tracer) {
            tracer.submit(crate::otel::Ended {
                trace: this.trace,
                elapsed: recording.elapsed(),
                recording,
                method: this.method,
                route: this.route,
                path: this.path,
                status: this.status.as_u16(),
                outcome: this.outcome,
                reason: this.reason,
                peer: this.peer,
                request_id: this.request_id.to_str().unwrap_or("").to_string(),
            });
        }
    }
}
