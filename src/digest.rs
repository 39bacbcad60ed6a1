//! Body digests: RFC 9530 `Content-Digest` (sha-256, sha-512) and the OAuth
//! Request Body Hash (SHA-1/SHA-256), checked against a body as it streams.
//!
//! [`CheckedBody`] hashes every frame and always holds one frame back, so the
//! last bytes go out only after the digest matched: on a mismatch the stream
//! fails instead, and the upstream sees an aborted request, never a complete
//! tampered body (the same shape as `body::LimitedBody`).

use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A digest algorithm a body can be checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlg {
    Sha1,
    Sha256,
    Sha512,
}

impl DigestAlg {
    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            DigestAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlg::Sha256 => &digest::SHA256,
            DigestAlg::Sha512 => &digest::SHA512,
        }
    }

    /// The RFC 9530 algorithm key.
    pub fn key(self) -> &'static str {
        match self {
            DigestAlg::Sha1 => "sha",
            DigestAlg::Sha256 => "sha-256",
            DigestAlg::Sha512 => "sha-512",
        }
    }

    pub fn of(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.algorithm(), data).as_ref().to_vec()
    }
}

/// What the body must hash to: every listed digest must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyCheck {
    expected: Vec<(DigestAlg, Vec<u8>)>,
}

/// The body did not match its declared digest.
#[derive(Debug, thiserror::Error)]
#[error("the request body does not match its declared digest")]
pub struct DigestMismatch;

impl BodyCheck {
    pub fn new(expected: Vec<(DigestAlg, Vec<u8>)>) -> Option<BodyCheck> {
        (!expected.is_empty()).then_some(BodyCheck { expected })
    }

    /// Checks a whole (buffered) body.
    pub fn matches(&self, body: &[u8]) -> bool {
        self.expected
            .iter()
            .all(|(alg, want)| constant_eq(&alg.of(body), want))
    }

    fn contexts(&self) -> Vec<(digest::Context, &[u8])> {
        self.expected
            .iter()
            .map(|(a, want)| (digest::Context::new(a.algorithm()), want.as_slice()))
            .collect()
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// The supported members of a `Content-Digest` field (RFC 9530 §2): unknown
/// algorithms are ignored as the RFC says; `None` when the field does not parse.
pub fn parse_content_digest(value: &str) -> Option<Vec<(DigestAlg, Vec<u8>)>> {
    let dict: sfv::Dictionary = sfv::Parser::new(value).parse().ok()?;
    let mut out = Vec::new();
    for (key, member) in &dict {
        let alg = match key.as_str() {
            "sha-256" => DigestAlg::Sha256,
            "sha-512" => DigestAlg::Sha512,
            _ => continue,
        };
        let sfv::ListEntry::Item(item) = member else {
            return None;
        };
        out.push((alg, item.bare_item.as_byte_sequence()?.to_vec()));
    }
    Some(out)
}

/// A `Content-Digest` value for `body`.
pub fn content_digest(alg: DigestAlg, body: &[u8]) -> String {
    format!("{}=:{}:", alg.key(), STANDARD.encode(alg.of(body)))
}

/// A body that fails instead of ending when its digest does not match.
pub struct CheckedBody<B> {
    inner: B,
    contexts: Vec<(digest::Context, Vec<u8>)>,
    /// The latest non-empty data frame: the last bytes go out only after the
    /// digest matched, whatever frames (empty data, trailers) follow them.
    held: Option<Frame<Bytes>>,
    trailers: Option<Frame<Bytes>>,
    finished: bool,
}

impl<B> CheckedBody<B> {
    pub fn new(inner: B, check: &BodyCheck) -> Self {
        CheckedBody {
            inner,
            contexts: check
                .contexts()
                .into_iter()
                .map(|(c, w)| (c, w.to_vec()))
                .collect(),
            held: None,
            trailers: None,
            finished: false,
        }
    }

    fn verified(&mut self) -> bool {
        std::mem::take(&mut self.contexts)
            .into_iter()
            .all(|(ctx, want)| constant_eq(ctx.finish().as_ref(), &want))
    }
}

impl<B> Body for CheckedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<crate::body::BoxError>,
{
    type Data = Bytes;
    type Error = crate::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.finished {
                let next = this.held.take().or_else(|| this.trailers.take());
                return Poll::Ready(next.map(Ok));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(data) = frame.data_ref() else {
                        this.trailers = Some(frame);
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    for (ctx, _) in &mut this.contexts {
                        ctx.update(data);
                    }
                    if let Some(previous) = this.held.replace(frame) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    if !this.verified() {
                        this.held = None;
                        this.trailers = None;
                        return Poll::Ready(Some(Err(Box::new(DigestMismatch))));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.held.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let held = self
            .held
            .as_ref()
            .and_then(|f| f.data_ref())
            .map_or(0, |d| d.len() as u64);
        hint.set_lower(hint.lower() + held);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    #[test]
    fn rfc9530_examples_parse_and_match() {
        // RFC 9530 B.1: {"hello": "world"} with sha-256.
        let v = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
        let check = BodyCheck::new(parse_content_digest(v).unwrap()).unwrap();
        assert!(check.matches(b"{\"hello\": \"world\"}"));
        assert!(!check.matches(b"{\"hello\": \"World\"}"));
        assert_eq!(
            content_digest(DigestAlg::Sha256, b"{\"hello\": \"world\"}"),
            v
        );
        assert_eq!(parse_content_digest("md5=:AAAA:").unwrap(), vec![]);
        assert!(parse_content_digest("sha-256=\"x\"").is_none());
    }

    async fn run(chunks: &[&'static [u8]], check: &BodyCheck) -> (Vec<u8>, bool) {
        let frames = chunks.iter().map(|c| {
            let frame = if *c == b"TRAILERS" {
                let mut t = http::HeaderMap::new();
                t.insert("x-t", http::HeaderValue::from_static("1"));
                Frame::trailers(t)
            } else {
                Frame::data(Bytes::from_static(c))
            };
            Ok::<_, std::convert::Infallible>(frame)
        });
        let body = StreamBody::new(futures_util::stream::iter(frames.collect::<Vec<_>>()));
        let mut checked = CheckedBody::new(body, check);
        let mut out = Vec::new();
        while let Some(frame) = checked.frame().await {
            match frame {
                Ok(f) => out.extend_from_slice(f.data_ref().map_or(&b""[..], |d| d)),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    #[tokio::test]
    async fn a_tampered_stream_never_delivers_its_last_bytes() {
        let check =
            BodyCheck::new(vec![(DigestAlg::Sha256, DigestAlg::Sha256.of(b"abcdef"))]).unwrap();
        assert_eq!(
            run(&[b"ab", b"cd", b"ef"], &check).await,
            (b"abcdef".to_vec(), true)
        );
        let (seen, ok) = run(&[b"ab", b"cd", b"eX"], &check).await;
        assert!(!ok);
        assert_eq!(seen, b"abcd", "the last frame is held back on a mismatch");
        // An empty frame or trailers after the data must not release the last bytes.
        assert_eq!(
            run(&[b"ab", b"cd", b"eX", b""], &check).await,
            (b"abcd".to_vec(), false)
        );
        assert_eq!(
            run(&[b"ab", b"eX", b"TRAILERS"], &check).await,
            (b"ab".to_vec(), false)
        );
        assert_eq!(
            run(&[b"abc", b"def", b"", b"TRAILERS"], &check).await,
            (b"abcdef".to_vec(), true)
        );
        let whole = Full::new(Bytes::from_static(b"abcdef"));
        let collected = CheckedBody::new(whole, &check).collect().await.unwrap();
        assert_eq!(collected.to_bytes(), "abcdef");
    }
}
