//! Request-path normalization, done once before route matching so that the
//! route chosen and the path forwarded always agree.
//!
//! Steps: refuse backslashes, encoded slashes/backslashes and NUL; decode
//! percent-encoded unreserved characters (RFC 3986 §6.2.2.2) and upper-case the
//! remaining escapes; merge repeated slashes; remove dot-segments (§5.2.4).
//! `/public/%2e%2e/admin` therefore becomes `/admin` and is routed as `/admin`.

/// Why a path was refused (answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    Backslash,
    EncodedSlash,
    EncodedNul,
    BadEscape,
}

impl PathError {
    pub fn describe(self) -> &'static str {
        match self {
            PathError::Backslash => "the path contains a backslash",
            PathError::EncodedSlash => "the path contains an encoded slash or backslash (%2F, %5C)",
            PathError::EncodedNul => "the path contains an encoded NUL (%00)",
            PathError::BadEscape => "the path contains an invalid percent-escape",
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Normalizes a request path (without query). Already-normal paths come back unchanged.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut decoded: Vec<u8> = Vec::with_capacity(raw.len() + 1);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' => return Err(PathError::Backslash),
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::BadEscape);
                };
                let v = h * 16 + l;
                match v {
                    b'/' | b'\\' => return Err(PathError::EncodedSlash),
                    0 => return Err(PathError::EncodedNul),
                    v if is_unreserved(v) => decoded.push(v),
                    v => {
                        decoded.push(b'%');
                        decoded.push(b"0123456789ABCDEF"[usize::from(v >> 4)]);
                        decoded.push(b"0123456789ABCDEF"[usize::from(v & 15)]);
                    }
                }
                i += 3;
                continue;
            }
            // Any other byte is kept as it is: `http::Uri` lets raw
            // non-ASCII bytes through, and they must reach the backend unchanged.
            _ => decoded.push(b),
        }
        i += 1;
    }
    // Only ASCII was decoded and the rest copied from a `str`: still UTF-8.
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::BadEscape)?;
    Ok(remove_dot_segments(&decoded))
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for seg in path.split('/') {
        trailing_slash = false;
        match seg {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                out.pop();
                trailing_slash = true;
            }
            s => out.push(s),
        }
    }
    let mut result = String::with_capacity(path.len() + 1);
    for s in &out {
        result.push('/');
        result.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        result.push('/');
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, PathError> {
        normalize_path(p)
    }

    #[test]
    fn normal_paths_are_unchanged() {
        for p in [
            "/",
            "/a",
            "/a/",
            "/a/b.json",
            "/a;x=1/b",
            "/%C3%A9t%C3%A9",
            "/a%20b",
            // Found by fuzzing: raw non-ASCII bytes were re-encoded as if
            // each byte were a character (double UTF-8) before this.
            "/caf\u{e9}/\u{d1}\u{a1}",
        ] {
            assert_eq!(n(p).as_deref(), Ok(p), "{p}");
        }
    }

    #[test]
    fn dot_segments_and_slashes() {
        assert_eq!(n("/public/../admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/public/%2e%2e/admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/public/%2E%2E/%2e/admin/").as_deref(), Ok("/admin/"));
        assert_eq!(n("/../../etc/passwd").as_deref(), Ok("/etc/passwd"));
        assert_eq!(n("//admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/a/./b/.").as_deref(), Ok("/a/b/"));
        assert_eq!(n("/a/b/..").as_deref(), Ok("/a/"));
        assert_eq!(n("").as_deref(), Ok("/"));
        assert_eq!(n("/..").as_deref(), Ok("/"));
    }

    #[test]
    fn escapes_are_decoded_or_canonicalized() {
        assert_eq!(n("/%61dmin").as_deref(), Ok("/admin"));
        assert_eq!(n("/a%7eb").as_deref(), Ok("/a~b"));
        assert_eq!(n("/a%3fb").as_deref(), Ok("/a%3Fb"));
    }

    #[test]
    fn refusals() {
        assert_eq!(n("/a%2Fb"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a%2fb"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a%5cb"), Err(PathError::EncodedSlash));
        assert_eq!(n("/a\\b"), Err(PathError::Backslash));
        assert_eq!(n("/a%00"), Err(PathError::EncodedNul));
        assert_eq!(n("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(n("/a%2"), Err(PathError::BadEscape));
    }
}
