//! The exporter task: sampled requests queue here (bounded: a full queue
//! drops and counts, it never slows a request), and are sent as OTLP/HTTP
//! protobuf batches every `export_interval`, when a batch fills, and once
//! more at shutdown.

use super::settings::Export;
use super::span::{text, Ended};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prometheus::IntCounterVec;
use prost::Message;
use tokio::sync::{mpsc, watch};

/// Requests per batch: OpenTelemetry's default batch size is 512 spans, and
/// a request is up to four.
const BATCH: usize = 128;

pub(super) struct Exporter {
    pub(super) settings: Export,
    pub(super) client: crate::net::FetchClient,
    /// `sealgate_traced_requests_total{result}`.
    pub(super) counted: IntCounterVec,
}

impl Exporter {
    /// Runs until `stop` is set, then sends what is queued and returns.
    pub(super) async fn run(self, mut rx: mpsc::Receiver<Ended>, mut stop: watch::Receiver<bool>) {
        let mut batch: Vec<Ended> = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Some(e) => {
                        batch.push(e);
                        if batch.len() >= BATCH {
                            self.send(std::mem::take(&mut batch)).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if !batch.is_empty() {
                        self.send(std::mem::take(&mut batch)).await;
                    }
                }
                Ok(()) = stop.changed() => break,
            }
        }
        while let Ok(e) = rx.try_recv() {
            batch.push(e);
            if batch.len() >= BATCH {
                self.send(std::mem::take(&mut batch)).await;
            }
        }
        if !batch.is_empty() {
            self.send(batch).await;
        }
    }

    /// One export; failures are counted and logged, never retried into a
    /// backlog that would grow while the collector is down.
    async fn send(&self, batch: Vec<Ended>) {
        let n = batch.len() as u64;
        let spans: Vec<Span> = batch.into_iter().flat_map(Ended::spans).collect();
        let body = self.request(spans).encode_to_vec();
        let result = tokio::time::timeout(self.settings.timeout, self.post(body)).await;
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("timed out".to_string()),
        };
        let label = if failure.is_some() {
            "failed"
        } else {
            "exported"
        };
        self.counted.with_label_values(&[label]).inc_by(n);
        if let Some(e) = failure {
            tracing::warn!(endpoint = %self.settings.endpoint, requests = n, error = %e, "span export failed");
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let req = http::Request::post(self.settings.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        // Read the (small) answer so the connection can be reused; its
        // partial-success details are not acted on.
        let _ = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
            .collect()
            .await;
        match status.is_success() {
            true => Ok(()),
            false => Err(format!("the collector answered {status}")),
        }
    }

    fn request(&self, spans: Vec<Span>) -> ExportTraceServiceRequest {
        let s = &self.settings;
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        text("service.name", &s.service_name),
                        text("service.version", env!("CARGO_PKG_VERSION")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "sealgate".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}
