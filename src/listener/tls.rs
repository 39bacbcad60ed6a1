//! The downstream TLS `ServerConfig`, with the one crypto provider (aws-lc-rs):
//! TLS 1.2/1.3 with the configured suites and key exchange groups, ALPN h2 +
//! http/1.1, certificates (and their OCSP staples) chosen by SNI, optional
//! client certificates; and the development certificate.

use super::certs::{load_served, unix_now, Served};
use super::settings::{ClientAuth, Tls};
use crate::net::{load_roots, provider};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// Picks the certificate for the SNI name: exact, then wildcard, then the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<Served>,
    exact: HashMap<String, Arc<Served>>,
    suffix: Vec<(String, Arc<Served>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.served(hello.server_name()).at(unix_now()).clone())
    }
}

impl SniResolver {
    fn served(&self, name: Option<&str>) -> &Served {
        let Some(name) = name else {
            return &self.default;
        };
        let name = name.to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return k;
        }
        self.suffix
            .iter()
            .find(|(s, _)| {
                name.len() > s.len()
                    && name.ends_with(s.as_str())
                    && !name[..name.len() - s.len()].contains('.')
            })
            .map_or(&self.default, |(_, k)| k)
    }
}

/// Builds the listener's TLS configuration.
pub fn server_config(tls: &Tls) -> Result<ServerConfig, String> {
    let default = Arc::new(load_served(
        &tls.cert,
        &tls.key,
        tls.ocsp_staple.as_deref(),
    )?);
    let mut exact = HashMap::new();
    let mut suffix = Vec::new();
    for s in &tls.sni {
        let key = Arc::new(load_served(&s.cert, &s.key, s.ocsp_staple.as_deref())?);
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
    let server_provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: tls.ciphers.suites.clone(),
        ..crate::kx::provider(&tls.key_exchange).as_ref().clone()
    });
    let builder = ServerConfig::builder_with_provider(server_provider)
        .with_protocol_versions(&super::ciphers::versions(&tls.ciphers))
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
    // By default the server's suite order (listen.tls.cipher_suites) wins
    // over a client that lists a weaker suite first.
    cfg.ignore_client_order = tls.ciphers.server_order;
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

/// How long a development certificate is valid, and how close to its end it
/// is replaced at start-up.
const DEV_CERT_LIFETIME: time::Duration = time::Duration::days(30);
const DEV_CERT_RENEW_BEFORE: time::Duration = time::Duration::days(7);

/// Generates a self-signed ECDSA P-256 certificate for localhost (valid 30
/// days) when the files are missing, or replaces the one there when it is
/// self-signed and within 7 days of its end. Returns whether one was written.
pub fn ensure_dev_cert(tls: &Tls) -> Result<bool, String> {
    if !tls.dev_self_signed {
        return Ok(false);
    }
    let now = time::OffsetDateTime::now_utc();
    if tls.cert.exists() && tls.key.exists() && !renewable(&tls.cert, now) {
        return Ok(false);
    }
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|e| format!("generating dev certificate: {e}"))?;
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + DEV_CERT_LIFETIME;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("generating dev certificate key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("generating dev certificate: {e}"))?;
    crate::fsutil::write_replace(&tls.key, key.serialize_pem().as_bytes(), 0o600)?;
    crate::fsutil::write_replace(&tls.cert, cert.pem().as_bytes(), 0o644)?;
    Ok(true)
}

/// A self-signed certificate (what dev generation writes; never an
/// operator's CA-issued one) that ends within `DEV_CERT_RENEW_BEFORE`.
fn renewable(path: &std::path::Path, now: time::OffsetDateTime) -> bool {
    let Ok(pem) = std::fs::read(path) else {
        return false;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&pem) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    let ends = cert.validity().not_after.to_datetime();
    cert.issuer() == cert.subject() && ends < now + DEV_CERT_RENEW_BEFORE
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_tls(dir: &std::path::Path) -> Tls {
        let mut f = crate::config::file::ListenFile::default();
        f.tls.cert = Some(dir.join("gw.crt").display().to_string());
        f.tls.key = Some(dir.join("gw.key").display().to_string());
        f.tls.dev_self_signed = Some(true);
        let errors = &mut Vec::new();
        let mut d = crate::config::diag::Diag {
            errors,
            warnings: &mut Vec::new(),
            base: dir,
        };
        crate::listener::settings::listen(&mut d, &f).tls
    }

    fn not_after(path: &std::path::Path) -> time::OffsetDateTime {
        let pem = std::fs::read(path).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        cert.validity().not_after.to_datetime()
    }

    #[test]
    fn dev_certificates_last_30_days_and_are_renewed_near_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dev_tls(dir.path());
        let now = time::OffsetDateTime::now_utc();
        assert!(ensure_dev_cert(&tls).unwrap(), "written when missing");
        let end = not_after(&tls.cert);
        assert!(end > now + time::Duration::days(29) && end <= now + time::Duration::days(31));
        assert!(!ensure_dev_cert(&tls).unwrap(), "a fresh one is kept");
        // A dev certificate 3 days from its end is replaced at start-up.
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_after = now + time::Duration::days(3);
        let key = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&tls.cert, params.self_signed(&key).unwrap().pem()).unwrap();
        assert!(ensure_dev_cert(&tls).unwrap());
        assert!(not_after(&tls.cert) > now + time::Duration::days(29));
    }
}
