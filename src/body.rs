//! Body plumbing: the boxed body types, a streaming size limit for request
//! bodies, and the response wrapper whose end (or drop) is the request's single
//! exit for metrics and the access log.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ResBody = BoxBody<Bytes, BoxError>;
pub type ReqBody = BoxBody<Bytes, BoxError>;

pub fn full(data: impl Into<Bytes>) -> ResBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> ResBody {
    full(Bytes::new())
}

/// The request body exceeded its limit while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {limit} bytes")]
pub struct BodyTooLarge {
    pub limit: u64,
}

/// Wraps a request body: counts bytes and fails the stream once `limit` is passed,
/// so a chunked upload is cut off (and the upstream request aborted) at the limit.
pub struct LimitedBody<B> {
    inner: B,
    limit: u64,
    seen: u64,
    counter: Arc<AtomicU64>,
}

impl<B> LimitedBody<B> {
    pub fn new(inner: B, limit: u64, counter: Arc<AtomicU64>) -> Self {
        LimitedBody {
            inner,
            limit,
            seen: 0,
            counter,
        }
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    this.counter.store(this.seen, Ordering::Relaxed);
                    if this.seen > this.limit {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge {
                            limit: this.limit,
                        }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            other => other.map(|_| None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client sent no body bytes for longer than `listen.body_read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no body bytes for {0:?}")]
pub struct BodyTimeout(pub std::time::Duration);

/// The upstream sent no response body bytes for longer than its `read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the upstream sent no body bytes for {0:?}")]
pub struct UpstreamBodyTimeout(pub std::time::Duration);

/// Whose pause a [`Paced`] body times out, and what it counts.
enum Gap {
    Client,
    Upstream(prometheus::IntCounter),
}

/// Wraps a body as it arrives: fails the stream when the sender leaves a gap
/// longer than `gap` between frames, so a trickled or abandoned body (a
/// client's request, an upstream's slowloris response) cannot hold a
/// connection open. The timer exists only while the body is waiting.
pub struct Paced<B> {
    inner: B,
    gap: std::time::Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
    whose: Gap,
}

/// A client's request `body` with a `gap` deadline between frames, boxed
/// (`gap` zero: none).
pub fn paced<B>(body: B, gap: std::time::Duration) -> ReqBody
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    pace(body, gap, Gap::Client)
}

/// An upstream's response `body` with a `gap` deadline between frames;
/// `stalls` counts the responses it ends.
pub fn paced_response<B>(
    body: B,
    gap: std::time::Duration,
    stalls: prometheus::IntCounter,
) -> ResBody
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    pace(body, gap, Gap::Upstream(stalls))
}

fn pace<B>(body: B, gap: std::time::Duration, whose: Gap) -> BoxBody<Bytes, BoxError>
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    Paced {
        inner: body,
        gap,
        waiting: None,
        whose,
    }
    .boxed()
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.waiting = None;
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending if this.gap.is_zero() => Poll::Pending,
            Poll::Pending => {
                let gap = this.gap;
                let timer = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        // Spent: a poll after the error waits a new gap.
                        this.waiting = None;
                        Poll::Ready(Some(Err(match &this.whose {
                            Gap::Client => Box::new(BodyTimeout(gap)),
                            Gap::Upstream(stalls) => {
                                stalls.inc();
                                Box::new(UpstreamBodyTimeout(gap))
                            }
                        })))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Called once when a response body finishes or is dropped, with the bytes sent.
pub trait Finish: Send + Sync + 'static {
    fn finish(self: Box<Self>, bytes_out: u64, completed: bool);
}

/// The response body the server sends: counts bytes and runs [`Finish`] exactly once.
pub struct AccountedBody {
    inner: ResBody,
    bytes: u64,
    finish: Option<Box<dyn Finish>>,
    /// Kept until the body is dropped (the connection's "request in flight").
    held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl AccountedBody {
    pub fn new(inner: ResBody, finish: Box<dyn Finish>) -> Self {
        AccountedBody {
            inner,
            bytes: 0,
            finish: Some(finish),
            held: None,
        }
    }

    /// Keeps `guard` alive for as long as the body is.
    pub fn hold(mut self, guard: impl std::any::Any + Send + Sync) -> Self {
        self.held = Some(Box::new(guard));
        self
    }

    fn done(&mut self, completed: bool) {
        if let Some(f) = self.finish.take() {
            f.finish(self.bytes, completed);
        }
    }
}

impl Body for AccountedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.done(true);
                }
            }
            Poll::Ready(None) => this.done(true),
            Poll::Ready(Some(Err(_))) => this.done(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AccountedBody {
    fn drop(&mut self) {
        // A body dropped before its end means the client went away mid-response;
        // a body that was empty from the start is complete.
        let completed = self.inner.is_end_stream();
        self.done(completed);
    }
}

/// A JSON response body with its content type.
pub fn json(status: http::StatusCode, v: &serde_json::Value) -> http::Response<ResBody> {
    let mut r = http::Response::new(full(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum ReadError {
    /// Longer than the limit (a `BodyTooLarge` from a `LimitedBody` counts too).
    TooLarge,
    /// The client paused longer than `listen.body_read_timeout`.
    TimedOut,
    Failed,
}

/// Reads a whole body, at most `limit` bytes. (A frame loop rather than
/// `http_body_util::Limited`, whose error conversion is not general enough for
/// the request future to stay `Send`.)
pub async fn read_to_limit(
    mut body: BoxBody<Bytes, BoxError>,
    limit: u64,
) -> Result<Bytes, ReadError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.is::<BodyTooLarge>() {
                ReadError::TooLarge
            } else if e.is::<BodyTimeout>() {
                ReadError::TimedOut
            } else {
                ReadError::Failed
            }
        })?;
        if let Some(data) = frame.data_ref() {
            if out.len() as u64 + data.len() as u64 > limit {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out.freeze())
}
