//! Upstreams: keep-alive connections pooled per serving worker (HTTP/1.1, or HTTP/2 over
//! TLS/h2c), round-robin over targets with passive ejection, timeouts mapped to
//! 502/504, and the built-in echo upstream.

mod connect;
mod echo;
mod idle;
mod pool;
pub mod settings;
mod targets;

use crate::body::{BodyTooLarge, ReqBody, ResBody};
use crate::forwarding::strip_hop_by_hop;
use crate::metrics::Metrics;
use http::{header, HeaderValue, Request, Response, Uri, Version};
use settings::{UpstreamKind, UpstreamProtocol};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::Target;
pub use targets::Targets;

enum Backend {
    Echo,
    Http(Box<HttpBackend>),
}

struct HttpBackend {
    /// One connection pool per serving worker (slot 0: threads that are
    /// not workers): a worker's exchanges never touch another thread's pool
    /// or wake another thread.
    pools: Box<[pool::Pool]>,
    targets: Targets,
}

/// Why forwarding failed; `error` maps each to the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardError {
    Connect,
    Timeout,
    Failed,
    /// The client's body grew past the route's limit while streaming.
    BodyTooLarge,
    ClientBodyAborted,
    /// The client paused its body longer than `listen.body_read_timeout`.
    BodyTimeout,
    /// The client's body did not match its signed digest; the upstream request was aborted.
    DigestMismatch,
    /// The upstream answered something no client may receive (a 101 nobody
    /// asked for, headers over the limit): 502, this stream only.
    BadResponse,
}

impl ForwardError {
    /// True when the upstream (not the client) is at fault.
    pub fn is_upstream(self) -> bool {
        matches!(
            self,
            ForwardError::Connect
                | ForwardError::Timeout
                | ForwardError::Failed
                | ForwardError::BadResponse
        )
    }
}

pub struct Upstream {
    pub name: Arc<str>,
    backend: Backend,
    protocol: UpstreamProtocol,
    request_timeout: Duration,
    read_timeout: Duration,
    /// `sealgate_upstream_errors_total{upstream, kind="read_timeout"}`, resolved once.
    read_stalls: prometheus::IntCounter,
    /// `sealgate_upstream_duration_seconds{upstream}`, resolved once.
    duration: prometheus::Histogram,
    preserve_host: bool,
}

impl Upstream {
    /// `workers` serving threads (`listen.workers`) get a pool each; the
    /// metrics this upstream's exchanges feed are resolved here, once.
    pub fn new(
        cfg: &settings::Upstream,
        metrics: &Metrics,
        workers: usize,
    ) -> Result<Upstream, String> {
        let handshakes = &metrics.tls_handshakes;
        let backend = match &cfg.kind {
            UpstreamKind::Echo => Backend::Echo,
            UpstreamKind::Targets(uris) => {
                let targets = Targets::new(uris, cfg.eject_after, cfg.eject_for);
                // One TLS set-up (trust store, session cache) shared by the pools.
                let tls = crate::net::client_config(cfg.ca.as_deref())?;
                let pools = (0..=workers)
                    .map(|_| {
                        pool::Pool::new(
                            connect::connector(
                                cfg.connect_timeout,
                                cfg.protocol,
                                tls.clone(),
                                handshakes.clone(),
                            ),
                            targets.len(),
                            cfg.protocol == UpstreamProtocol::Http2,
                            cfg.idle_timeout,
                            cfg.max_idle_per_target,
                        )
                    })
                    .collect();
                Backend::Http(Box::new(HttpBackend { pools, targets }))
            }
        };
        Ok(Upstream {
            name: Arc::from(cfg.name.as_str()),
            backend,
            protocol: cfg.protocol,
            request_timeout: cfg.request_timeout,
            read_timeout: cfg.read_timeout,
            read_stalls: metrics
                .upstream_errors
                .with_label_values(&[cfg.name.as_str(), "read_timeout"]),
            duration: metrics
                .upstream_duration
                .with_label_values(&[cfg.name.as_str()]),
            preserve_host: cfg.preserve_host,
        })
    }

    /// Sends `req` (whose URI holds only the normalized path and query) upstream.
    pub async fn forward(
        &self,
        mut req: Request<ReqBody>,
        metrics: &Metrics,
    ) -> Result<Response<ResBody>, ForwardError> {
        let started = Instant::now();
        let (pool, targets) = match &self.backend {
            Backend::Echo => {
                return echo::respond(&self.name, req)
                    .await
                    .map_err(|e| classify_body_error(&*e));
            }
            Backend::Http(b) => (&b.pools[crate::worker::slot(b.pools.len())], &b.targets),
        };
        let Some((index, target)) = targets.pick() else {
            return Err(ForwardError::Connect);
        };
        self.address(&mut req, target)?;
        let asked = req.headers().get(header::UPGRADE).cloned();
        // A gRPC caller's deadline shorter than ours is its own: running
        // out of it says nothing of the target (no ejection, no metric).
        let client_deadline = Some(&req)
            .filter(|r| crate::grpc::is_grpc(r.headers()))
            .and_then(|r| crate::grpc::timeout(r.headers()))
            .filter(|t| *t < self.request_timeout);
        let deadline = client_deadline.unwrap_or(self.request_timeout);
        let outcome = tokio::time::timeout(deadline, pool.send(index, target, req)).await;
        let label = &*self.name;
        let result = match outcome {
            Err(_) if client_deadline.is_some() => Err(ForwardError::Timeout),
            Err(_) => {
                metrics
                    .upstream_errors
                    .with_label_values(&[label, "timeout"])
                    .inc();
                targets.failure(index);
                Err(ForwardError::Timeout)
            }
            Ok(Err(e)) => Err(self.failed(&e, targets, index, target, metrics)),
            Ok(Ok(resp)) => {
                targets.success(index);
                let (mut parts, body) = resp.into_parts();
                if let Err(why) = response_hygiene(&mut parts, asked.as_ref()) {
                    metrics
                        .upstream_errors
                        .with_label_values(&[label, why])
                        .inc();
                    tracing::debug!(upstream = label, problem = why, "upstream answer refused");
                    return Err(ForwardError::BadResponse);
                }
                let switched = switched_to(&parts);
                strip_hop_by_hop(&mut parts.headers);
                if let Some(protocol) = switched {
                    parts
                        .headers
                        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                    parts.headers.insert(header::UPGRADE, protocol);
                }
                let body =
                    crate::body::paced_response(body, self.read_timeout, self.read_stalls.clone());
                Ok(Response::from_parts(parts, body))
            }
        };
        self.duration.observe(started.elapsed().as_secs_f64());
        result
    }

    /// Points the request at `target`, in the upstream's protocol: HTTP/1.1
    /// keeps the origin-form URI (the pool sets `Host`), HTTP/2 needs the
    /// absolute one for its pseudo-headers.
    fn address(&self, req: &mut Request<ReqBody>, target: &Target) -> Result<(), ForwardError> {
        if self.protocol == UpstreamProtocol::Http2 {
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(target.scheme.clone());
            parts.authority = Some(target.authority.clone());
            parts.path_and_query = req.uri().path_and_query().cloned();
            *req.uri_mut() = Uri::from_parts(parts).map_err(|_| ForwardError::Failed)?;
        }
        if !self.preserve_host || self.protocol == UpstreamProtocol::Http2 {
            // HTTP/2 carries the host as :authority; a differing Host header is a protocol error.
            req.headers_mut().remove(header::HOST);
        }
        *req.version_mut() = match self.protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::Http2 => Version::HTTP_2,
        };
        Ok(())
    }

    /// Counts and logs a failed exchange; a connect failure may eject the target.
    fn failed(
        &self,
        e: &pool::SendError,
        targets: &Targets,
        index: usize,
        target: &Target,
        metrics: &Metrics,
    ) -> ForwardError {
        let err = classify_client_error(e);
        if err.is_upstream() {
            let label = &*self.name;
            let connect = matches!(e, pool::SendError::Connect(_));
            let kind = if connect { "connect" } else { "protocol" };
            metrics
                .upstream_errors
                .with_label_values(&[label, kind])
                .inc();
            if connect && targets.failure(index) {
                tracing::warn!(upstream = label, target = %target.authority, "target ejected after repeated failures");
            }
            tracing::debug!(upstream = label, error = %e, "upstream request failed");
        }
        err
    }
}

/// The protocol a 101 switched to, kept across the hop-by-hop strip.
fn switched_to(parts: &http::response::Parts) -> Option<HeaderValue> {
    (parts.status == http::StatusCode::SWITCHING_PROTOCOLS)
        .then(|| parts.headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// The most header bytes (names and values) an upstream answer may carry.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 * 1024;

/// What an upstream answer must satisfy before it is relayed: no protocol
/// switch but to one the gateway asked for (`asked`: its `Upgrade`), bounded
/// headers, and no stale `Content-Length` beside a `Transfer-Encoding` (RFC
/// 9112 §6.3: the coding wins, and a proxy must not pass the length on).
/// `Err`: the metric label.
fn response_hygiene(
    parts: &mut http::response::Parts,
    asked: Option<&HeaderValue>,
) -> Result<(), &'static str> {
    if parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        let chosen = parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok());
        let offered = asked.and_then(|v| v.to_str().ok());
        let fits = match (chosen, offered) {
            (Some(c), Some(o)) => o
                .split(',')
                .any(|p| p.trim().eq_ignore_ascii_case(c.trim())),
            _ => false,
        };
        if !fits {
            return Err("unrequested_upgrade");
        }
    }
    let bytes: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if bytes > MAX_RESPONSE_HEADER_BYTES {
        return Err("response_headers_too_large");
    }
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    Ok(())
}

/// Finds why the hyper client failed: our body limit, the client's body, or the upstream.
fn classify_client_error(e: &pool::SendError) -> ForwardError {
    match e {
        pool::SendError::Connect(_) => ForwardError::Connect,
        pool::SendError::Exchange(e) => classify_body_error(e),
    }
}

/// Walks the error chain: our own body limit wins, then a failure of the
/// downstream body (hyper reports those as "user" errors), else the upstream.
fn classify_body_error(e: &(dyn std::error::Error + 'static)) -> ForwardError {
    let mut client_side = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<BodyTooLarge>() {
            return ForwardError::BodyTooLarge;
        }
        if err.is::<crate::digest::DigestMismatch>() {
            return ForwardError::DigestMismatch;
        }
        if err.is::<crate::body::BodyTimeout>() {
            return ForwardError::BodyTimeout;
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_user())
        {
            client_side = true;
        }
        source = err.source();
    }
    if client_side {
        ForwardError::ClientBodyAborted
    } else {
        ForwardError::Failed
    }
}
