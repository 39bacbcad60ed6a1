//! One verification key: its type (so a token's `alg` must fit the key it
//! selects), the decoding key, and the public key parsed once for aws-lc-rs;
//! reading a PEM `PUBLIC KEY`; and the algorithm names the configuration takes.

use jsonwebtoken::{Algorithm, DecodingKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::SubjectPublicKeyInfoDer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Hmac,
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyType {
    /// Whether a token signed with `alg` may be verified by a key of this type.
    pub fn allows(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyType::Hmac, HS256 | HS384 | HS512)
                | (KeyType::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyType::EcP256, ES256)
                | (KeyType::EcP384, ES384)
                | (KeyType::Ed25519, EdDSA)
        )
    }
}

pub struct Key {
    pub kid: Option<String>,
    pub kind: KeyType,
    /// A JWK's own `alg`, which further restricts it.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
    /// EC and Ed25519 keys parsed once (aws-lc-rs), instead of on every verification.
    pub parsed: Option<aws_lc_rs::signature::ParsedPublicKey>,
    /// An RSA JWK's modulus and exponent, for verifiers outside JOSE (RFC 9421).
    pub rsa: Option<aws_lc_rs::signature::RsaPublicKeyComponents<Vec<u8>>>,
}

/// Pre-parses the public key of an EC or Ed25519 key from its raw encoding
/// (uncompressed point, or the 32-byte Ed25519 key).
pub(super) fn parse_raw(
    kind: KeyType,
    raw: &[u8],
) -> Option<aws_lc_rs::signature::ParsedPublicKey> {
    use aws_lc_rs::signature::{
        ParsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519,
    };
    let alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match kind {
        KeyType::EcP256 => &ECDSA_P256_SHA256_FIXED,
        KeyType::EcP384 => &ECDSA_P384_SHA384_FIXED,
        KeyType::Ed25519 => &ED25519,
        _ => return None,
    };
    ParsedPublicKey::new(alg, raw).ok()
}

/// The raw key at the end of a SubjectPublicKeyInfo (its BIT STRING contents).
fn spki_raw(kind: KeyType, der: &[u8]) -> Option<&[u8]> {
    let n = match kind {
        KeyType::EcP256 => 65,
        KeyType::EcP384 => 97,
        KeyType::Ed25519 => 32,
        _ => return None,
    };
    der.len().checked_sub(n).map(|start| &der[start..])
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo) as a verification key.
pub fn pem_public_key(pem: &[u8]) -> Result<Key, String> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
        .map_err(|_| "expected a PEM \"PUBLIC KEY\" or a JWKS document".to_string())?;
    let der = der.as_ref();
    let (kind, key) = if contains(der, OID_ED25519) {
        (KeyType::Ed25519, DecodingKey::from_ed_pem(pem))
    } else if contains(der, OID_P256) {
        (KeyType::EcP256, DecodingKey::from_ec_pem(pem))
    } else if contains(der, OID_P384) {
        (KeyType::EcP384, DecodingKey::from_ec_pem(pem))
    } else if contains(der, OID_RSA) {
        (KeyType::Rsa, DecodingKey::from_rsa_pem(pem))
    } else {
        return Err("unsupported public key type (expected RSA, P-256, P-384 or Ed25519)".into());
    };
    Ok(Key {
        kid: None,
        kind,
        alg: None,
        key: key.map_err(|e| format!("unusable public key: {e}"))?,
        parsed: spki_raw(kind, der).and_then(|r| parse_raw(kind, r)),
        rsa: None,
    })
}

pub fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

pub fn is_hmac(a: Algorithm) -> bool {
    matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}
