//! Encrypted tokens on a `kind = "jwt"` authenticator (RFC 7516, nested JWTs
//! per RFC 7519 §5.2): the token is opened with the keys of `decryption`,
//! then the inner JWS is verified exactly as an unencrypted one.

use super::keys::KeySet;
use super::settings::JwtSettings;
use super::verify::{self, Verified};
use crate::authn::failure::AuthFailure;
use crate::jose::jwe::algs::JweFault;
use crate::jose::jwe::{self, Decryptor};
use serde_json::Value;

/// Opens a JWE and verifies what it holds: a nested JWS with this
/// authenticator's signing keys, or (if allowed, symmetric keys only) claims.
pub fn verify(
    token: &str,
    decryptor: &Decryptor,
    allow_unsigned: bool,
    keys: &KeySet,
    s: &JwtSettings,
    now: u64,
) -> Result<Verified, AuthFailure> {
    let opened = decryptor
        .decrypt(token, s.max_token_size)
        .map_err(AuthFailure::Undecryptable)?;
    if opened.nested {
        let inner = std::str::from_utf8(&opened.plaintext).map_err(|_| AuthFailure::Malformed)?;
        if jwe::jwe_shaped(inner) {
            // One layer of encryption around one signature; nothing deeper.
            return Err(AuthFailure::Malformed);
        }
        return verify::verify(inner, keys, s, now);
    }
    if !(allow_unsigned && opened.alg.symmetric()) {
        return Err(AuthFailure::Undecryptable(JweFault::Unsigned));
    }
    if let Some(expected) = &s.typ {
        match opened.header.get("typ").and_then(Value::as_str) {
            Some(t) if verify::typ_matches(t, expected) => {}
            _ => return Err(AuthFailure::WrongType),
        }
    }
    let claims = serde_json::from_slice::<crate::jose::UniqueObject>(&opened.plaintext)
        .map_err(|_| AuthFailure::Malformed)?
        .0;
    verify::check_claims(claims, s, now)
}
