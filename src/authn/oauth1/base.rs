//! RFC 5849 §3.4.1: the signature base string, built exactly as the RFC
//! says. Parameters come from the `Authorization: OAuth` header (§3.5.1), the
//! query and a form body (§3.4.1.3.1); each name and value is
//! percent-encoded (§3.6), sorted, and joined; the base string URI has a
//! lowercase scheme and host and no default port (§3.4.1.2).

use percent_encoding::{percent_decode_str, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the RFC 3986 unreserved characters (§3.6).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// §3.6 percent-encoding.
pub fn encode(raw: &[u8]) -> String {
    percent_encoding::percent_encode(raw, UNRESERVED).to_string()
}

/// The parameters of an `Authorization: OAuth ...` header (§3.5.1), decoded;
/// `None` when it is not well formed.
pub fn header_params(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim_start().split_at_checked(5)?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, quoted) = part.split_once('=')?;
        let value = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        out.push((decode(name.trim())?, decode(value)?));
    }
    Some(out)
}

/// A query or form body's parameters, decoded (`+` is a space, §3.4.1.3.1);
/// `None` when a name or value is not UTF-8 once decoded: a lossy decoding
/// would let different bytes share one base string.
pub fn form_params(data: &[u8]) -> Option<Vec<(String, String)>> {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(bytes).ok()
    };
    data.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// §3.4.1.2: `scheme://host[:port]/path`, default port left out.
pub fn base_uri(scheme: &str, authority: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let default = if scheme == "http" { ":80" } else { ":443" };
    let host = authority.strip_suffix(default).unwrap_or(&authority);
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{host}{path}")
}

/// §3.4.1: `METHOD&encode(uri)&encode(normalized parameters)`, where the
/// parameters exclude `oauth_signature` and the header's `realm`.
pub fn base_string(method: &str, uri: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .map(|(k, v)| (encode(k.as_bytes()), encode(v.as_bytes())))
        .collect();
    pairs.sort();
    let normalized: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(uri.as_bytes()),
        encode(normalized.join("&").as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 §3.4.1.1: the example request and its base string.
    #[test]
    fn rfc5849_section_3_4_1_1_base_string() {
        let header = r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#;
        let mut params: Vec<_> = header_params(header)
            .unwrap()
            .into_iter()
            .filter(|(k, _)| k != "realm")
            .collect();
        params.extend(form_params(b"b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap());
        params.extend(form_params(b"c2&a3=2+q").unwrap());
        let uri = base_uri("http", "example.com", "/request");
        let expected = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7";
        assert_eq!(base_string("POST", &uri, &params), expected);
    }

    /// RFC 5849 §1.2: the "initiate" request (consumer secret only, as in
    /// 2-legged use) and the "photos" request (with the token secret) sign to
    /// the printed signatures.
    #[test]
    fn rfc5849_section_1_2_signatures_reproduce() {
        use aws_lc_rs::hmac;
        let sign = |base: &str, key: &str| {
            let tag = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes()),
                base.as_bytes(),
            );
            encode(
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, tag.as_ref())
                    .as_bytes(),
            )
        };
        let initiate = header_params(r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131200", oauth_nonce="wIjqoS", oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready", oauth_signature="74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D""#).unwrap();
        let params: Vec<_> = initiate.into_iter().filter(|(k, _)| k != "realm").collect();
        let base = base_string(
            "POST",
            &base_uri("https", "photos.example.net", "/initiate"),
            &params,
        );
        assert_eq!(
            sign(&base, "kd94hf93k423kf44&"),
            "74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D"
        );
        let photos = header_params(r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D""#).unwrap();
        let mut params: Vec<_> = photos.into_iter().filter(|(k, _)| k != "realm").collect();
        params.extend(form_params(b"file=vacation.jpg&size=original").unwrap());
        let base = base_string(
            "GET",
            &base_uri("http", "photos.example.net", "/photos"),
            &params,
        );
        assert_eq!(
            sign(&base, "kd94hf93k423kf44&pfkkdhi9sl3r4s00"),
            "MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"
        );
    }

    #[test]
    fn base_uri_drops_default_ports_only() {
        assert_eq!(
            base_uri("HTTPS", "Example.COM:443", "/r"),
            "https://example.com/r"
        );
        assert_eq!(
            base_uri("http", "example.com:8080", ""),
            "http://example.com:8080/"
        );
        assert!(header_params("Bearer x").is_none());
        assert!(
            form_params(b"a=%FF").is_none(),
            "invalid UTF-8 is refused, not replaced"
        );
        assert!(header_params("OAuthx a=\"b\"").is_none());
    }
}
