//! Reading credentials from headers: Authorization (Bearer, DPoP), cookies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::authn::extract;

fuzz_target!(|data: &[u8]| {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|&b| b == b'\n').take(8) {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (&b"authorization"[..], line),
        };
        let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(n, v);
    }
    if let Ok(Some(token)) = extract::bearer(&headers) {
        assert!(!token.is_empty());
    }
    let _ = extract::scheme(&headers);
    let _ = extract::cookie(&headers, "session");
    extract::remove_cookie(&mut headers, "session");
});
