//! Log setup: JSON lines by default (or text), level from config unless RUST_LOG is set.

use crate::settings::{Log, LogFormat};
use tracing_subscriber::EnvFilter;

pub fn init(log: &Log) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    // try_init: a second call (tests start several gateways in one process) is a no-op.
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
