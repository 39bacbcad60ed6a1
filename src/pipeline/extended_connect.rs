//! WebSocket over HTTP/2 (RFC 8441): an extended CONNECT with `:protocol`
//! is the HTTP/2 form of an HTTP/1.1 `Upgrade` GET. The gateway routes and
//! authenticates it as that GET, asks the (HTTP/1.1) upstream for the
//! upgrade with a key of its own (RFC 6455 §4.1: HTTP/2 clients send none),
//! checks the upstream's `Sec-WebSocket-Accept` against it, and answers
//! the client 200, after which the stream carries the frames.

use crate::body::ResBody;
use crate::error::GatewayError;
use base64::Engine;
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Version};

/// RFC 6455 §1.3: appended to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Turns an HTTP/2 extended CONNECT into the GET it stands for (its
/// `:protocol` stays in the extensions, see `protocol`); any other request
/// is left alone (a plain CONNECT stays CONNECT, which the gateway refuses).
pub(super) fn take<B>(req: &mut Request<B>) {
    if req.method() == Method::CONNECT
        && req.version() == Version::HTTP_2
        && req.extensions().get::<hyper::ext::Protocol>().is_some()
    {
        *req.method_mut() = Method::GET;
    }
}

/// The `:protocol` of a request `take` turned into a GET.
pub(super) fn protocol<B>(req: &Request<B>) -> Option<HeaderValue> {
    if req.method() != Method::GET || req.version() != Version::HTTP_2 {
        return None;
    }
    let p = req.extensions().get::<hyper::ext::Protocol>()?;
    HeaderValue::from_str(p.as_str()).ok()
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
pub(super) fn new_key() -> Result<HeaderValue, GatewayError> {
    let mut nonce = [0u8; 16];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| GatewayError::UpstreamFailed)?;
    let text = base64::engine::general_purpose::STANDARD.encode(nonce);
    HeaderValue::from_str(&text).map_err(|_| GatewayError::UpstreamFailed)
}

/// Whether `accept` is RFC 6455's answer to `key`: base64(SHA-1(key + GUID)).
pub(super) fn accepts(key: &HeaderValue, accept: Option<&HeaderValue>) -> bool {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(ACCEPT_GUID);
    let expected = base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref());
    // Public values (the key travelled in the clear): no secret to time.
    accept.is_some_and(|a| a.as_bytes() == expected.as_bytes())
}

/// The HTTP/2 client's answer to the upstream's 101: 200 with the
/// negotiated subprotocol and extensions, no connection-specific headers
/// and no body (the stream carries the frames).
pub(super) fn answer(response: Response<ResBody>) -> Response<ResBody> {
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::OK;
    for name in [
        header::CONNECTION,
        header::UPGRADE,
        header::SEC_WEBSOCKET_ACCEPT,
        header::CONTENT_LENGTH,
    ] {
        parts.headers.remove(name);
    }
    Response::from_parts(parts, crate::body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_value_is_rfc_6455s() {
        // RFC 6455 §1.3's example.
        let key = HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==");
        let good = HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(accepts(&key, Some(&good)));
        assert!(!accepts(
            &key,
            Some(&HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOp="))
        ));
        assert!(!accepts(&key, None));
        assert_eq!(new_key().unwrap().len(), 24);
    }

    #[test]
    fn only_an_h2_connect_with_a_protocol_is_taken() {
        let mut plain = Request::connect("example.com:443")
            .version(Version::HTTP_2)
            .body(())
            .unwrap();
        take(&mut plain);
        assert_eq!(plain.method(), Method::CONNECT);
        assert!(protocol(&plain).is_none());
        let mut ws = Request::connect("https://example.com/chat")
            .version(Version::HTTP_2)
            .extension(hyper::ext::Protocol::from_static("websocket"))
            .body(())
            .unwrap();
        take(&mut ws);
        assert_eq!(ws.method(), Method::GET);
        let p = protocol(&ws);
        assert_eq!(p.as_ref().map(|v| v.as_bytes()), Some(&b"websocket"[..]));
        let mut h1 = Request::get("/")
            .extension(hyper::ext::Protocol::from_static("websocket"))
            .body(())
            .unwrap();
        take(&mut h1);
        assert!(protocol(&h1).is_none());
    }
}
