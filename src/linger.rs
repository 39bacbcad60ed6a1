//! Lingering close for HTTP/1.1, as nginx's `lingering_close`: a request
//! answered before its body was read (a 413 for a declared size, a 401 on an
//! upload) leaves the client still sending. Closing at once would make the
//! kernel reset the connection over the unread bytes, and the client could
//! lose the answer before reading it. So a request body dropped unfinished is
//! read and discarded in the background instead, within `LINGER_BYTES` and
//! `LINGER_TIME` and with the body's own deadline between frames (a stalled
//! body is not waited for); when the body ends within them, the connection
//! even stays usable. A rest declared larger than the bound is not waited
//! for at all (the connection closes as before). HTTP/2 needs none of this:
//! dropping a stream's body resets only that stream.

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

/// A request body that, when dropped before its end, is drained (bounded) in
/// the background rather than abandoned.
pub struct Lingering<B: Body + Send + Unpin + 'static> {
    inner: Option<B>,
    linger: bool,
    /// The longest pause between frames while draining (zero: no limit but `LINGER_TIME`).
    gap: Duration,
}

impl<B: Body + Send + Unpin + 'static> Lingering<B> {
    /// `linger`: whether a dropped rest is drained (HTTP/1.x) or not
    /// (HTTP/2); `gap`: the body's deadline between frames.
    pub fn new(inner: B, linger: bool, gap: Duration) -> Self {
        Lingering {
            inner: Some(inner),
            linger,
            gap,
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Body for Lingering<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
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
        // A rest declared past the bound would never be drained: close now.
        let beyond = rest
            .size_hint()
            .upper()
            .is_some_and(|n| n > LINGER_BYTES as u64);
        if !self.linger || rest.is_end_stream() || beyond {
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
        let mut body = Lingering::new(counted(10, taken.clone()), true, Duration::ZERO);
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
    async fn an_http2_body_is_abandoned() {
        let taken = Arc::new(AtomicUsize::new(0));
        let body = Lingering::new(counted(10, taken.clone()), false, Duration::ZERO);
        drop(body);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(taken.load(Ordering::SeqCst), 0);
    }
}
