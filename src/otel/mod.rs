//! OpenTelemetry span export (OTLP/HTTP, protobuf): which requests are
//! recorded (parent-based, with a ratio for the traces the gateway starts),
//! and the queue to the exporter task. Built once at start-up; without
//! `[tracing] otlp_endpoint` there is no tracer and a request pays one
//! branch.

mod export;
pub mod settings;
mod span;

pub use span::{Ended, Recording};

use crate::tracecontext::TraceContext;
use std::sync::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub struct Tracer {
    tx: mpsc::Sender<Ended>,
    /// New traces whose last 56 random bits reach this are sampled.
    threshold: u64,
    dropped: prometheus::IntCounter,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    timeout: std::time::Duration,
}

impl Tracer {
    /// Starts the exporter task; `counted` is `sealgate_traced_requests_total`.
    pub fn start(
        settings: &settings::Export,
        counted: prometheus::IntCounterVec,
        handshakes: prometheus::IntCounterVec,
    ) -> Result<Tracer, String> {
        let (tx, rx) = mpsc::channel(settings.max_queue);
        let (stop, stop_rx) = watch::channel(false);
        let exporter = export::Exporter {
            client: crate::net::fetch_client(settings.timeout, settings.ca.as_deref(), handshakes)?,
            settings: settings.clone(),
            counted: counted.clone(),
        };
        let task = tokio::spawn(exporter.run(rx, stop_rx));
        tracing::info!(
            endpoint = %settings.endpoint,
            sampling_ratio = settings.sampling_ratio,
            service_name = %settings.service_name,
            "exporting spans (OTLP/HTTP)"
        );
        Ok(Tracer {
            tx,
            threshold: threshold(settings.sampling_ratio),
            dropped: counted.with_label_values(&["dropped"]),
            stop,
            task: Mutex::new(Some(task)),
            timeout: settings.timeout,
        })
    }

    /// Whether to record this request: a continued trace as its caller
    /// sampled it, a new one by ratio (marked sampled for the upstream).
    pub fn sample(&self, trace: &mut TraceContext) -> bool {
        sample(trace, self.threshold)
    }

    /// Queues an ended request's spans; a full queue drops them (counted).
    pub fn submit(&self, ended: Ended) {
        if self.tx.try_send(ended).is_err() {
            self.dropped.inc();
        }
    }

    /// Sends what is queued and stops the exporter: all of it within one
    /// `export_timeout` (a collector that does not answer holds up no exit).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            if tokio::time::timeout(self.timeout, &mut task).await.is_err() {
                task.abort();
                tracing::warn!("span export did not finish at shutdown; the rest is dropped");
            }
        }
    }
}

fn sample(trace: &mut TraceContext, threshold: u64) -> bool {
    if trace.continued {
        return trace.sampled();
    }
    let id = trace.trace_id_bytes();
    let mut low = [0u8; 8];
    low[1..].copy_from_slice(&id[9..]);
    let sampled = threshold < 1 << 56 && u64::from_be_bytes(low) >= threshold;
    if sampled {
        trace.set_sampled();
    }
    sampled
}

/// OpenTelemetry's TraceIdRatioBased over the trace id's last 56 bits
/// (W3C Trace Context Level 2 makes those the random part).
fn threshold(ratio: f64) -> u64 {
    let span = (1u64 << 56) as f64;
    ((1.0 - ratio.clamp(0.0, 1.0)) * span) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_spans_never_to_always() {
        assert_eq!(threshold(1.0), 0);
        assert_eq!(threshold(0.0), 1 << 56);
        assert_eq!(threshold(0.5), 1 << 55);
    }

    fn trace(traceparent: Option<&str>) -> TraceContext {
        let mut h = http::HeaderMap::new();
        if let Some(v) = traceparent {
            h.insert("traceparent", v.parse().unwrap());
        }
        TraceContext::continue_or_start(&h)
    }

    #[test]
    fn continued_traces_follow_their_caller_and_new_ones_the_ratio() {
        let on = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let off = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(sample(&mut trace(Some(on)), threshold(0.0)));
        assert!(!sample(&mut trace(Some(off)), threshold(1.0)));
        let mut t = trace(None);
        assert!(!t.sampled());
        assert!(sample(&mut t, threshold(1.0)));
        assert!(
            t.sampled(),
            "the upstream must see a recorded trace as sampled"
        );
        assert!(!sample(&mut trace(None), threshold(0.0)));
        let kept = (0..4000)
            .filter(|_| sample(&mut trace(None), threshold(0.25)))
            .count();
        assert!((800..1200).contains(&kept), "{kept} of 4000 at 0.25");
    }
}
