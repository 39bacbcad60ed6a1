//! Shared runtime state, handed to the request path and the admin listener:
//! the current gateway (swapped whole on reload), TLS settings, metrics and
//! the registries that outlive a reload. Built by `app`; request-path modules
//! receive it and never import the wiring.

use crate::gateway::Gateway;
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// State every request and the admin listener can see.
pub struct Shared {
    pub gateway: ArcSwap<Gateway>,
    pub tls: Arc<ArcSwap<rustls::ServerConfig>>,
    pub metrics: Metrics,
    pub keys: crate::authn::jwt::KeyRegistry,
    pub stores: crate::store::StoreRegistry,
    /// Client IPs refused for repeated failed authentication, until the instant stored.
    pub blocked: moka::sync::Cache<std::net::IpAddr, std::time::Instant>,
    pub config_path: PathBuf,
    /// Bumped after every reload attempt, successful or not (tests and the watcher wait on it).
    pub reloads: watch::Sender<u64>,
    /// Span export (`[tracing]`), fixed at start-up.
    pub tracer: Option<crate::otel::Tracer>,
}
