//! `listen.tls.cipher_suites` and `listen.tls.cipher_preference`: which
//! suites the listener accepts, in what order, and whether its order or the
//! client's wins. Every suite on offer is an AEAD with forward secrecy (the
//! Mozilla "intermediate" profile's set, in its order); an operator can only
//! narrow or reorder it. TLS 1.3 is never switched off; listing no TLS 1.2
//! suite turns TLS 1.2 off.

use crate::config::diag::Diag;
use rustls::crypto::aws_lc_rs::cipher_suite as cs;
use rustls::{ProtocolVersion, SupportedCipherSuite, SupportedProtocolVersion};

#[derive(Debug, Clone)]
pub struct Ciphers {
    pub suites: Vec<SupportedCipherSuite>,
    /// The server's order decides (else the client's first acceptable suite).
    pub server_order: bool,
}

/// IANA names (RFC 8446 B.4, RFC 8422, RFC 7905), Mozilla intermediate order.
fn table() -> [(&'static str, SupportedCipherSuite); 9] {
    [
        ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
        ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            cs::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ]
}

/// Validates the two keys under `listen.tls`.
pub fn settings(
    d: &mut Diag<'_>,
    names: Option<&Vec<String>>,
    preference: Option<&str>,
) -> Ciphers {
    let server_order = match preference {
        None | Some("server") => true,
        Some("client") => false,
        Some(other) => {
            d.push(
                "listen.tls.cipher_preference",
                format!("unknown value {other:?}; expected \"server\" or \"client\""),
            );
            true
        }
    };
    let table = table();
    let Some(names) = names else {
        let suites = table.iter().map(|(_, s)| *s).collect();
        return Ciphers {
            suites,
            server_order,
        };
    };
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let key = format!("listen.tls.cipher_suites[{i}]");
        match table.iter().find(|(name, _)| name.eq_ignore_ascii_case(n)) {
            Some((_, s)) if suites.contains(s) => d.push(key, format!("{n:?} is listed twice")),
            Some((_, s)) => suites.push(*s),
            None => {
                let known: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
                d.push(
                    key,
                    format!(
                        "unknown or refused suite {n:?}; expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    if !suites
        .iter()
        .any(|s| s.version().version == ProtocolVersion::TLSv1_3)
    {
        d.push(
            "listen.tls.cipher_suites",
            "list at least one TLS 1.3 suite (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)",
        );
    }
    Ciphers {
        suites,
        server_order,
    }
}

/// The protocol versions the suites allow: TLS 1.2 only when one of its
/// suites is listed.
pub fn versions(c: &Ciphers) -> Vec<&'static SupportedProtocolVersion> {
    let tls12 = c
        .suites
        .iter()
        .any(|s| s.version().version == ProtocolVersion::TLSv1_2);
    let mut v = vec![&rustls::version::TLS13];
    if tls12 {
        v.push(&rustls::version::TLS12);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(names: Option<Vec<&str>>, pref: Option<&str>) -> (Ciphers, Vec<String>) {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let dir = std::env::temp_dir();
        let mut d = Diag {
            errors: &mut errors,
            warnings: &mut warnings,
            base: &dir,
        };
        let names = names.map(|n| n.into_iter().map(String::from).collect());
        let c = settings(&mut d, names.as_ref(), pref);
        (c, errors.into_iter().map(|e| e.path).collect())
    }

    #[test]
    fn default_is_the_intermediate_set_in_server_order_with_both_versions() {
        let (c, errs) = run(None, None);
        assert!(errs.is_empty());
        assert!(c.server_order);
        assert_eq!(c.suites.len(), 9);
        assert_eq!(c.suites[0], cs::TLS13_AES_128_GCM_SHA256);
        assert_eq!(versions(&c).len(), 2);
    }

    #[test]
    fn suites_are_checked_and_decide_the_versions() {
        let (c, errs) = run(Some(vec!["tls_chacha20_poly1305_sha256"]), Some("client"));
        assert!(errs.is_empty());
        assert!(!c.server_order);
        assert_eq!(
            versions(&c),
            vec![&rustls::version::TLS13],
            "no TLS 1.2 suite: TLS 1.2 off"
        );
        let (_, errs) = run(
            Some(vec![
                "TLS_AES_128_GCM_SHA256",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
                "TLS_AES_128_GCM_SHA256",
            ]),
            Some("mine"),
        );
        assert_eq!(
            errs,
            [
                "listen.tls.cipher_preference",
                "listen.tls.cipher_suites[1]",
                "listen.tls.cipher_suites[2]"
            ]
        );
        let (_, errs) = run(Some(vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]), None);
        assert_eq!(
            errs,
            ["listen.tls.cipher_suites"],
            "TLS 1.3 cannot be turned off"
        );
    }
}
