//! A serving worker's connections to one upstream, the nginx way: each
//! worker keeps its own keep-alive connections per target (`idle`), so an
//! exchange takes no shared lock, allocates no pool key and wakes no other
//! thread. HTTP/1.1: an idle connection is reused, and one that closed
//! before the request went out is replaced and the request sent again; the
//! response body gives its connection back when it ends. HTTP/2: one
//! connection per target carries every request.

use super::connect::{self, Connector};
use super::idle::Idle;
use super::targets::Target;
use crate::body::{BoxError, ReqBody};
use bytes::Bytes;
use http::{header, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub(super) struct Pool {
    connector: Connector,
    /// Indexed like the upstream's `Targets`.
    idle: Box<[Arc<Idle>]>,
    http2: bool,
}

/// Why an exchange failed: no connection could be made, or the exchange on
/// one failed (hyper's error says whose fault).
#[derive(Debug)]
pub(super) enum SendError {
    Connect(BoxError),
    Exchange(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "connect: {e}"),
            SendError::Exchange(e) => write!(f, "{e}"),
        }
    }
}

impl Pool {
    pub(super) fn new(
        connector: Connector,
        targets: usize,
        http2: bool,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Pool {
        Pool {
            connector,
            idle: (0..targets)
                .map(|_| Idle::new(idle_timeout, max_idle))
                .collect(),
            http2,
        }
    }

    /// Sends `req` to target `index`. HTTP/1.1 requests carry an
    /// origin-form URI and get the target's `Host` unless they keep one;
    /// HTTP/2 ones carry the absolute URI its pseudo-headers come from.
    pub(super) async fn send(
        &self,
        index: usize,
        target: &Target,
        mut req: Request<ReqBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let Some(idle) = self.idle.get(index) else {
            return Err(SendError::Connect("no such target".into()));
        };
        if self.http2 {
            return self.send_h2(idle, target, req).await;
        }
        if !req.headers().contains_key(header::HOST) {
            req.headers_mut().insert(header::HOST, target.host.clone());
        }
        loop {
            let (mut conn, reused) = match idle.take_h1() {
                Some(conn) => (conn, true),
                None => (self.open_h1(target).await?, false),
            };
            if let Err(e) = conn.ready().await {
                if reused {
                    continue;
                }
                return Err(SendError::Exchange(e));
            }
            match conn.try_send_request(req).await {
                Ok(resp) => return Ok(returning(resp, idle, conn)),
                // Closed before the request went out: nothing was sent, so
                // another connection may carry it.
                Err(mut e) => match e.take_message() {
                    Some(back) if reused => req = back,
                    _ => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
    }

    // Opening futures (TCP, TLS, handshake) are large and rarely run:
    // boxed, they stay out of every request's future, which hyper moves
    // into a box of its own per request.
    async fn open_h1(&self, target: &Target) -> Result<http1::SendRequest<ReqBody>, SendError> {
        Box::pin(connect::http1(&self.connector, &target.origin))
            .await
            .map_err(SendError::Connect)
    }

    async fn send_h2(
        &self,
        idle: &Arc<Idle>,
        target: &Target,
        mut req: Request<ReqBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let mut reused = true;
        loop {
            let mut conn = match idle.h2() {
                Some(conn) => conn,
                None => {
                    reused = false;
                    Box::pin(self.open_h2(idle, target)).await?
                }
            };
            let sent = match conn.ready().await {
                Ok(()) => conn.try_send_request(req).await,
                Err(e) if reused => {
                    reused = false;
                    tracing::debug!(error = %e, "shared upstream connection closed");
                    continue;
                }
                Err(e) => return Err(SendError::Exchange(e)),
            };
            match sent {
                Ok(resp) => return Ok(resp.map(|inner| PooledBody { inner, back: None })),
                Err(mut e) => match e.take_message() {
                    Some(back) if reused => {
                        reused = false;
                        req = back;
                    }
                    _ => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
    }

    /// The target's shared HTTP/2 connection, opened by the first request
    /// that finds none while the others wait for it.
    async fn open_h2(
        &self,
        idle: &Arc<Idle>,
        target: &Target,
    ) -> Result<hyper::client::conn::http2::SendRequest<ReqBody>, SendError> {
        let _opening = idle.opening_h2.lock().await;
        if let Some(conn) = idle.h2() {
            return Ok(conn);
        }
        let conn = Box::pin(connect::http2(&self.connector, &target.origin))
            .await
            .map_err(SendError::Connect)?;
        idle.put_h2(conn.clone());
        Ok(conn)
    }
}

/// The response, its body set to give `conn` back once it ends. A switch
/// of protocols (101) takes the connection away for good.
fn returning(
    resp: Response<Incoming>,
    idle: &Arc<Idle>,
    conn: http1::SendRequest<ReqBody>,
) -> Response<PooledBody> {
    let back =
        (resp.status() != http::StatusCode::SWITCHING_PROTOCOLS).then(|| (idle.clone(), conn));
    resp.map(|inner| PooledBody { inner, back })
}

/// An upstream response body that, on HTTP/1.1, hands its connection back
/// to the worker's pool when it has been read to its end; a body dropped
/// early or failed takes its connection down with it.
pub struct PooledBody {
    inner: Incoming,
    back: Option<(Arc<Idle>, http1::SendRequest<ReqBody>)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((idle, conn)) = self.back.take() {
            if conn.is_ready() {
                idle.put_h1(conn);
            } else {
                // Rare: the connection still finishes the exchange (a
                // request body the upstream did not wait for). It waits on
                // its own, not in the pool where a request would wait on it.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let mut conn = conn;
                        if conn.ready().await.is_ok() {
                            idle.put_h1(conn);
                        }
                    });
                }
            }
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            None => this.give_back(),
            Some(Ok(_)) if this.inner.is_end_stream() => this.give_back(),
            Some(Ok(_)) => {}
            Some(Err(_)) => this.back = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // An empty body (HEAD, 204, 304) is complete without being read.
        if self.inner.is_end_stream() {
            self.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::UpstreamProtocol;
    use super::super::Targets;
    use super::*;
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An HTTP/1.1 server answering "ok", counting the requests it gets.
    async fn server(requests: Arc<AtomicUsize>) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let requests = requests.clone();
                let answer = hyper::service::service_fn(move |_req| {
                    requests.fetch_add(1, Ordering::Relaxed);
                    async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), answer),
                );
            }
        });
        addr
    }

    fn pool() -> Pool {
        let tls = crate::net::client_config(None).unwrap();
        let counter = prometheus::IntCounterVec::new(
            prometheus::Opts::new("handshakes", "test"),
            &["direction", "group", "version"],
        )
        .unwrap();
        let connector = connect::connector(
            Duration::from_secs(2),
            UpstreamProtocol::Http1,
            tls,
            counter,
        );
        Pool::new(connector, 1, false, Duration::from_secs(60), 4)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_queued_on_a_connection_that_then_closes_goes_out_on_a_new_one() {
        let requests = Arc::new(AtomicUsize::new(0));
        let addr = server(requests.clone()).await;
        let targets = Targets::new(
            &[format!("http://{addr}").parse().unwrap()],
            1,
            Duration::ZERO,
        );
        let (_, target) = targets.pick().unwrap();
        let pool = pool();
        // A pooled connection whose driver stops the next time it runs:
        // the request the pool queues on it comes back unsent.
        let io = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (send, conn) = http1::handshake(TokioIo::new(io)).await.unwrap();
        let stop = Arc::new(tokio::sync::Notify::new());
        let driver = tokio::spawn({
            let stop = stop.clone();
            async move {
                tokio::select! {
                    biased;
                    _ = stop.notified() => {}
                    _ = conn => {}
                }
            }
        });
        // The driver runs once: the connection is ready for a request.
        tokio::task::yield_now().await;
        pool.idle[0].put_h1(send);
        stop.notify_one();
        let req = Request::get("/x").body(crate::body::empty()).unwrap();
        let resp = pool.send(0, target, req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        assert!(driver.is_finished(), "the first connection is gone");
        assert_eq!(
            requests.load(Ordering::Relaxed),
            1,
            "sent once, on a new connection"
        );
    }
}
