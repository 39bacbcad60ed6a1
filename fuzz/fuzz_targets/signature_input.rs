//! RFC 9421 Signature-Input / Signature dictionaries and RFC 9530
//! Content-Digest values (structured fields).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sealgate::authn::signature::input::dictionary(text);
    let _ = sealgate::digest::parse_content_digest(text);
});
