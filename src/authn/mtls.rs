//! `kind = "mtls"`: the TLS client certificate is the credential. rustls has
//! already verified the chain against `listen.tls.client_ca` (and the CRLs)
//! during the handshake; this kind picks the configured identity field (a
//! SPIFFE ID in a SAN URI, a SAN DNS name or email, or the subject CN) and
//! accepts it only when an allow pattern matches. The certificate's
//! thumbprint becomes the principal's binding (RFC 8705 `x5t#S256`).

use super::cache::{self, VerifiedCache};
use super::failure::{AuthError, AuthFailure};
use super::kind::{Attempt, Challenge, Kind, Verdict};
use super::principal::{Binding, Identity, Principal};
use crate::config::diag::Diag;
use crate::config::file::MtlsFile;
use crate::conn::ClientCert;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Which certificate field names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertField {
    SanUri,
    SanDns,
    SanEmail,
    SubjectCn,
}

impl CertField {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CertField::SanUri => "san_uri",
            CertField::SanDns => "san_dns",
            CertField::SanEmail => "san_email",
            CertField::SubjectCn => "subject_cn",
        }
    }

    pub fn parse(text: &str) -> Option<CertField> {
        Some(match text {
            "san_uri" => CertField::SanUri,
            "san_dns" => CertField::SanDns,
            "san_email" => CertField::SanEmail,
            "subject_cn" => CertField::SubjectCn,
            _ => return None,
        })
    }

    fn values(self, cert: &ClientCert) -> &[String] {
        match self {
            CertField::SanUri => &cert.san_uris,
            CertField::SanDns => &cert.san_dns,
            CertField::SanEmail => &cert.san_emails,
            CertField::SubjectCn => cert.subject_cn.as_slice(),
        }
    }
}

/// Validated `[authenticators.NAME]` settings of kind `mtls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsSettings {
    pub identity: CertField,
    /// Patterns: `*` matches within one `/`-separated segment, `**` any rest.
    pub allow: Vec<String>,
}

/// `*` matches any run of characters except `/`, `**` any run at all, so
/// `spiffe://prod.example/ns/*/sa/*` names one service account per namespace
/// and never a deeper path. Patterns come from the operator and have few stars;
/// the text is a SAN of a certificate the CA signed.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| m(rest, &t[i..])),
            [b'*', rest @ ..] => {
                let segment = t.iter().position(|&c| c == b'/').unwrap_or(t.len());
                (0..=segment).any(|i| m(rest, &t[i..]))
            }
            [c, rest @ ..] => t.first() == Some(c) && m(rest, &t[1..]),
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

/// Validates a `kind = "mtls"` table.
pub fn settings(d: &mut Diag<'_>, name: &str, f: &MtlsFile) -> Option<MtlsSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let text = f.identity.as_deref().unwrap_or("san_uri");
    let Some(identity) = CertField::parse(text) else {
        d.push(
            p("identity"),
            format!("unknown field {text:?}; expected san_uri, san_dns, san_email or subject_cn"),
        );
        return None;
    };
    if f.allow.is_empty() {
        d.push(p("allow"), "required: the identities to accept, e.g. [\"spiffe://prod.example/ns/*/sa/*\"] (write [\"**\"] to accept every certificate the CA signed)");
        return None;
    }
    Some(MtlsSettings {
        identity,
        allow: f.allow.clone(),
    })
}

pub struct MtlsAuthenticator {
    name: Arc<str>,
    settings: MtlsSettings,
    /// Identities by certificate thumbprint: a connection sends many requests.
    cache: VerifiedCache,
}

impl MtlsAuthenticator {
    pub fn new(name: &str, settings: &MtlsSettings) -> MtlsAuthenticator {
        MtlsAuthenticator {
            name: Arc::from(name),
            settings: settings.clone(),
            cache: cache::verified_cache(10_000),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn identity(&self, cert: &ClientCert) -> Result<Identity, AuthFailure> {
        let subject = self
            .settings
            .identity
            .values(cert)
            .iter()
            .find(|v| self.settings.allow.iter().any(|p| pattern_matches(p, v)))
            .ok_or(AuthFailure::CertificateNotAllowed)?;
        let list = |v: &[String]| Value::from(v.to_vec());
        let mut claims = Map::new();
        claims.insert("san_uri".into(), list(&cert.san_uris));
        claims.insert("san_dns".into(), list(&cert.san_dns));
        claims.insert("san_email".into(), list(&cert.san_emails));
        claims.insert("cert_subject".into(), Value::from(cert.subject.as_str()));
        claims.insert("cert_serial".into(), Value::from(cert.serial.as_str()));
        claims.insert("cert_not_after".into(), Value::from(cert.not_after));
        claims.insert("x5t#S256".into(), Value::from(cert.x5t_s256.as_str()));
        Ok(Identity {
            subject: subject.clone(),
            claims,
            expires_at: Some(cert.not_after),
            binding: Some(Binding::Certificate {
                x5t_s256: cert.x5t_s256.clone(),
            }),
            ..Identity::default()
        })
    }
}

impl Kind for MtlsAuthenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        at.client_cert.is_some()
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let cert = at.client_cert.ok_or(AuthFailure::Missing)?;
        // A long-lived connection can outlast its certificate.
        if at.now > cert.not_after {
            return Err(AuthFailure::Expired.into());
        }
        let key = cache::key(&self.name, cert.x5t_s256.as_bytes());
        let identity = match self.cache.get(&key) {
            Some(hit) => hit,
            None => {
                let fresh = Arc::new(self.identity(cert)?);
                self.cache.insert(key, fresh.clone());
                fresh
            }
        };
        Ok(Verdict::of(Principal::new(
            self.name.clone(),
            "mtls",
            identity,
        )))
    }

    fn challenge(&self) -> Challenge {
        Challenge::None
    }

    fn log_settings(&self) {
        tracing::info!(
            authenticator = %self.name,
            kind = "mtls",
            identity = self.settings.identity.as_str(),
            allow = %crate::logfmt::list(&self.settings.allow),
            "authenticator"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;

    #[test]
    fn the_validator_names_identity_and_allow() {
        let bad = MtlsFile {
            identity: Some("serial".into()),
            allow: vec![],
        };
        assert_eq!(
            errors_of(|d| assert!(settings(d, "w", &bad).is_none())),
            ["authenticators.w.identity"]
        );
        let open = MtlsFile {
            identity: None,
            allow: vec![],
        };
        assert_eq!(
            errors_of(|d| assert!(settings(d, "w", &open).is_none())),
            ["authenticators.w.allow"]
        );
        let ok = MtlsFile {
            identity: Some("san_dns".into()),
            allow: vec!["*.svc".into()],
        };
        errors_of(|d| {
            assert_eq!(
                settings(d, "w", &ok).map(|s| s.identity),
                Some(CertField::SanDns)
            )
        });
    }

    #[test]
    fn spiffe_patterns_match_one_segment_per_star() {
        let p = "spiffe://prod.example/ns/*/sa/*";
        assert!(pattern_matches(
            p,
            "spiffe://prod.example/ns/web/sa/frontend"
        ));
        assert!(!pattern_matches(
            p,
            "spiffe://prod.example/ns/web/x/sa/frontend"
        ));
        assert!(!pattern_matches(
            p,
            "spiffe://prod.example/ns/web/sa/frontend/extra"
        ));
        assert!(!pattern_matches(
            p,
            "spiffe://evil.example/ns/web/sa/frontend"
        ));
        assert!(pattern_matches(
            "spiffe://prod.example/**",
            "spiffe://prod.example/a/b/c"
        ));
        assert!(!pattern_matches(
            "spiffe://prod.example/**",
            "spiffe://prod.example.evil/a"
        ));
        assert!(pattern_matches("exact.example", "exact.example"));
        assert!(!pattern_matches("exact.example", "exact.example.evil"));
        assert!(pattern_matches("*.svc.example", "api.svc.example"));
        assert!(pattern_matches(
            "spiffe://prod.example/ns/*/**",
            "spiffe://prod.example/ns/a/b/c"
        ));
    }

    fn cert() -> ClientCert {
        ClientCert {
            x5t_s256: "thumb".into(),
            sha256_hex: "00".into(),
            subject: "CN=client".into(),
            subject_cn: Some("client".into()),
            san_uris: vec![
                "spiffe://other/x".into(),
                "spiffe://prod.example/ns/a/sa/b".into(),
            ],
            san_dns: vec!["client.example".into()],
            san_emails: vec![],
            serial: "01".into(),
            not_after: 2_000_000_000,
        }
    }

    #[test]
    fn the_first_allowed_value_of_the_field_names_the_caller() {
        let s = MtlsSettings {
            identity: CertField::SanUri,
            allow: vec!["spiffe://prod.example/ns/*/sa/*".into()],
        };
        let a = MtlsAuthenticator::new("w", &s);
        let id = a.identity(&cert()).unwrap();
        assert_eq!(id.subject, "spiffe://prod.example/ns/a/sa/b");
        assert_eq!(id.claims["x5t#S256"], "thumb");
        let s = MtlsSettings {
            identity: CertField::SanDns,
            allow: vec!["*.prod.example".into()],
        };
        let a = MtlsAuthenticator::new("w", &s);
        assert_eq!(
            a.identity(&cert()).err(),
            Some(AuthFailure::CertificateNotAllowed)
        );
    }
}
