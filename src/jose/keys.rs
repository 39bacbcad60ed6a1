//! The gateway's own signing keys: a PKCS#8 key (Ed25519 or P-256), loaded
//! once, and the public JWK published for it (RFC 7638 thumbprint as `kid`).
//! Used by the signer, `[identity]` and `[issuer]` validation.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, Signature, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::Algorithm;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// A loaded signing key: parsed once, used for every assertion.
pub enum SigningKey {
    /// Ed25519 signs `EdDSA` (RFC 8037).
    Ed25519(Ed25519KeyPair),
    /// P-256 signs `ES256` (RFC 7518 §3.4, fixed-width r||s).
    P256(EcdsaKeyPair, SystemRandom),
}

impl SigningKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::EdDSA,
            SigningKey::P256(..) => Algorithm::ES256,
        }
    }

    pub fn public_raw(&self) -> &[u8] {
        match self {
            SigningKey::Ed25519(k) => k.public_key().as_ref(),
            SigningKey::P256(k, _) => k.public_key().as_ref(),
        }
    }

    pub fn sign(&self, input: &[u8]) -> Result<Signature, String> {
        match self {
            SigningKey::Ed25519(k) => Ok(k.sign(input)),
            SigningKey::P256(k, rng) => k
                .sign(rng, input)
                .map_err(|_| "ES256 signing failed".to_string()),
        }
    }
}

/// Reads a PKCS#8 PEM private key (v1 or v2): Ed25519 signs EdDSA, P-256 signs ES256.
pub fn signing_key(pem: &[u8]) -> Result<SigningKey, String> {
    let der =
        PrivateKeyDer::from_pem_slice(pem).map_err(|_| "expected a PEM private key".to_string())?;
    let der = der.secret_der();
    if contains(der, OID_ED25519) {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(SigningKey::Ed25519)
            .map_err(|e| format!("unusable Ed25519 private key: {e}"))
    } else if contains(der, OID_P256) {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map(|k| SigningKey::P256(k, SystemRandom::new()))
            .map_err(|e| format!("unusable P-256 private key: {e}"))
    } else {
        Err("the assertion key must be an Ed25519 or P-256 private key (PKCS#8 PEM)".into())
    }
}

/// A JWK for a raw public key: 32 bytes (Ed25519) or a 65-byte uncompressed P-256 point.
pub fn jwk_from_raw(raw: &[u8], alg: Algorithm) -> Result<Jwk, String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let doc = match (alg, raw.len()) {
        (Algorithm::EdDSA, 32) => {
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "alg": "EdDSA"})
        }
        (Algorithm::ES256, 65) if raw[0] == 4 => {
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..]), "alg": "ES256"})
        }
        _ => return Err("unexpected public key encoding".into()),
    };
    let mut jwk: Jwk = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_id = Some(
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?,
    );
    Ok(jwk)
}

/// A published public key (SPKI PEM) as a JWK, for rotation (`publish_also`).
pub fn public_jwk(pem: &[u8]) -> Result<Jwk, String> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
        .map_err(|_| "expected a PEM public key".to_string())?;
    let der = der.as_ref();
    // The key is the BIT STRING that ends the SubjectPublicKeyInfo.
    if contains(der, OID_ED25519) && der.len() >= 32 {
        jwk_from_raw(&der[der.len() - 32..], Algorithm::EdDSA)
    } else if contains(der, OID_P256) && der.len() >= 65 {
        jwk_from_raw(&der[der.len() - 65..], Algorithm::ES256)
    } else {
        Err("published keys must be Ed25519 or P-256 public keys".into())
    }
}
