//! Request hygiene before routing: header limits, an unambiguous authority
//! and a transfer coding every hop frames the same way.

use crate::error::GatewayError;
use http::{header, HeaderMap, HeaderValue, Request};

/// The authority the client addressed: the request target's (HTTP/2
/// `:authority`, HTTP/1.1 absolute-form) or the one Host header. Refused
/// (400 `bad_host`) when backends could read it differently: userinfo in it
/// (`user@host` would copy credentials into Host and Forwarded, and match
/// wildcard routes on the wrong name), two Host headers (RFC 9110 §7.2), or
/// an HTTP/2 `host` that names another authority (RFC 9113 §8.3.1).
pub(super) fn request_authority<B>(req: &Request<B>) -> Result<String, GatewayError> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(GatewayError::BadHost);
    }
    let host = match host {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| GatewayError::BadHost)?),
    };
    let authority = match (req.uri().authority(), host) {
        (Some(a), Some(h))
            if req.version() == http::Version::HTTP_2 && !a.as_str().eq_ignore_ascii_case(h) =>
        {
            return Err(GatewayError::BadHost)
        }
        (Some(a), _) => a.as_str(),
        (None, Some(h)) if !h.is_empty() && h.parse::<http::uri::Authority>().is_ok() => h,
        (None, _) => return Err(GatewayError::MissingHost),
    };
    if authority.contains('@') {
        return Err(GatewayError::BadHost);
    }
    Ok(authority.to_string())
}

/// RFC 9113 §8.2.1: an HTTP/2 field value must not begin or end with
/// whitespace (HTTP/1.1 parsing trims it, so backends would see another
/// value than the gateway checked). 400 `malformed_header`.
pub(super) fn h2_field_values<B>(req: &Request<B>) -> Result<(), GatewayError> {
    if req.version() != http::Version::HTTP_2 {
        return Ok(());
    }
    let padded = |v: &HeaderValue| {
        let b = v.as_bytes();
        matches!(b.first(), Some(b' ' | b'\t')) || matches!(b.last(), Some(b' ' | b'\t'))
    };
    if req.headers().values().any(padded) {
        return Err(GatewayError::MalformedHeader);
    }
    Ok(())
}

/// RFC 9113 §8.2.3: HTTP/2 may split `cookie` into several fields; before
/// forwarding they are joined with "; " into one, as HTTP/1.1 requires.
pub(super) fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(header::COOKIE).iter().nth(1).is_none() {
        return;
    }
    let parts: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let joined = parts.join(&b"; "[..]);
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, v);
    }
}

/// RFC 9112 §6.1: the only transfer coding a request may carry here is one
/// `chunked`, written once. Any other coding is 501; a repeated, split or
/// empty-element list is 400. Proxies in front may frame such bodies
/// differently, which is how requests get smuggled.
pub(super) fn transfer_coding(headers: &HeaderMap) -> Result<(), GatewayError> {
    let lines: Vec<&HeaderValue> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if lines.is_empty() {
        return Ok(());
    }
    let mut codings = Vec::new();
    for line in &lines {
        let text = line.to_str().map_err(|_| GatewayError::BadTransferCoding)?;
        codings.extend(text.split(',').map(|c| c.trim().to_ascii_lowercase()));
    }
    if codings.iter().any(|c| !c.is_empty() && c != "chunked") {
        return Err(GatewayError::UnsupportedTransferCoding);
    }
    if lines.len() != 1 || codings.len() != 1 || codings[0] != "chunked" {
        return Err(GatewayError::BadTransferCoding);
    }
    Ok(())
}

pub(super) fn check_header_limits(
    headers: &HeaderMap,
    max_count: usize,
    max_bytes: usize,
) -> Result<(), GatewayError> {
    if headers.len() > max_count {
        return Err(GatewayError::TooManyHeaders);
    }
    let total: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if total > max_bytes {
        return Err(GatewayError::HeadersTooLarge);
    }
    Ok(())
}

/// The answer to `OPTIONS *` (RFC 9110 §9.3.7): what the gateway forwards.
pub fn server_options() -> http::Response<crate::body::ResBody> {
    let mut resp = http::Response::new(crate::body::empty());
    *resp.status_mut() = http::StatusCode::NO_CONTENT;
    resp.headers_mut().insert(
        http::header::ALLOW,
        http::HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: http::Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().version(version).uri(uri);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_one_plain_chunked_passes() {
        let h = |values: &[&str]| {
            let mut m = HeaderMap::new();
            for v in values {
                m.append(header::TRANSFER_ENCODING, HeaderValue::from_str(v).unwrap());
            }
            transfer_coding(&m)
        };
        assert_eq!(h(&[]), Ok(()));
        assert_eq!(h(&["chunked"]), Ok(()));
        assert_eq!(h(&["Chunked"]), Ok(()));
        assert_eq!(
            h(&["gzip, chunked"]),
            Err(GatewayError::UnsupportedTransferCoding)
        );
        assert_eq!(
            h(&["identity, chunked"]),
            Err(GatewayError::UnsupportedTransferCoding)
        );
        assert_eq!(h(&[",chunked"]), Err(GatewayError::BadTransferCoding));
        assert_eq!(
            h(&["chunked", "chunked"]),
            Err(GatewayError::BadTransferCoding)
        );
        assert_eq!(
            h(&["chunked, chunked"]),
            Err(GatewayError::BadTransferCoding)
        );
    }

    #[test]
    fn the_authority_must_be_unambiguous() {
        use http::Version;
        let ok = |r: Request<()>| request_authority(&r);
        assert_eq!(
            ok(req(Version::HTTP_11, "/x", &["api.example"])),
            Ok("api.example".into())
        );
        assert_eq!(
            ok(req(
                Version::HTTP_2,
                "https://api.example/x",
                &["API.example"]
            )),
            Ok("api.example".into())
        );
        assert_eq!(
            ok(req(
                Version::HTTP_2,
                "https://api.example/x",
                &["admin.example"]
            )),
            Err(GatewayError::BadHost)
        );
        // HTTP/1.1 absolute-form: the target wins and Host is ignored (RFC 9112 §3.2.2).
        assert_eq!(
            ok(req(
                Version::HTTP_11,
                "https://api.example/x",
                &["admin.example"]
            )),
            Ok("api.example".into())
        );
        assert_eq!(
            ok(req(Version::HTTP_11, "/x", &["a.example", "b.example"])),
            Err(GatewayError::BadHost)
        );
        assert_eq!(
            ok(req(Version::HTTP_11, "/x", &["u:p@a.example"])),
            Err(GatewayError::BadHost)
        );
        assert_eq!(
            ok(req(Version::HTTP_2, "https://u@a.example/x", &[])),
            Err(GatewayError::BadHost)
        );
        assert_eq!(
            ok(req(Version::HTTP_11, "/x", &[])),
            Err(GatewayError::MissingHost)
        );
    }
}
