//! Opening a connection to a target: TCP (with its connect timeout) and TLS
//! through hyper-rustls, each new TLS connection counted, then the HTTP/1.1
//! or HTTP/2 handshake. The connection itself is driven by a task on the
//! calling worker's runtime, so its I/O never wakes another thread.

use super::settings::UpstreamProtocol;
use crate::body::{BoxError, ReqBody};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;
use tower_service::Service;

pub(super) use crate::net::Connector;

/// The connector for an upstream's targets: ALPN offers only its protocol.
pub(super) fn connector(
    connect_timeout: Duration,
    protocol: UpstreamProtocol,
    tls: rustls::ClientConfig,
    handshakes: prometheus::IntCounterVec,
) -> Connector {
    let http2 = protocol == UpstreamProtocol::Http2;
    crate::net::connector(connect_timeout, tls, http2, handshakes)
}

type Io = <Connector as Service<http::Uri>>::Response;

async fn dial(connector: &Connector, origin: &http::Uri) -> Result<Io, BoxError> {
    let mut connector = connector.clone();
    std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
    connector.call(origin.clone()).await
}

/// A new HTTP/1.1 connection to `origin`; upgrades (101) stay possible on it.
pub(super) async fn http1(
    connector: &Connector,
    origin: &http::Uri,
) -> Result<http1::SendRequest<ReqBody>, BoxError> {
    let io = dial(connector, origin).await?;
    let (send, conn) = http1::Builder::new().handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(send)
}

/// A new HTTP/2 connection to `origin` (TLS with ALPN h2, or h2c).
pub(super) async fn http2(
    connector: &Connector,
    origin: &http::Uri,
) -> Result<http2::SendRequest<ReqBody>, BoxError> {
    let io = dial(connector, origin).await?;
    let (send, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(io)
        .await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(send)
}
