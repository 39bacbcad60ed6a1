//! RFC 9421 keys from a JWKS (`jwks_url`): a `keyid` not in the credentials
//! file names a JWK `kid`. The key's type and the authenticator's
//! `jwks_algorithms` decide the algorithm (a JWK's own `alg` narrows it);
//! the signature's `alg` parameter must agree.

use crate::authn::credentials::Algorithm;
use crate::authn::failure::AuthFailure;
use crate::authn::jwt::key::{Key, KeyType};
use aws_lc_rs::signature;

/// The algorithm a JWKS key verifies with, or `AlgNotAllowed`.
pub fn algorithm(
    key: &Key,
    allowed: &[Algorithm],
    requested: Option<&str>,
) -> Result<Algorithm, AuthFailure> {
    use jsonwebtoken::Algorithm as J;
    let fits = |a: Algorithm| {
        let type_fits = matches!(
            (key.kind, a),
            (KeyType::Ed25519, Algorithm::Ed25519)
                | (KeyType::EcP256, Algorithm::EcdsaP256Sha256)
                | (
                    KeyType::Rsa,
                    Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256
                )
        );
        let jwk_alg_fits = match key.alg {
            None => true,
            Some(j) => matches!(
                (j, a),
                (J::EdDSA, Algorithm::Ed25519)
                    | (J::ES256, Algorithm::EcdsaP256Sha256)
                    | (J::PS512, Algorithm::RsaPssSha512)
                    | (J::RS256, Algorithm::RsaV15Sha256)
            ),
        };
        type_fits && jwk_alg_fits && allowed.contains(&a)
    };
    match requested {
        Some(name) => Algorithm::parse(name)
            .filter(|a| fits(*a))
            .ok_or(AuthFailure::AlgNotAllowed),
        None => {
            let mut candidates = allowed.iter().copied().filter(|a| fits(*a));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(AuthFailure::AlgNotAllowed),
            }
        }
    }
}

/// Verifies `sig` over `message` with a JWKS key.
pub fn verify(key: &Key, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), AuthFailure> {
    let ok = match (alg, &key.parsed, &key.rsa) {
        (Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256, Some(parsed), _) => {
            parsed.verify_sig(message, sig).is_ok()
        }
        (Algorithm::RsaPssSha512, _, Some(rsa)) => rsa
            .verify(&signature::RSA_PSS_2048_8192_SHA512, message, sig)
            .is_ok(),
        (Algorithm::RsaV15Sha256, _, Some(rsa)) => rsa
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
            .is_ok(),
        _ => false,
    };
    ok.then_some(()).ok_or(AuthFailure::BadSignature)
}
