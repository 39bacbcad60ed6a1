//! The request id: a client's `x-request-id` when it is short and plain,
//! otherwise a fresh one; it goes upstream, back on the answer and into the
//! access log, problem bodies and spans.

use http::header::{HeaderMap, HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a client's `x-request-id` when it is short and plain; otherwise makes a new one.
///
/// The value is marked sensitive: HPACK sends it "never indexed" (RFC 7541
/// §6.2.3), and its `Debug` prints `Sensitive` (logs render it with
/// `to_str`). An id unique per request would otherwise be inserted into the
/// HTTP/2 header table of the client's connection (on the answer) and of
/// the upstream's (on the request) every time, evicting the entries that do
/// repeat and lengthening the encoder's same-name chain it compares each new
/// id against. The same holds for the assertion and `traceparent`.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let mut id = client_request_id(headers).unwrap_or_else(|| {
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        let id = uuid::Uuid::new_v4().simple().encode_lower(&mut buf);
        HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    });
    id.set_sensitive(true);
    id
}

fn client_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let v = headers.get(&X_REQUEST_ID)?;
    let b = v.as_bytes();
    let plain = !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c));
    plain.then(|| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(&X_REQUEST_ID, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn request_ids() {
        assert_eq!(request_id(&with_id("abc-123")), "abc-123");
        assert_eq!(request_id(&with_id("bad value with spaces")).len(), 32);
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
        // Unique per request: never entered into an HPACK table.
        assert!(request_id(&HeaderMap::new()).is_sensitive());
        assert!(request_id(&with_id("abc-123")).is_sensitive());
    }
}
