//! The client an upstream's exchanges go through: TCP (with its connect
//! timeout) and TLS through hyper-rustls, each new TLS connection counted,
//! HTTP/1.1 or HTTP/2 as the upstream's protocol says.

use super::settings::{self, UpstreamProtocol};
use crate::body::ReqBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub(super) type HttpClient =
    Client<crate::handshakes::Counted<HttpsConnector<HttpConnector>>, ReqBody>;

pub(super) fn client(
    cfg: &settings::Upstream,
    tls: rustls::ClientConfig,
    handshakes: prometheus::IntCounterVec,
) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(cfg.connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let connector = match cfg.protocol {
        UpstreamProtocol::Http1 => builder.enable_http1().wrap_connector(http),
        UpstreamProtocol::Http2 => builder.enable_http2().wrap_connector(http),
    };
    let connector = crate::handshakes::Counted::new(connector, handshakes);
    let mut b = Client::builder(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(cfg.idle_timeout)
        .pool_max_idle_per_host(cfg.max_idle_per_target)
        .http2_only(cfg.protocol == UpstreamProtocol::Http2);
    b.build(connector)
}
