//! Loading a PEM certificate chain with its private key, checking that they
//! match, and its OCSP staple: shared by the TLS setup and `[listen]`
//! validation.

use super::ocsp::Staple;
use crate::net::provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;

/// Loads a PEM certificate chain and its private key, checking that they match.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM in {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate found in {}", cert.display()));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("unusable private key {}: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| format!("{} does not match {}: {e}", key.display(), cert.display()))?;
    Ok(Arc::new(certified))
}

/// A certificate as the listener serves it: with its OCSP staple until the
/// staple's `nextUpdate`, then without (a stale staple makes strict clients
/// fail; none makes them ask the CA), so a gateway that nobody reloaded
/// degrades to what it would do without stapling.
#[derive(Debug)]
pub struct Served {
    bare: Arc<CertifiedKey>,
    stapled: Option<(Arc<CertifiedKey>, u64)>,
}

impl Served {
    /// The key to present at `now` (Unix seconds).
    pub fn at(&self, now: u64) -> &Arc<CertifiedKey> {
        match &self.stapled {
            Some((k, until)) if now < *until => k,
            _ => &self.bare,
        }
    }
}

/// `load_certified_key` plus the optional DER OCSP staple at `staple`.
pub fn load_served(cert: &Path, key: &Path, staple: Option<&Path>) -> Result<Served, String> {
    let bare = load_certified_key(cert, key)?;
    let Some(path) = staple else {
        return Ok(Served {
            bare,
            stapled: None,
        });
    };
    let stapled = match super::ocsp::load(path, &bare.cert, unix_now())? {
        Staple::Current { der, until } => {
            let mut k = CertifiedKey::clone(&bare);
            k.ocsp = Some(der);
            Some((Arc::new(k), until))
        }
        Staple::Expired(ago) => {
            tracing::warn!(file = %path.display(), expired_secs_ago = ago,
                "OCSP staple past its nextUpdate: not stapled; fetch a new one and reload");
            None
        }
    };
    Ok(Served { bare, stapled })
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
