//! A throwaway PKI: a test CA, the certificates it signs, and TLS clients that
//! trust it.

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A test CA and the certificates it signs, written under one temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    pub ca_pem: String,
}

/// Makes aws-lc-rs the process default so plain clients (admin, http) work too.
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl Pki {
    pub fn new() -> Pki {
        Pki::in_dir(tempfile::tempdir().unwrap())
    }

    /// A PKI written under `dir` (for tests that need an unusual path).
    pub fn in_dir(dir: tempfile::TempDir) -> Pki {
        install_provider();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "sealgate test CA");
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let ca_pem = ca_cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        let pki = Pki {
            dir,
            ca_cert,
            ca_key,
            ca_pem,
        };
        pki.server_cert("gateway", &["localhost"]);
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `<stem>.crt` and `<stem>.key` for `names`; returns the certificate DER.
    pub fn server_cert(&self, stem: &str, names: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        std::fs::write(self.path(&format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{stem}.key")), key.serialize_pem()).unwrap();
        cert.der().to_vec()
    }

    /// A client certificate signed by the CA: (chain, key) ready for rustls.
    pub fn client_identity(
        &self,
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        (vec![cert.der().clone()], der)
    }

    /// A rustls client config trusting the test CA, offering `alpn`.
    pub fn client_tls(&self, alpn: &[&[u8]], identity: bool) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_cert.der().clone()).unwrap();
        let b = rustls::ClientConfig::builder_with_provider(sealgate::net::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut cfg = if identity {
            let (chain, key) = self.client_identity();
            b.with_client_auth_cert(chain, key).unwrap()
        } else {
            b.with_no_client_auth()
        };
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        cfg
    }

    /// An HTTP client for `https://localhost:<port>` that trusts the test CA.
    pub fn client(&self, addr: SocketAddr, http2: bool) -> reqwest::Client {
        let alpn: &[&[u8]] = if http2 { &[b"h2"] } else { &[b"http/1.1"] };
        let b = reqwest::Client::builder()
            .use_preconfigured_tls(self.client_tls(alpn, false))
            .resolve("localhost", addr)
            .no_proxy();
        let b = if http2 {
            b.http2_prior_knowledge()
        } else {
            b.http1_only()
        };
        b.build().unwrap()
    }
}
