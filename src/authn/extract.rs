//! Where credentials are on a request, and reading them without trusting them:
//! the `Authorization: Bearer` value checked against RFC 6750's b64token, a
//! named cookie, or a configured header. Envoy's `extractor.h` is the model:
//! the extractor knows where a credential is, and how to remove it.

use super::failure::AuthFailure;
use http::{header, HeaderMap, HeaderValue};

/// Where a token-carrying authenticator reads its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie(String),
    Header(http::HeaderName),
}

/// The token at `source`, if the request carries one.
pub fn token<'a>(
    headers: &'a HeaderMap,
    source: &TokenSource,
) -> Result<Option<&'a str>, AuthFailure> {
    match source {
        TokenSource::Bearer => bearer(headers),
        TokenSource::Header(name) => match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|t| Some(t.trim()))
                .map_err(|_| AuthFailure::Malformed),
        },
        TokenSource::Cookie(name) => Ok(cookie(headers, name)),
    }
}

/// Removes the credential at `source` (the `Authorization` header is removed
/// separately, with every other credential header, by `identity::strip`).
pub fn strip(headers: &mut HeaderMap, source: &TokenSource) {
    match source {
        TokenSource::Bearer => {}
        TokenSource::Header(name) => {
            headers.remove(name);
        }
        TokenSource::Cookie(name) => remove_cookie(headers, name),
    }
}

/// RFC 6750 §2.1 b64token: 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/") *"=".
/// The characters as a table:
/// the check runs over every byte of every bearer token.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    t
};

/// The `Authorization` scheme a token came with: RFC 6750 `Bearer`, or
/// RFC 9449 `DPoP` (a sender-constrained token, with a proof beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The token in `Authorization: Bearer` or `Authorization: DPoP` (RFC 9449
/// §7.1 uses the same token68 syntax); what the scheme means is for the
/// authenticator's DPoP policy (`authn::dpop`) to decide.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthFailure> {
    authorization(headers).map(|t| t.map(|(_, token)| token))
}

/// The scheme of the `Authorization` token, when it is `Bearer` or `DPoP`.
/// Reads only the scheme word: the token itself was validated when it was
/// extracted, and this runs on every request a token authenticator verifies.
pub fn scheme(headers: &HeaderMap) -> Option<Scheme> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let word = &value[..value.iter().position(|&b| b == b' ')?];
    if word.eq_ignore_ascii_case(b"bearer") {
        Some(Scheme::Bearer)
    } else if word.eq_ignore_ascii_case(b"dpop") {
        Some(Scheme::Dpop)
    } else {
        None
    }
}

fn authorization(headers: &HeaderMap) -> Result<Option<(Scheme, &str)>, AuthFailure> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(AuthFailure::Malformed);
    }
    let bytes = value.as_bytes();
    let Some(space) = bytes.iter().position(|&b| b == b' ') else {
        return Err(AuthFailure::Malformed);
    };
    let scheme = match &bytes[..space] {
        s if s.eq_ignore_ascii_case(b"bearer") => Scheme::Bearer,
        s if s.eq_ignore_ascii_case(b"dpop") => Scheme::Dpop,
        _ => return Ok(None),
    };
    let mut token = &bytes[space + 1..];
    while let [b' ', rest @ ..] = token {
        token = rest;
    }
    let mut body = token;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    let valid = !body.is_empty() && body.iter().all(|&b| B64TOKEN[usize::from(b)]);
    if !valid {
        return Err(AuthFailure::Malformed);
    }
    // Only ASCII passed the table, so this cannot fail.
    std::str::from_utf8(token)
        .map(|t| Some((scheme, t)))
        .map_err(|_| AuthFailure::Malformed)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Removes cookie `name`, keeping the others.
pub fn remove_cookie(headers: &mut HeaderMap, name: &str) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').map_or(*pair, |(k, _)| k) != name)
        .map(str::to_string)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer abc.def.ghi")])),
            Ok(Some("abc.def.ghi"))
        );
        assert_eq!(
            bearer(&h(&[("authorization", "bearer abc")])),
            Ok(Some("abc"))
        );
        assert_eq!(bearer(&h(&[("authorization", "Basic dXNlcg==")])), Ok(None));
        let dpop = h(&[("authorization", "DPoP abc.def.ghi")]);
        assert_eq!(bearer(&dpop), Ok(Some("abc.def.ghi")));
        assert_eq!(scheme(&dpop), Some(Scheme::Dpop));
        assert_eq!(
            scheme(&h(&[("authorization", "Bearer x")])),
            Some(Scheme::Bearer)
        );
        assert_eq!(bearer(&h(&[])), Ok(None));
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer a b")])),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer")])),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer  a-b.c_d~e+f/g==")])),
            Ok(Some("a-b.c_d~e+f/g=="))
        );
        for bad in ["Bearer a=b", "Bearer ==", "Bearer a\tb", "Bearer a,b"] {
            let mut m = HeaderMap::new();
            m.insert(
                header::AUTHORIZATION,
                http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            assert_eq!(bearer(&m), Err(AuthFailure::Malformed), "{bad:?}");
        }
        let mut m = HeaderMap::new();
        m.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer ab\xffc").unwrap(),
        );
        assert_eq!(bearer(&m), Err(AuthFailure::Malformed), "opaque bytes");
        assert_eq!(
            bearer(&h(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Err(AuthFailure::Malformed)
        );
    }

    #[test]
    fn cookie_extraction() {
        let m = h(&[("cookie", "a=1; session=tok; b=2")]);
        assert_eq!(cookie(&m, "session"), Some("tok"));
        assert_eq!(cookie(&m, "sess"), None);
    }

    #[test]
    fn cookie_removal_keeps_the_others() {
        let mut h = h(&[("cookie", "a=1; session=tok; b=2")]);
        remove_cookie(&mut h, "session");
        assert_eq!(h[header::COOKIE], "a=1; b=2");
        remove_cookie(&mut h, "a");
        remove_cookie(&mut h, "b");
        assert!(!h.contains_key(header::COOKIE));
    }
}
