//! TLS for both directions, with one crypto provider (aws-lc-rs) everywhere:
//! the downstream `ServerConfig` (TLS 1.2/1.3, ALPN h2 + http/1.1, certificates
//! chosen by SNI, optional client certificates), the dev certificate, and the
//! upstream `ClientConfig`.

use super::certs::load_certified_key;
use super::settings::{ClientAuth, Tls};
use crate::net::{load_roots, provider, VERSIONS};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// Picks the certificate for the SNI name: exact, then wildcard, then the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    suffix: Vec<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return Some(self.default.clone());
        };
        let name = name.to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return Some(k.clone());
        }
        self.suffix
            .iter()
            .find(|(s, _)| {
                name.len() > s.len()
                    && name.ends_with(s.as_str())
                    && !name[..name.len() - s.len()].contains('.')
            })
            .map(|(_, k)| k.clone())
            .or_else(|| Some(self.default.clone()))
    }
}

/// Builds the listener's TLS configuration.
pub fn server_config(tls: &Tls) -> Result<ServerConfig, String> {
    let default = load_certified_key(&tls.cert, &tls.key)?;
    let mut exact = HashMap::new();
    let mut suffix = Vec::new();
    for s in &tls.sni {
        let key = load_certified_key(&s.cert, &s.key)?;
        for n in &s.names {
            match n.strip_prefix('*') {
                Some(sfx) => suffix.push((sfx.to_string(), key.clone())),
                None => {
                    exact.insert(n.clone(), key.clone());
                }
            }
        }
    }
    let resolver = Arc::new(SniResolver {
        default,
        exact,
        suffix,
    });
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut cfg = match (&tls.client_ca, tls.client_auth) {
        (Some(ca), ClientAuth::Optional | ClientAuth::Required) => {
            let roots = Arc::new(load_roots(ca)?);
            let mut crls = Vec::new();
            for path in &tls.crls {
                crls.extend(crate::net::load_crls(path)?);
            }
            // A CRL past its nextUpdate is refused rather than trusted forever.
            let mut b = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .with_crls(crls)
                .enforce_revocation_expiration();
            if tls.client_auth == ClientAuth::Optional {
                b = b.allow_unauthenticated();
            }
            let verifier = b
                .build()
                .map_err(|e| format!("client certificate verifier: {e}"))?;
            builder
                .with_client_cert_verifier(verifier)
                .with_cert_resolver(resolver)
        }
        _ => builder.with_no_client_auth().with_cert_resolver(resolver),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server's suite order (aws-lc's: AEAD with forward secrecy, strongest
    // first) wins over a client that lists a weaker suite first.
    cfg.ignore_client_order = true;
    // Resumption skips the key exchange and certificate signature for returning
    // clients. Both stores are rebuilt on reload, so a session never outlives
    // the configuration (e.g. client_ca) it was verified under.
    cfg.session_storage = if tls.session_cache == 0 {
        Arc::new(rustls::server::NoServerSessionStorage {})
    } else {
        rustls::server::ServerSessionMemoryCache::new(tls.session_cache)
    };
    if tls.session_tickets {
        cfg.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|e| format!("TLS session tickets: {e}"))?;
    }
    Ok(cfg)
}

/// Generates a self-signed ECDSA P-256 certificate for localhost when the files
/// are missing. Returns whether one was written.
pub fn ensure_dev_cert(tls: &Tls) -> Result<bool, String> {
    if !tls.dev_self_signed || (tls.cert.exists() && tls.key.exists()) {
        return Ok(false);
    }
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("generating dev certificate: {e}"))?;
    crate::fsutil::write_new(&tls.cert, generated.cert.pem().as_bytes(), 0o644)?;
    crate::fsutil::write_new(
        &tls.key,
        generated.key_pair.serialize_pem().as_bytes(),
        0o600,
    )?;
    Ok(true)
}

/// A bounded label for why a handshake failed.
pub fn handshake_failure_reason(e: &std::io::Error) -> &'static str {
    if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match err {
            rustls::Error::NoCertificatesPresented => "no_client_certificate",
            rustls::Error::InvalidCertificate(_) => "bad_client_certificate",
            rustls::Error::PeerIncompatible(_) => "incompatible",
            rustls::Error::AlertReceived(_) => "alert_received",
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                "protocol_error"
            }
            _ => "other",
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => "eof",
        std::io::ErrorKind::InvalidData => "protocol_error",
        _ => "other",
    }
}
