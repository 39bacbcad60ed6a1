//! The accept loop: TLS handshake with a deadline, then HTTP/2 or HTTP/1.1 as
//! ALPN chose, each connection watched for graceful shutdown. A failed handshake
//! is counted and logged at debug; it never stops the loop. What a request
//! then goes through is the [`Handler`]'s business: the wiring hands the
//! pipeline in, so the listener knows nothing of it.

use crate::body::AccountedBody;
use crate::conn::{ClientCert, ConnInfo};
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The running configuration's connection limits, read per connection (they change on reload).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub shutdown_grace: Duration,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub max_header_count: usize,
    pub max_header_bytes: usize,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Offer WebSocket over HTTP/2 (RFC 8441 extended CONNECT): some route relays it.
    pub extended_connect: bool,
}

/// What serves the requests of accepted connections.
pub trait Handler: Clone + Send + Sync + 'static {
    fn limits(&self) -> ConnLimits;
    /// Whether connections from `ip` skip the per-address cap (a trusted proxy).
    fn exempt(&self, ip: std::net::IpAddr) -> bool;
    /// Takes the handler by value (a clone per request) so the future owns all it needs.
    fn handle(
        self,
        conn: Arc<ConnInfo>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Result<Response<AccountedBody>, Infallible>> + Send + 'static;
}

/// Decrements the active-connection gauge when the connection task ends.
struct ConnGuard(prometheus::IntGauge);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// How long a draining HTTP/1.1 connection may sit without a request before
/// it is closed (an active client gets `Connection: close` sooner).
const DRAIN_QUIET: Duration = Duration::from_secs(1);

/// Accepts until `shutdown` fires, then drops the socket (new connections are
/// refused) and gives in-flight requests up to the configured grace period.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Arc<ArcSwap<rustls::ServerConfig>>,
    metrics: Metrics,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
    workers: Option<Arc<super::workers::Workers>>,
) {
    let graceful = GracefulShutdown::new();
    let gauge = metrics.active_connections.with_label_values(&["main"]);
    let admission = Arc::new(super::admit::Admission::default());
    // Sent when the grace period is over: upgraded connections, which hyper
    // no longer watches, end then.
    let (cut, cut_rx) = watch::channel(false);
    let mut accept_errors = AcceptErrors::default();
    let signal = shutdown.clone();
    // Admits one accepted connection and serves it in its own task.
    let take = |stream: tokio::net::TcpStream, peer: SocketAddr| {
        let limits = handler.limits();
        let per_ip = (!handler.exempt(peer.ip())).then_some(limits.max_connections_per_ip);
        let slot = match admission.admit(peer.ip(), limits.max_connections, per_ip) {
            Ok(slot) => slot,
            Err(reason) => {
                metrics
                    .connections_refused
                    .with_label_values(&[reason])
                    .inc();
                tracing::debug!(%peer, reason, "connection refused");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        gauge.inc();
        let guard = ConnGuard(gauge.clone());
        let acceptor = TlsAcceptor::from(tls.load_full());
        let drain = Drain {
            watcher: graceful.watcher(),
            signal: signal.clone(),
            cut: cut_rx.clone(),
        };
        let (handler, metrics) = (handler.clone(), metrics.clone());
        let Some(workers) = &workers else {
            let guards = (guard, slot, None);
            tokio::spawn(connection(
                stream, peer, acceptor, drain, guards, handler, metrics,
            ));
            return;
        };
        // The socket leaves this runtime's reactor and joins the worker's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => return handover_failed(&metrics, peer, &e),
        };
        workers.spawn(move |load| async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => {
                    let guards = (guard, slot, Some(load));
                    connection(stream, peer, acceptor, drain, guards, handler, metrics).await
                }
                Err(e) => handover_failed(&metrics, peer, &e),
            }
        });
    };
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => take(stream, peer),
                Err(e) => {
                    // EMFILE and friends: established connections keep
                    // being served; back off instead of spinning.
                    accept_errors.record(&e, &metrics);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    // Connections the kernel already completed on this socket would be reset
    // when it closes (with SO_REUSEPORT, new ones go to the process that
    // still listens): take them first, to be answered and closed gracefully.
    // The reactor's view may lag: ask the socket itself until it has none.
    if let Ok(std_listener) = listener.into_std() {
        loop {
            match std_listener.accept() {
                Ok((stream, peer)) => {
                    let stream = stream
                        .set_nonblocking(true)
                        .and_then(|()| tokio::net::TcpStream::from_std(stream));
                    if let Ok(stream) = stream {
                        take(stream, peer);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::Interrupted
                    ) => {}
                // WouldBlock: the queue is empty; anything else ends the drain too.
                Err(_) => break,
            }
        }
    }
    let grace = handler.limits().shutdown_grace;
    tracing::info!(
        in_flight_connections = graceful.count(),
        grace_seconds = grace.as_secs_f64(),
        "listener closed; draining"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period elapsed; closing remaining connections");
    }
    let _ = cut.send(true);
}

/// A connection that could not move to its worker's reactor: refused, counted.
fn handover_failed(metrics: &Metrics, peer: SocketAddr, e: &std::io::Error) {
    metrics
        .connections_refused
        .with_label_values(&["handover_failed"])
        .inc();
    tracing::warn!(%peer, error = %e, "connection could not be handed to a serving thread");
}

/// Accept failures: each counted, logged at most once a second.
#[derive(Default)]
struct AcceptErrors {
    logged: Option<std::time::Instant>,
}

impl AcceptErrors {
    fn record(&mut self, e: &std::io::Error, metrics: &Metrics) {
        metrics
            .connections_refused
            .with_label_values(&["accept_error"])
            .inc();
        if self
            .logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(error = %e, "accept failed; serving established connections and retrying");
            self.logged = Some(std::time::Instant::now());
        }
    }
}

/// The TLS handshake within its deadline, counted by failure reason.
async fn handshake(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    deadline: Duration,
    metrics: &Metrics,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let reason = match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
        Ok(Ok(s)) => return Some(s),
        Ok(Err(e)) => super::tls::handshake_failure_reason(&e),
        Err(_) => "timeout",
    };
    metrics
        .tls_handshake_failures
        .with_label_values(&[reason])
        .inc();
    tracing::debug!(%peer, reason, "TLS handshake failed");
    None
}

/// A connection's part in the graceful drain: the watcher keeps the drain
/// waiting while it lives; `signal` tells an HTTP/1.1 connection to finish.
struct Drain {
    watcher: hyper_util::server::graceful::Watcher,
    signal: watch::Receiver<bool>,
    /// Set when the drain deadline has passed.
    cut: watch::Receiver<bool>,
}

async fn connection<H: Handler>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    drain: Drain,
    guards: (ConnGuard, super::admit::Slot, Option<super::workers::Load>),
    handler: H,
    metrics: Metrics,
) {
    let limits = handler.limits();
    let Some(tls) = handshake(stream, peer, acceptor, limits.handshake_timeout, &metrics).await
    else {
        return;
    };
    crate::handshakes::inbound(&metrics, tls.get_ref().1);
    let http2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let client_cert = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        None => None,
        Some(der) => match ClientCert::parse(der) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                // rustls accepted it, so this is a certificate x509-parser cannot read: refuse the connection.
                tracing::debug!(%peer, error = %e, "client certificate unreadable");
                return;
            }
        },
    };
    let activity = super::admit::Activity::new();
    let busy = activity.clone();
    let Drain {
        watcher,
        signal: mut shutdown,
        cut,
    } = drain;
    // An HTTP/1.1 connection may be upgraded and outlive its hyper
    // connection: its guards and its place in the drain go with the
    // ConnInfo, which the relay holds (see `relay`).
    let in_use = activity.clone();
    let begin = move || -> crate::conn::Guard { Box::new(in_use.begin()) };
    let (watcher, held) = match http2 {
        true => (Some(watcher), crate::conn::Held::new(guards, cut, begin)),
        false => (None, crate::conn::Held::new((guards, watcher), cut, begin)),
    };
    let info = Arc::new(ConnInfo {
        peer,
        http2,
        forwarding: crate::forwarding::PeerForwarding::new(peer.ip()),
        client_cert,
        held,
    });
    // Set when the drain begins (one relaxed load per response, no lock).
    let draining = Arc::new(AtomicBool::new(*shutdown.borrow()));
    let closing = draining.clone();
    let service = service_fn(move |req| {
        // In flight until the response body is done (or dropped).
        let guard = busy.begin();
        let answer = handler.clone().handle(info.clone(), req);
        let draining = draining.clone();
        async move {
            let mut response = answer.await?;
            if !http2
                && draining.load(Ordering::Relaxed)
                && response.status() != http::StatusCode::SWITCHING_PROTOCOLS
            {
                // Draining: this client's next request goes to a new connection.
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(response.map(|b| b.hold(guard)))
        }
    });
    let io = TokioIo::new(tls);
    let serve = async {
        if http2 {
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new())
                .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
                .max_concurrent_streams(256);
            if limits.extended_connect {
                b.enable_connect_protocol();
            }
            match watcher {
                Some(w) => w.watch(b.serve_connection(io, service)).await,
                None => b.serve_connection(io, service).await,
            }
        } else {
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_headers(limits.max_header_count)
                .max_buf_size(limits.max_header_bytes.max(8192));
            let conn = b.serve_connection(io, service).with_upgrades();
            tokio::pin!(conn);
            // biased: the connection first, and no random branch order to
            // draw on every wake of a busy connection.
            tokio::select! {
                biased;
                r = conn.as_mut() => r,
                // wait_for: also a connection taken after the signal.
                Ok(()) = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    closing.store(true, Ordering::Relaxed);
                    // Closing a keep-alive connection races a request the
                    // client may be sending on it: an active client is told
                    // to close by its next response (above); one quiet for
                    // DRAIN_QUIET is closed.
                    tokio::select! {
                        r = conn.as_mut() => r,
                        () = activity.idle(DRAIN_QUIET) => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    }
                }
            }
        }
    };
    // The idle watch runs beside the connection, not inside its select: a
    // timer polled on every wake of a busy connection costs each request.
    let (idle_tx, idle_rx) = tokio::sync::oneshot::channel::<()>();
    let watch = activity.clone();
    let idle_for = limits.idle_timeout;
    let watcher_task = tokio::spawn(async move {
        watch.idle(idle_for).await;
        let _ = idle_tx.send(());
    });
    let result = tokio::select! {
        biased;
        r = serve => r,
        Ok(()) = idle_rx => {
            metrics.connections_closed.with_label_values(&["idle"]).inc();
            tracing::debug!(%peer, "idle connection closed");
            Ok(())
        }
    };
    watcher_task.abort();
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
