//! Key generation for development and `sealgate keygen`: files are created new,
//! private keys with mode 0600, never overwriting an operator's file.

use std::path::{Path, PathBuf};

/// `certs/dev-jwt.pub.pem` -> `certs/dev-jwt.key`.
pub fn dev_private_path(public: &Path) -> PathBuf {
    let name = public.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let stem = name
        .strip_suffix(".pub.pem")
        .or_else(|| name.strip_suffix(".pem"))
        .unwrap_or(name);
    public.with_file_name(format!("{stem}.key"))
}

/// A new key pair for `alg`. Ed25519 keys are written as PKCS#8 v1 (RFC
/// 5208): the v2 form (RFC 5958, with the public key inside) that aws-lc
/// generates is refused by OpenSSL 3.0 and python-cryptography, and the
/// keys this command writes are meant to be used with other tools too.
pub fn key_pair(alg: &'static rcgen::SignatureAlgorithm) -> Result<rcgen::KeyPair, String> {
    if alg != &rcgen::PKCS_ED25519 {
        return rcgen::KeyPair::generate_for(alg).map_err(|e| format!("generating a key: {e}"));
    }
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let v1 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng)
        .map_err(|_| "generating a key: no randomness available".to_string())?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(v1.as_ref().to_vec());
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg)
        .map_err(|e| format!("generating a key: {e}"))
}

/// Generates an Ed25519 pair (PKCS#8 private PEM, SPKI public PEM) when the
/// public file is missing. Returns whether one was written.
pub fn ensure_ed25519(private: &Path, public: &Path) -> Result<bool, String> {
    if public.exists() {
        return Ok(false);
    }
    let pair = key_pair(&rcgen::PKCS_ED25519)?;
    crate::fsutil::write_new(private, pair.serialize_pem().as_bytes(), 0o600)?;
    if let Err(e) = crate::fsutil::write_new(public, pair.public_key_pem().as_bytes(), 0o644) {
        // Half a pair would make every later start fail on "file exists".
        let _ = std::fs::remove_file(private);
        return Err(e);
    }
    Ok(true)
}

/// Generates an Ed25519 private key (PKCS#8 PEM) at `private` when missing.
pub fn ensure_ed25519_private(private: &Path) -> Result<bool, String> {
    if private.exists() {
        return Ok(false);
    }
    let pair = key_pair(&rcgen::PKCS_ED25519)?;
    crate::fsutil::write_new(private, pair.serialize_pem().as_bytes(), 0o600)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn ed25519_keys_are_pkcs8_v1_and_usable() {
        let pair = key_pair(&rcgen::PKCS_ED25519).unwrap();
        let pem = pair.serialize_pem();
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        // SEQUENCE { INTEGER 0 (v1), AlgorithmIdentifier, OCTET STRING }: 48 bytes, no public key.
        assert_eq!(
            &der.secret_pkcs8_der()[..5],
            &[0x30, 0x2e, 0x02, 0x01, 0x00]
        );
        assert!(crate::jose::keys::signing_key(pem.as_bytes()).is_ok());
        assert!(pair.public_key_pem().contains("PUBLIC KEY"));
    }
}
