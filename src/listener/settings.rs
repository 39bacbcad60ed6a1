//! `[listen]`: the TLS listener's validated settings. Certificates, keys, CA
//! bundles and CRLs are loaded once here so a bad file is a `check` error
//! naming the key, not a start-up surprise; the runtime loads them again.

use crate::config::diag::Diag;
use crate::config::file::{ListenFile, TlsFile};
use crate::config::units;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Listen {
    pub address: SocketAddr,
    pub tls: Tls,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub shutdown_grace: Duration,
    /// SO_REUSEPORT on the main and admin listeners (fixed at start-up).
    pub reuse_port: bool,
    /// Per-core serving threads (0: the shared runtime); fixed at start-up.
    pub workers: usize,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// `Strict-Transport-Security` on every response of the main listener.
    pub hsts: Option<http::HeaderValue>,
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dev_self_signed: bool,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// PEM certificate revocation lists for client certificates.
    pub crls: Vec<PathBuf>,
    pub sni: Vec<SniCert>,
    /// Issue stateless, rotating session tickets so returning clients resume.
    pub session_tickets: bool,
    /// Entries in the server-side session cache (0: none).
    pub session_cache: usize,
    /// Key exchange groups accepted, in preference order.
    pub key_exchange: crate::kx::Groups,
    pub ciphers: super::ciphers::Ciphers,
    /// DER OCSP response for the default certificate.
    pub ocsp_staple: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SniCert {
    pub names: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ocsp_staple: Option<PathBuf>,
}

/// Whether the TLS listener asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Off,
    /// Asked for and verified when sent; connections without one are served too.
    Optional,
    Required,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// More serving threads than this is a typo, not a machine.
const MAX_WORKERS: usize = 1024;

/// `listen.workers`: the CPUs available when unset.
fn workers(d: &mut Diag<'_>, set: Option<usize>) -> usize {
    match set {
        Some(n) if n > MAX_WORKERS => {
            d.push(
                "listen.workers",
                format!("{n} serving threads is more than the {MAX_WORKERS} allowed"),
            );
            0
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    }
}

/// Validates `[listen]`.
pub fn listen(d: &mut Diag<'_>, l: &ListenFile) -> Listen {
    let tls = tls(d, &l.tls);
    let trusted_proxies = l
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            d.take(
                format!("listen.trusted_proxies[{i}]"),
                units::cidr(c).map(Some),
                None,
            )
        })
        .collect();
    Listen {
        address: d.addr("listen.address", l.address.as_ref(), DEFAULT_LISTEN),
        trusted_proxies,
        reuse_port: l.reuse_port.unwrap_or(false),
        workers: workers(d, l.workers),
        shutdown_grace: d.duration(
            "listen.shutdown_grace",
            l.shutdown_grace.as_ref(),
            Duration::from_secs(30),
        ),
        handshake_timeout: d.duration(
            "listen.handshake_timeout",
            l.handshake_timeout.as_ref(),
            Duration::from_secs(10),
        ),
        header_read_timeout: d.duration(
            "listen.header_read_timeout",
            l.header_read_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        body_read_timeout: d.duration(
            "listen.body_read_timeout",
            l.body_read_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        idle_timeout: d.duration(
            "listen.idle_timeout",
            l.idle_timeout.as_ref(),
            Duration::from_secs(60),
        ),
        max_connections: count(d, "listen.max_connections", l.max_connections, 10_000),
        max_connections_per_ip: count(
            d,
            "listen.max_connections_per_ip",
            l.max_connections_per_ip,
            1_000,
        ),
        hsts: hsts(d, l.hsts.as_deref()),
        tls,
    }
}

/// A positive connection count (default `default`).
fn count(d: &mut Diag<'_>, key: &str, v: Option<u64>, default: usize) -> usize {
    match v.map(usize::try_from) {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            d.push(key, "must be a positive number of connections");
            default
        }
    }
}

/// RFC 6797 §6.1: a `max-age` directive is required.
fn hsts(d: &mut Diag<'_>, text: Option<&str>) -> Option<http::HeaderValue> {
    let text = text?;
    let has_max_age = text
        .split(';')
        .any(|p| p.trim().to_ascii_lowercase().starts_with("max-age="));
    let value = http::HeaderValue::from_str(text)
        .ok()
        .filter(|_| has_max_age);
    if value.is_none() {
        d.push("listen.hsts", "write a Strict-Transport-Security value with max-age, e.g. \"max-age=31536000; includeSubDomains\"");
    }
    value
}

fn tls(d: &mut Diag<'_>, t: &TlsFile) -> Tls {
    let client_ca = t
        .client_ca
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|p| d.path(p));
    let tls = Tls {
        cert: d.path(t.cert.as_deref().unwrap_or("certs/gateway.crt")),
        key: d.path(t.key.as_deref().unwrap_or("certs/gateway.key")),
        dev_self_signed: t.dev_self_signed.unwrap_or(false),
        client_auth: client_auth(d, t.client_auth.as_deref(), client_ca.is_some()),
        client_ca,
        crls: t.crls.iter().map(|p| d.path(p)).collect(),
        sni: t
            .sni
            .iter()
            .map(|s| SniCert {
                names: s.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
                cert: d.path(&s.cert),
                key: d.path(&s.key),
                ocsp_staple: s.ocsp_staple.as_deref().map(|p| d.path(p)),
            })
            .collect(),
        session_tickets: t.session_tickets.unwrap_or(true),
        session_cache: t.session_cache.unwrap_or(10_000),
        key_exchange: crate::kx::settings(d, "listen.tls.key_exchange", t.key_exchange.as_ref()),
        ciphers: super::ciphers::settings(
            d,
            t.cipher_suites.as_ref(),
            t.cipher_preference.as_deref(),
        ),
        ocsp_staple: t.ocsp_staple.as_deref().map(|p| d.path(p)),
    };
    check_files(d, &tls);
    tls
}

/// `listen.tls.client_auth`; without it, a configured `client_ca` means "required".
fn client_auth(d: &mut Diag<'_>, text: Option<&str>, have_ca: bool) -> ClientAuth {
    let mode = match text {
        None if have_ca => ClientAuth::Required,
        None | Some("off") => ClientAuth::Off,
        Some("optional") => ClientAuth::Optional,
        Some("required") => ClientAuth::Required,
        Some(other) => {
            d.push(
                "listen.tls.client_auth",
                format!("unknown mode {other:?}; expected \"off\", \"optional\" or \"required\""),
            );
            ClientAuth::Off
        }
    };
    if mode != ClientAuth::Off && !have_ca {
        d.push(
            "listen.tls.client_auth",
            "needs listen.tls.client_ca: the CA bundle that signs client certificates",
        );
    }
    if have_ca && text == Some("off") {
        d.push(
            "listen.tls.client_ca",
            "set, but listen.tls.client_auth = \"off\": remove one",
        );
    }
    mode
}

fn check_files(d: &mut Diag<'_>, tls: &Tls) {
    let missing = !tls.cert.exists() || !tls.key.exists();
    if missing && tls.dev_self_signed {
        d.warn(format!(
            "listen.tls: {} is missing; a self-signed development certificate will be generated (not for production)",
            tls.cert.display()
        ));
    } else {
        let staple = tls.ocsp_staple.as_deref();
        check_cert(d, "listen.tls", &tls.cert, &tls.key, staple);
    }
    if tls.session_cache > 1_000_000 {
        d.push(
            "listen.tls.session_cache",
            format!(
                "{} entries is too many (at most 1000000)",
                tls.session_cache
            ),
        );
    }
    if let Some(ca) = &tls.client_ca {
        if let Err(m) = crate::net::load_roots(ca) {
            d.push("listen.tls.client_ca", m);
        }
    }
    for (i, crl) in tls.crls.iter().enumerate() {
        if let Err(m) = crate::net::load_crls(crl) {
            d.push(format!("listen.tls.crls[{i}]"), m);
        }
    }
    for (i, s) in tls.sni.iter().enumerate() {
        if s.names.is_empty() {
            d.push(
                format!("listen.tls.sni[{i}].names"),
                "list at least one server name",
            );
        }
        let at = format!("listen.tls.sni[{i}]");
        check_cert(d, &at, &s.cert, &s.key, s.ocsp_staple.as_deref());
    }
}

/// The certificate and key under `at`, and its OCSP staple: a staple that
/// does not fit is an error, an expired one a warning (it is not served).
fn check_cert(d: &mut Diag<'_>, at: &str, cert: &Path, key: &Path, staple: Option<&Path>) {
    let loaded = match super::certs::load_certified_key(cert, key) {
        Ok(k) => k,
        Err(m) => return d.push(format!("{at}.cert"), m),
    };
    let Some(path) = staple else { return };
    match super::ocsp::load(path, &loaded.cert, super::certs::unix_now()) {
        Ok(super::ocsp::Staple::Current { .. }) => {}
        Ok(super::ocsp::Staple::Expired(ago)) => d.warn(format!(
            "{at}.ocsp_staple: {} expired {ago} s ago and will not be stapled; fetch a new response",
            path.display()
        )),
        Err(m) => d.push(format!("{at}.ocsp_staple"), m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: &ListenFile) -> (Listen, Vec<String>) {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let dir = std::env::temp_dir();
        let mut d = Diag {
            errors: &mut errors,
            warnings: &mut warnings,
            base: &dir,
        };
        let l = listen(&mut d, f);
        (l, errors.into_iter().map(|e| e.path).collect())
    }

    #[test]
    fn client_auth_needs_a_ca_and_defaults_to_required_with_one() {
        let mut f = ListenFile::default();
        f.tls.dev_self_signed = Some(true);
        f.tls.cert = Some("/nonexistent/c.pem".into());
        f.tls.key = Some("/nonexistent/k.pem".into());
        f.tls.client_auth = Some("optional".into());
        let (l, errs) = run(&f);
        assert_eq!(l.tls.client_auth, ClientAuth::Optional);
        assert_eq!(errs, ["listen.tls.client_auth"]);
        f.tls.client_auth = None;
        f.tls.client_ca = Some("/nonexistent/ca.pem".into());
        let (l, errs) = run(&f);
        assert_eq!(l.tls.client_auth, ClientAuth::Required);
        assert_eq!(
            errs,
            ["listen.tls.client_ca"],
            "an unreadable CA bundle is named"
        );
        f.hsts = Some("includeSubDomains".into());
        let (l, errs) = run(&f);
        assert!(l.hsts.is_none());
        assert_eq!(errs, ["listen.tls.client_ca", "listen.hsts"]);
        f.hsts = Some("max-age=600".into());
        f.tls.client_auth = Some("sometimes".into());
        f.trusted_proxies = vec!["10.0.0.0/8".into(), "nonsense".into()];
        let (_, errs) = run(&f);
        assert_eq!(
            errs,
            [
                "listen.tls.client_auth",
                "listen.tls.client_ca",
                "listen.trusted_proxies[1]"
            ]
        );
    }

    #[test]
    fn an_ocsp_staple_must_fit_its_certificate() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ocsp");
        let mut f = ListenFile::default();
        f.tls.cert = Some(format!("{dir}/leaf.pem"));
        f.tls.key = Some(format!("{dir}/leaf.key"));
        f.tls.ocsp_staple = Some(format!("{dir}/good.der"));
        let (l, errs) = run(&f);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(l.tls.ocsp_staple.is_some());
        for bad in ["revoked.der", "other.der", "leaf.pem"] {
            f.tls.ocsp_staple = Some(format!("{dir}/{bad}"));
            assert_eq!(run(&f).1, ["listen.tls.ocsp_staple"], "{bad}");
        }
    }
}
