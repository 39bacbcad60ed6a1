//! The accept loop: TLS handshake with a deadline, then HTTP/2 or HTTP/1.1 as
//! ALPN chose, each connection watched for graceful shutdown. A failed handshake
//! is counted and logged at debug; it never stops the loop.

use crate::conn::{ClientCert, ConnInfo};
use crate::pipeline;
use crate::state::Shared;
use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Decrements the active-connection gauge when the connection task ends.
struct ConnGuard(prometheus::IntGauge);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Accepts until `shutdown` fires, then drops the socket (new connections are
/// refused) and gives in-flight requests up to the configured grace period.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ArcSwap<rustls::ServerConfig>>,
    state: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let gauge = state
        .metrics
        .active_connections
        .with_label_values(&["main"]);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                gauge.inc();
                let guard = ConnGuard(gauge.clone());
                let acceptor = TlsAcceptor::from(tls.load_full());
                let watcher = graceful.watcher();
                let state = state.clone();
                tokio::spawn(async move {
                    let _guard = guard;
                    connection(stream, peer, acceptor, watcher, state).await;
                });
            }
        }
    }
    drop(listener);
    let grace = state.gateway.load().config.listen.shutdown_grace;
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
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    watcher: hyper_util::server::graceful::Watcher,
    state: Arc<Shared>,
) {
    let gw = state.gateway.load_full();
    let listen = &gw.config.listen;
    let tls = match tokio::time::timeout(listen.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let reason = super::tls::handshake_failure_reason(&e);
            state
                .metrics
                .tls_handshake_failures
                .with_label_values(&[reason])
                .inc();
            tracing::debug!(%peer, reason, "TLS handshake failed");
            return;
        }
        Err(_) => {
            state
                .metrics
                .tls_handshake_failures
                .with_label_values(&["timeout"])
                .inc();
            return;
        }
    };
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
    let info = Arc::new(ConnInfo {
        peer,
        http2,
        forwarding: crate::forwarding::PeerForwarding::new(peer.ip()),
        client_cert,
    });
    let svc_state = state.clone();
    let service = service_fn(move |req| pipeline::handle(svc_state.clone(), info.clone(), req));
    let io = TokioIo::new(tls);
    let limits = gw.config.limits;
    let result = if http2 {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(256);
        watcher.watch(b.serve_connection(io, service)).await
    } else {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(listen.header_read_timeout)
            .max_headers(limits.max_header_count)
            .max_buf_size(limits.max_header_bytes.max(8192));
        watcher.watch(b.serve_connection(io, service)).await
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
