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

/// Generates an Ed25519 pair (PKCS#8 private PEM, SPKI public PEM) when the
/// public file is missing. Returns whether one was written.
pub fn ensure_ed25519(private: &Path, public: &Path) -> Result<bool, String> {
    if public.exists() {
        return Ok(false);
    }
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| format!("generating a key: {e}"))?;
    crate::fsutil::write_new(private, pair.serialize_pem().as_bytes(), 0o600)?;
    crate::fsutil::write_new(public, pair.public_key_pem().as_bytes(), 0o644)?;
    Ok(true)
}

/// Generates an Ed25519 private key (PKCS#8 PEM) at `private` when missing.
pub fn ensure_ed25519_private(private: &Path) -> Result<bool, String> {
    if private.exists() {
        return Ok(false);
    }
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| format!("generating a key: {e}"))?;
    crate::fsutil::write_new(private, pair.serialize_pem().as_bytes(), 0o600)?;
    Ok(true)
}
