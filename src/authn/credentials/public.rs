//! Public keys of signed-request credentials: a PEM `PUBLIC KEY`
//! (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1), parsed once into the
//! form aws-lc-rs verifies with.

use super::algorithm::{Algorithm, KeyKind};
use aws_lc_rs::signature::ParsedPublicKey;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS,
    OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// A key's kind and its raw encoding (PKCS#1 for RSA, the point for EC, 32 bytes for Ed25519).
pub fn parse_pem(pem: &str) -> Result<(KeyKind, Vec<u8>), String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes())
        .map_err(|_| "public_key is not a PEM block".to_string())?;
    match block.label.as_str() {
        "RSA PUBLIC KEY" => Ok((KeyKind::Rsa, block.contents)),
        "PUBLIC KEY" => spki(&block.contents),
        other => Err(format!(
            "public_key is a PEM {other:?}; expected \"PUBLIC KEY\" or \"RSA PUBLIC KEY\" (never a private key)"
        )),
    }
}

fn spki(der: &[u8]) -> Result<(KeyKind, Vec<u8>), String> {
    let (_, info) = SubjectPublicKeyInfo::from_der(der)
        .map_err(|_| "public_key is not a valid SubjectPublicKeyInfo".to_string())?;
    let oid = &info.algorithm.algorithm;
    let raw = info.subject_public_key.data.to_vec();
    let kind = if *oid == OID_SIG_ED25519 {
        KeyKind::Ed25519
    } else if *oid == OID_PKCS1_RSAENCRYPTION || *oid == OID_PKCS1_RSASSAPSS {
        KeyKind::Rsa
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = info
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        if curve != Some(OID_EC_P256) {
            return Err("public_key: only the P-256 curve is supported for ECDSA".into());
        }
        KeyKind::EcP256
    } else {
        return Err(format!("public_key: unsupported key type {oid}"));
    };
    Ok((kind, raw))
}

/// Parses `raw` for one algorithm; refuses a key of the wrong kind or size.
pub fn for_algorithm(alg: Algorithm, kind: KeyKind, raw: &[u8]) -> Result<ParsedPublicKey, String> {
    if alg.key_kind() != kind {
        return Err(format!("a {kind:?} key cannot verify {}", alg.name()));
    }
    let verification = alg
        .verification()
        .ok_or_else(|| format!("{} is not a public-key algorithm", alg.name()))?;
    ParsedPublicKey::new(verification, raw).map_err(|_| {
        format!(
            "public_key is unusable for {} (RSA keys need 2048 bits or more)",
            alg.name()
        )
    })
}
