//! `htu` matching (RFC 9449 §4.3 check 9): the proof's URI against the
//! request's as received, without query and fragment, after RFC 3986
//! syntax-based (§6.2.2: case, percent-encoding, dot segments) and
//! scheme-based (§6.2.3: default port, empty path) normalization.

use http::Uri;

/// The request's URI as the client addressed it: its scheme (`https` unless
/// the target says otherwise, as an OHTTP inner request may), authority and path.
pub fn request_uri(target: &Uri, authority: &str) -> Option<String> {
    let scheme = target.scheme_str().unwrap_or("https");
    normalize(&format!("{scheme}://{authority}{}", target.path()))
}

/// The normalized form of an absolute `http(s)` URI, without query or fragment.
pub fn normalize(uri: &str) -> Option<String> {
    let uri = uri.split('#').next()?;
    let parsed: Uri = uri.parse().ok()?;
    let scheme = parsed.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = parsed.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    if !valid_host(&host) {
        return None;
    }
    // What follows the host is nothing, or ":" and an optional numeric port.
    let rest = authority.as_str().get(authority.host().len()..)?;
    match rest.strip_prefix(':') {
        None if rest.is_empty() => {}
        Some(p)
            if p.is_empty()
                || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()) => {}
        _ => return None,
    }
    let port = match authority.port_u16() {
        Some(p) if p != default_port => format!(":{p}"),
        _ => String::new(),
    };
    let path = remove_dot_segments(&normalize_escapes(parsed.path())?);
    let path = if path.is_empty() { "/".into() } else { path };
    Some(format!("{scheme}://{host}{port}{path}"))
}

/// A DNS name or IPv4 address (letters, digits, `-`, `.`, `_`), or a
/// bracketed IPv6 literal: nothing a URI parser could read two ways.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Upper-case hex in escapes, and unreserved characters decoded (§6.2.2.1-2).
/// Works on bytes: anything that is not an escape is copied as it is (a raw
/// non-ASCII byte stays the byte it was), so normalizing twice changes nothing.
fn normalize_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3)?;
        let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
            out.push(value);
        } else {
            out.extend_from_slice(format!("%{value:02X}").as_bytes());
        }
        i += 3;
    }
    // Only ASCII was decoded and the rest copied from a `str`: still UTF-8.
    String::from_utf8(out).ok()
}

/// RFC 3986 §5.2.4, on a path whose escapes are already normalized.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    if out.is_empty() {
        return if path.is_empty() {
            String::new()
        } else {
            "/".into()
        };
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_uris_normalize_alike() {
        let want = Some("https://server.example.com/token".to_string());
        for same in [
            "https://server.example.com/token",
            "HTTPS://Server.Example.COM:443/token",
            "https://server.example.com/token?x=1#frag",
            "https://server.example.com/a/../token",
            "https://server.example.com/./token",
            "https://server.example.com/%74oken",
        ] {
            assert_eq!(normalize(same), want, "{same}");
        }
        assert_eq!(
            normalize("https://[::1]:8443/x"),
            Some("https://[::1]:8443/x".into())
        );
        assert_eq!(
            normalize("https://h.example:8443"),
            Some("https://h.example:8443/".into())
        );
        assert_eq!(
            normalize("https://h/a%2fb"),
            Some("https://h/a%2Fb".into()),
            "escapes of reserved characters stay escaped, upper-cased"
        );
        for other in [
            "https://server.example.com/token2",
            "http://server.example.com/token",
            "https://server.example.com:8443/token",
            "https://evil.example/token",
        ] {
            assert_ne!(normalize(other), want, "{other}");
        }
        for bad in [
            "/token",
            "ftp://h/x",
            "https://u@h/x",
            "https://h/%zz",
            "https://://h",
            "https://h[x:i]U",
            "https://h:abc/x",
            "https://h:99999/x",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        // Found by fuzzing: a raw non-ASCII path byte must survive as is, so
        // that normalizing twice changes nothing.
        let odd = "https://h.example/ab\u{ce}\u{ae}c";
        let once = normalize(odd).unwrap();
        assert_eq!(normalize(&once).as_deref(), Some(once.as_str()));
        let target: Uri = "/token?a=b".parse().unwrap();
        assert_eq!(request_uri(&target, "Server.example.com:443"), want);
    }
}
