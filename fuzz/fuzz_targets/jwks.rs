//! JWKS documents and configured key material (PEM, JWKS, HMAC secrets).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::authn::jwt::keys::KeySet;

fuzz_target!(|data: &[u8]| {
    let _ = KeySet::from_jwks(data, false);
    let _ = KeySet::from_jwks(data, true);
    let _ = KeySet::from_config_bytes(data, false, &[jsonwebtoken::Algorithm::ES256]);
});
