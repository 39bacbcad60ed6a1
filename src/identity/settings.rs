//! `[identity]`: the header names only the gateway may write, and the signed
//! assertion's key. The key is loaded here to prove it is usable, then
//! dropped: the settings keep where it is, the signer loads it again.

use crate::config::diag::Diag;
use crate::config::file::{AssertionFile, IdentityFile};
use crate::config::secret::SecretRef;
use http::HeaderName;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Identity {
    pub subject_header: HeaderName,
    pub issuer_header: HeaderName,
    pub claims: Vec<(String, HeaderName)>,
    pub max_header_bytes: usize,
    pub assertion_header: HeaderName,
    pub assertion: Option<Assertion>,
    /// Where the verified client certificate goes (always stripped from clients).
    pub client_cert_header: HeaderName,
    pub forward_client_cert: bool,
    /// Query parameters removed before forwarding (credentials in URLs).
    pub strip_query: Vec<String>,
    /// More client-sent headers to remove on every route.
    pub strip_also: Vec<String>,
    /// Headers of `STRIPPED_BY_DEFAULT` forwarded deliberately.
    pub keep: Vec<String>,
}

/// Where a private key comes from: a secret reference, or a dev key generated when missing.
#[derive(Debug, Clone)]
pub enum PrivateKeySource {
    Secret(SecretRef),
    DevGenerated(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Assertion {
    pub key: PrivateKeySource,
    pub ttl: Duration,
    pub issuer: String,
    pub publish_also: Vec<PathBuf>,
}

/// Validates `[identity]`.
pub fn identity(d: &mut Diag<'_>, id: &IdentityFile) -> Identity {
    let claims = id
        .claims
        .iter()
        .map(|(claim, h)| {
            (
                claim.clone(),
                d.header(&format!("identity.claims.{claim}"), Some(h), ""),
            )
        })
        .collect();
    Identity {
        subject_header: d.header(
            "identity.subject_header",
            id.subject_header.as_ref(),
            "x-auth-subject",
        ),
        issuer_header: d.header(
            "identity.issuer_header",
            id.issuer_header.as_ref(),
            "x-auth-issuer",
        ),
        claims,
        max_header_bytes: usize::try_from(d.size(
            "identity.max_header_bytes",
            id.max_header_bytes.as_ref(),
            8 << 10,
        ))
        .unwrap_or(usize::MAX),
        assertion_header: d.header(
            "identity.assertion.header",
            id.assertion.header.as_ref(),
            "x-sealgate-assertion",
        ),
        assertion: assertion(d, &id.assertion),
        client_cert_header: d.header(
            "identity.client_cert_header",
            id.client_cert_header.as_ref(),
            "x-forwarded-client-cert",
        ),
        forward_client_cert: id.forward_client_cert.unwrap_or(false),
        strip_query: id
            .strip_query
            .clone()
            .unwrap_or_else(|| vec!["access_token".into()]),
        strip_also: header_names(d, "identity.strip_also", &id.strip_also),
        keep: header_names(d, "identity.keep", &id.keep),
    }
}

/// Header names, lower-cased; an invalid one is an error naming its index.
fn header_names(d: &mut Diag<'_>, path: &str, names: &[String]) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let valid = HeaderName::from_bytes(n.as_bytes()).map(|h| Some(h.as_str().to_string()));
            d.take(
                format!("{path}[{i}]"),
                valid.map_err(|_| format!("invalid header name {n:?}")),
                None,
            )
        })
        .collect()
}

fn assertion(d: &mut Diag<'_>, a: &AssertionFile) -> Option<Assertion> {
    let key = private_key(
        d,
        "identity.assertion.key",
        a.key.as_deref()?,
        a.dev_generate == Some(true),
    )?;
    let publish_also: Vec<PathBuf> = a.publish_also.iter().map(|p| d.path(p)).collect();
    for (i, p) in publish_also.iter().enumerate() {
        let usable = std::fs::read(p)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
            .and_then(|b| crate::jose::keys::public_jwk(&b).map(|_| ()));
        if let Err(m) = usable {
            d.push(format!("identity.assertion.publish_also[{i}]"), m);
        }
    }
    Some(Assertion {
        key,
        ttl: d.duration(
            "identity.assertion.ttl",
            a.ttl.as_ref(),
            Duration::from_secs(60),
        ),
        issuer: a.issuer.clone().unwrap_or_else(|| "sealgate".into()),
        publish_also,
    })
}

/// A signing key reference (`key_path` names it in errors): checked to be a
/// usable Ed25519 or P-256 PKCS#8 key, or, with `dev_generate` and no file
/// yet, a development key generated at start-up (with a warning).
pub fn private_key(
    d: &mut Diag<'_>,
    key_path: &str,
    key: &str,
    dev_generate: bool,
) -> Option<PrivateKeySource> {
    match SecretRef::parse(key, d.base) {
        Ok(SecretRef::File(path)) if dev_generate && !path.exists() => {
            d.warn(format!(
                "{key_path}: {} is missing; a development Ed25519 signing key will be generated",
                path.display()
            ));
            Some(PrivateKeySource::DevGenerated(path))
        }
        Ok(r) => {
            let usable = r
                .load(d.warnings)
                .and_then(|k| crate::jose::keys::signing_key(k.expose()).map(|_| ()));
            if let Err(m) = usable {
                d.push(key_path, m);
            }
            Some(PrivateKeySource::Secret(r))
        }
        Err(m) => {
            d.push(key_path, m);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    #[test]
    fn header_names_and_the_assertion_key_are_checked() {
        let mut s = Scratch::default();
        let mut d = s.diag();
        let mut f = IdentityFile {
            subject_header: Some("bad header".into()),
            ..IdentityFile::default()
        };
        f.claims.insert("email".into(), "x-auth-email".into());
        f.assertion.key = Some("literal-secret".into());
        let id = identity(&mut d, &f);
        assert_eq!(id.claims[0].1, "x-auth-email");
        assert!(id.assertion.is_none());
        let paths: Vec<&str> = s.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["identity.subject_header", "identity.assertion.key"]);
    }
}
