//! Per-connection facts the request path reads: the peer address, the
//! negotiated protocol, and the verified client certificate. Computed once per
//! connection (linkerd2-proxy's model), never per request.

use base64::Engine;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the pipeline knows about the connection a request arrived on.
#[derive(Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub http2: bool,
    /// The peer address pre-rendered for X-Forwarded-For/Forwarded.
    pub forwarding: crate::forwarding::PeerForwarding,
    /// The leaf certificate the client presented; rustls has already verified
    /// it against `listen.tls.client_ca` (and the CRLs) when this is `Some`.
    pub client_cert: Option<Arc<ClientCert>>,
    /// What the connection holds while it lasts (its admission slot, its
    /// place in the graceful drain); an upgraded connection's relay keeps
    /// this `ConnInfo`, and so these, until the relay ends.
    pub held: Held,
}

/// An opaque guard.
pub type Guard = Box<dyn std::any::Any + Send + Sync>;

/// Opaque guards released when the last reference to the connection goes,
/// the signal that the listener's drain deadline has passed, and a way to
/// keep the connection from counting as idle.
#[derive(Default)]
pub struct Held {
    _guards: Option<Guard>,
    cut: Option<tokio::sync::watch::Receiver<bool>>,
    busy: Option<Box<dyn Fn() -> Guard + Send + Sync>>,
}

impl Held {
    pub fn new(
        guards: impl std::any::Any + Send + Sync,
        cut: tokio::sync::watch::Receiver<bool>,
        busy: impl Fn() -> Guard + Send + Sync + 'static,
    ) -> Held {
        Held {
            _guards: Some(Box::new(guards)),
            cut: Some(cut),
            busy: Some(Box::new(busy)),
        }
    }

    /// While the guard lives the connection is in use (an HTTP/2 stream
    /// tunnelling a WebSocket is not idle, though no request is pending).
    pub fn busy(&self) -> Option<Guard> {
        self.busy.as_ref().map(|begin| begin())
    }

    /// Resolves once the drain deadline has passed (never, for a connection
    /// that no listener drains).
    pub async fn cut(&self) {
        match self.cut.clone() {
            Some(mut rx) => {
                if rx.wait_for(|cut| *cut).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

/// The facts of a verified client certificate that authentication and the
/// forwarded identity use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// SHA-256 of the DER certificate, base64url (RFC 8705 `x5t#S256`).
    pub x5t_s256: String,
    /// The same digest in hex (Envoy's XFCC `Hash`).
    pub sha256_hex: String,
    pub subject: String,
    pub subject_cn: Option<String>,
    pub san_uris: Vec<String>,
    pub san_dns: Vec<String>,
    pub san_emails: Vec<String>,
    /// Hex, as `openssl x509 -serial` shows it.
    pub serial: String,
    pub not_after: u64,
}

impl ClientCert {
    /// Reads the facts out of a DER certificate (already verified by rustls).
    pub fn parse(der: &[u8]) -> Result<ClientCert, String> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("unparsable client certificate: {e}"))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let mut out = ClientCert {
            x5t_s256: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
            sha256_hex: hex::encode(digest.as_ref()),
            subject: cert.subject().to_string(),
            subject_cn: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            san_uris: Vec::new(),
            san_dns: Vec::new(),
            san_emails: Vec::new(),
            serial: cert.raw_serial_as_string().replace(':', ""),
            not_after: u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0),
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::URI(u) => out.san_uris.push((*u).to_string()),
                    GeneralName::DNSName(d) => out.san_dns.push((*d).to_string()),
                    GeneralName::RFC822Name(e) => out.san_emails.push((*e).to_string()),
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}
