//! Completed TLS handshakes counted by negotiated key exchange group and
//! protocol version (`sealgate_tls_handshakes_total`): inbound from the
//! listener, outbound through a connector wrapper around hyper-rustls, so an
//! operator sees how much traffic is post-quantum protected in each direction.

use crate::kx::labels;
use hyper_rustls::MaybeHttpsStream;
use prometheus::IntCounterVec;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Counts an inbound handshake.
pub fn inbound<D>(metrics: &crate::metrics::Metrics, conn: &rustls::ConnectionCommon<D>) {
    let [group, version] = labels(conn);
    metrics
        .tls_handshakes
        .with_label_values(&["inbound", group, version])
        .inc();
}

/// A connector that counts each new TLS connection it makes (plain
/// connections are not counted).
#[derive(Clone)]
pub struct Counted<C> {
    inner: C,
    counter: IntCounterVec,
}

impl<C> Counted<C> {
    pub fn new(inner: C, counter: IntCounterVec) -> Counted<C> {
        Counted { inner, counter }
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<C, T> tower_service::Service<http::Uri> for Counted<C>
where
    C: tower_service::Service<http::Uri, Response = MaybeHttpsStream<T>>,
    C::Future: Send + 'static,
    C::Error: 'static,
    T: Send + 'static,
{
    type Response = MaybeHttpsStream<T>;
    type Error = C::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let counter = self.counter.clone();
        Box::pin(async move {
            let stream = connecting.await?;
            if let MaybeHttpsStream::Https(tls) = &stream {
                let [group, version] = labels(tls.inner().get_ref().1);
                counter
                    .with_label_values(&["outbound", group, version])
                    .inc();
            }
            Ok(stream)
        })
    }
}
