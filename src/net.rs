//! Outbound connections' TLS and fetch policy, shared by every client the
//! gateway runs (upstreams, Redis, JWKS and discovery, introspection, OTLP): one
//! crypto provider (aws-lc-rs), TLS 1.2/1.3, trust anchors from a PEM bundle
//! or the system roots.

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What outbound connections offer: the process's provider, installed at
/// start-up with `outbound.tls.key_exchange` (the Redis client builds its
/// TLS from the same process default), else the default groups.
pub fn outbound_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| crate::kx::provider(&crate::kx::default_groups()))
}

/// Installs the outbound key exchange groups as the process default; only
/// the first call in a process takes effect (a change needs a restart).
pub fn install_outbound(groups: &[&'static dyn rustls::crypto::SupportedKxGroup]) -> bool {
    let p = crate::kx::provider(groups);
    CryptoProvider::install_default(Arc::unwrap_or_clone(p)).is_ok()
}

pub const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Loads a PEM bundle of trust anchors.
pub fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("invalid PEM in {}: {e}", path.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("invalid CA certificate in {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no CA certificate found in {}", path.display()));
    }
    Ok(roots)
}

/// `https://`, or `http://` only to this machine (tests, sidecars).
pub fn fetch_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|_| format!("invalid URL {text:?}"))?;
    let local = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") if uri.host().is_some() => Ok(uri),
        Some("http") if local => Ok(uri),
        Some("http") => Err(format!(
            "{text:?} must use https (plain http is allowed only for 127.0.0.1/localhost)"
        )),
        _ => Err(format!("{text:?} must be an https:// URL")),
    }
}

/// Loads a PEM file of certificate revocation lists.
pub fn load_crls(
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateRevocationListDer<'static>>, String> {
    use rustls::pki_types::CertificateRevocationListDer;
    let crls: Vec<_> = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM in {}: {e}", path.display()))?;
    if crls.is_empty() {
        return Err(format!("no X509 CRL found in {}", path.display()));
    }
    Ok(crls)
}

/// TLS for upstream connections: the given CA bundle, else the system roots.
pub fn client_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let roots = match ca {
        Some(path) => load_roots(path)?,
        None => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
            roots
        }
    };
    Ok(
        rustls::ClientConfig::builder_with_provider(outbound_provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// TCP (with its connect timeout, Nagle off) and TLS through hyper-rustls,
/// each new TLS connection counted by `handshakes`: what every outbound
/// client of the gateway dials with. ALPN offers HTTP/2 only when `http2`,
/// else HTTP/1.1; plain http stays possible (callers decide where).
pub type Connector = crate::handshakes::Counted<HttpsConnector<HttpConnector>>;

pub fn connector(
    connect_timeout: Duration,
    tls: rustls::ClientConfig,
    http2: bool,
    handshakes: prometheus::IntCounterVec,
) -> Connector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let connector = if http2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    };
    crate::handshakes::Counted::new(connector, handshakes)
}

/// A pooled HTTP/1.1 client for the gateway's own fetches (JWKS, discovery,
/// introspection): https anywhere, plain http only where the settings allowed it.
pub type FetchClient = Client<Connector, Full<Bytes>>;

/// `handshakes` counts the TLS connections it makes; `ca` replaces the
/// system roots (the OTLP collector's private CA).
pub fn fetch_client(
    connect_timeout: Duration,
    ca: Option<&Path>,
    handshakes: prometheus::IntCounterVec,
) -> Result<FetchClient, String> {
    let connector = connector(connect_timeout, client_config(ca)?, false, handshakes);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
