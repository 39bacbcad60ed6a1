//! Lingering close for HTTP/1.1, as nginx's `lingering_close`: a request
//! answered before its body was read (a 413 for a declared size, a 401 on an
//! upload) leaves the client still sending. Closing at once would make the
//! kernel reset the connection over the unread bytes, and the client could
//! lose the answer before reading it. So a request body dropped unfinished is
//! read and discarded in the background instead, within `LINGER_BYTES` and
//! `LINGER_TIME` and with the body's own deadline between frames (a stalled
//! body is not waited for); when the body ends within them, the connection
//! even stays usable. A rest declared larger than the bound is not waited
//! for at all (the connection closes as before), nor is a body that an
//! `Expect: 100-continue` client was never asked for. HTTP/2 needs none of
//! this: dropping a stream's body resets only that stream.

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The most unread body bytes discarded after an answer.
const LINGER_BYTES: usize = 16 << 20;
/// The longest the rest of a body is waited for after an answer.
const LINGER_TIME: Duration = Duration::from_secs(5);

/// What a request's head says about lingering over its body.
#[derive(Debug, Clone, Copy)]
pub struct Linger {
    /// `Expect: 100-continue`: until the body is first read the client has
    /// not been asked for it, and may never send it.
    waits_for_continue: bool,
}

impl Linger {
    pub fn of(headers: &http::HeaderMap) -> Linger {
        Linger {
            waits_for_continue: headers.contains_key(http::header::EXPECT),
        }
    }
}

/// A request body that, when dropped before its end, is drained (bounded) in
/// the background rather than abandoned.
pub struct Lingering<B: Body + Send + Unpin + 'static> {
    inner: Option<B>,
    /// `None`: never linger (HTTP/2, decisions).
    linger: Option<Linger>,
    /// The longest pause between frames while draining (zero: no limit but `LINGER_TIME`).
    gap: Duration,
    /// Read at least once (so a 100 Continue has gone out).
    polled: bool,
    /// Seen to its end or its error: nothing is left to drain.
    ended: bool,
}

impl<B: Body + Send + Unpin + 'static> Lingering<B> {
    /// `linger`: whether (and how) a dropped rest is drained; `gap`: the
    /// body's deadline between frames.
    pub fn new(inner: B, linger: Option<Linger>, gap: Duration) -> Self {
        Lingering {
            inner: Some(inner),
            linger,
            gap,
            polled: false,
            ended: false,
        }
    }

    /// Whether a dropped rest should be drained.
    fn worth_draining(&self, rest: &B) -> bool {
        let Some(linger) = self.linger else {
            return false;
        };
        // A rest declared past the bound would never be drained: close now.
        let beyond = rest
            .size_hint()
            .upper()
            .is_some_and(|n| n > LINGER_BYTES as u64);
        // Never asked for: the client may be waiting for a 100 that will
        // not come now, and its next request must not be read as this body.
        let unasked = linger.waits_for_continue && !self.polled;
        !(self.ended || beyond || unasked || rest.is_end_stream())
    }
}

impl<B: Body + Send + Unpin + 'static> Body for Lingering<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        this.polled = true;
        let Some(b) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(b).poll_frame(cx);
        // hyper's chunked bodies never report is_end_stream, even when read
        // to the end: remember the end (or an error) here.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Lingering<B> {
    fn drop(&mut self) {
        let Some(rest) = self.inner.take() else {
            return;
        };
        if !self.worth_draining(&rest) {
            return;
        }
        // Outside a runtime (a test dropping a request) there is no
        // connection to keep reading from.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(discard(rest, self.gap));
        }
    }
}

/// Reads and drops what is left of `body`, within the bounds.
async fn discard<B: Body + Unpin>(mut body: B, gap: Duration) {
    let gap = match gap.is_zero() {
        true => LINGER_TIME,
        false => gap.min(LINGER_TIME),
    };
    let read = async {
        let mut seen = 0usize;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(gap, body.frame()).await {
            seen += frame.data_ref().map_or(0, Buf::remaining);
            if seen > LINGER_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, read).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::StreamBody;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A body of `n` one-byte frames that counts how many were taken.
    fn counted(n: usize, taken: Arc<AtomicUsize>) -> impl Body<Data = Bytes> + Send + Unpin {
        let frames = (0..n).map(move |_| {
            taken.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"x")))
        });
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn an_unfinished_http1_body_is_drained_after_the_drop() {
        let taken = Arc::new(AtomicUsize::new(0));
        let mut body = Lingering::new(
            counted(10, taken.clone()),
            Some(Linger::of(&http::HeaderMap::new())),
            Duration::ZERO,
        );
        let first = body.frame().await;
        assert!(first.is_some());
        drop(body);
        for _ in 0..100 {
            if taken.load(Ordering::SeqCst) == 10 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            taken.load(Ordering::SeqCst),
            10,
            "the rest was read and discarded"
        );
    }

    #[tokio::test]
    async fn a_body_never_asked_for_with_100_continue_is_abandoned() {
        let taken = Arc::new(AtomicUsize::new(0));
        let mut head = http::HeaderMap::new();
        head.insert(
            http::header::EXPECT,
            http::HeaderValue::from_static("100-continue"),
        );
        let body = Lingering::new(
            counted(10, taken.clone()),
            Some(Linger::of(&head)),
            Duration::ZERO,
        );
        drop(body);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(taken.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_http2_body_is_abandoned() {
        let taken = Arc::new(AtomicUsize::new(0));
        let body = Lingering::new(counted(10, taken.clone()), None, Duration::ZERO);
        drop(body);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(taken.load(Ordering::SeqCst), 0);
    }
}
