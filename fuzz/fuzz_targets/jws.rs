//! JWS compact verification against a fixed Ed25519 key (RFC 8037 A.1):
//! arbitrary tokens are refused with a reason, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::authn::jwt::keys::KeySet;
use sealgate::authn::jwt::settings::{JwtSettings, KeySource};
use std::sync::OnceLock;

const JWKS: &[u8] =
    br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn fixture() -> &'static (KeySet, JwtSettings) {
    static F: OnceLock<(KeySet, JwtSettings)> = OnceLock::new();
    F.get_or_init(|| {
        let keys = KeySet::from_jwks(JWKS, false).unwrap();
        let settings = JwtSettings::with_defaults(
            "https://issuer.test",
            vec!["api".into()],
            vec![jsonwebtoken::Algorithm::EdDSA, jsonwebtoken::Algorithm::ES256],
            KeySource::Jwks("https://unused.test/jwks".parse().unwrap()),
        );
        (keys, settings)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (keys, settings) = fixture();
    let _ = sealgate::authn::jwt::verify(token, keys, settings, 1_700_000_000);
    let _ = sealgate::authn::jwt::unverified_issuer(token);
});
