//! `kind = "jwt"` settings: issuer, audiences, the algorithm allow-list, and
//! exactly one key source. Static keys are parsed here, so a bad key file is a
//! `check` error naming the key.

use super::keys::{algorithm, is_hmac, KeySet};
use crate::authn::extract::TokenSource;
use crate::config::diag::Diag;
use crate::config::file::JwtFile;
use crate::config::secret::SecretRef;
use crate::config::units;
use crate::net::fetch_url;
use http::HeaderName;
use jsonwebtoken::Algorithm;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum KeySource {
    /// Keys from the file: PEM, JWKS, or an HMAC secret (already loaded and checked).
    Static(Arc<KeySet>),
    /// A public key generated with its private half when missing (development).
    DevGenerated(PathBuf),
    Jwks(http::Uri),
    /// OpenID Connect Discovery: the issuer's `/.well-known/openid-configuration`.
    Discovery(http::Uri),
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub keys: KeySource,
    pub refresh: Duration,
    pub max_stale: Duration,
    pub cooldown: Duration,
    pub leeway: Duration,
    pub require_exp: bool,
    pub max_lifetime: Option<Duration>,
    pub typ: Option<String>,
    pub max_token_size: usize,
    pub token_from: TokenSource,
    /// The file static keys came from, watched for reload.
    pub key_file: Option<PathBuf>,
    /// RFC 8705: refuse tokens that are not bound (`cnf.x5t#S256`) to the
    /// client certificate presented on the connection.
    pub certificate_bound: bool,
}

/// Validates a `kind = "jwt"` table.
pub fn settings(d: &mut Diag<'_>, name: &str, a: &JwtFile) -> Option<JwtSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let issuer = a.issuer.clone().unwrap_or_else(|| {
        d.push(
            p("issuer"),
            "required: the exact `iss` your identity provider puts in tokens",
        );
        String::new()
    });
    if a.audiences.is_empty() {
        d.push(
            p("audiences"),
            "required: list the `aud` values this gateway accepts",
        );
    }
    let mut algorithms = Vec::new();
    for (i, n) in a.algorithms.iter().enumerate() {
        match algorithm(n) {
            Some(alg) => algorithms.push(alg),
            None => d.push(
                format!("{}[{i}]", p("algorithms")),
                format!("unsupported algorithm {n:?}; expected one of HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (\"none\" is never accepted)"),
            ),
        }
    }
    if a.algorithms.is_empty() {
        d.push(
            p("algorithms"),
            "required: list the algorithms your identity provider signs with, e.g. [\"ES256\"]",
        );
    }
    let hmac = algorithms.iter().any(|a| is_hmac(*a));
    if hmac && algorithms.iter().any(|a| !is_hmac(*a)) {
        d.push(p("algorithms"), "HMAC (HS*) and public-key algorithms cannot share an authenticator (key confusion); split them");
    }

    let sources = [
        a.keys.is_some(),
        a.jwks_url.is_some(),
        a.discovery == Some(true),
    ];
    let mut key_file = None;
    let keys = match sources {
        [true, false, false] => {
            let text = a.keys.as_deref().unwrap_or_default();
            match SecretRef::parse(text, d.base) {
                Err(m) => {
                    d.push(p("keys"), m);
                    None
                }
                Ok(SecretRef::File(path)) if a.dev_generate == Some(true) && !path.exists() => {
                    d.warn(format!(
                        "authenticators.{name}: {} is missing; a development Ed25519 key pair will be generated",
                        path.display()
                    ));
                    Some(KeySource::DevGenerated(path))
                }
                Ok(r) => {
                    if let SecretRef::File(path) = &r {
                        key_file = Some(path.clone());
                    }
                    // Only an HMAC secret is secret; public keys may be world-readable.
                    let mut quiet = Vec::new();
                    let warnings = if hmac { &mut *d.warnings } else { &mut quiet };
                    let loaded = r.load(warnings).and_then(|bytes| {
                        KeySet::from_config_bytes(bytes.expose(), hmac, &algorithms)
                    });
                    match loaded {
                        Ok(set) => Some(KeySource::Static(Arc::new(set))),
                        Err(m) => {
                            d.push(p("keys"), m);
                            None
                        }
                    }
                }
            }
        }
        [false, true, false] => match fetch_url(a.jwks_url.as_deref().unwrap_or_default()) {
            Ok(u) => Some(KeySource::Jwks(u)),
            Err(m) => {
                d.push(p("jwks_url"), m);
                None
            }
        },
        [false, false, true] => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            match fetch_url(&url) {
                Ok(u) => Some(KeySource::Discovery(u)),
                Err(m) => {
                    d.push(
                        p("discovery"),
                        format!("issuer URL unusable for discovery: {m}"),
                    );
                    None
                }
            }
        }
        _ => {
            d.push(p("keys"), "set exactly one key source: keys = \"file:...\", jwks_url = \"https://...\", or discovery = true");
            None
        }
    };
    if hmac && !matches!(keys, Some(KeySource::Static(_)) | None) {
        d.push(
            p("algorithms"),
            "HMAC keys must come from keys = \"env:...\" or \"file:...\", not from a JWKS URL",
        );
    }
    let token_from = match (&a.token_cookie, &a.token_header) {
        (None, None) => TokenSource::Bearer,
        (Some(cookie), None) => TokenSource::Cookie(cookie.clone()),
        (None, Some(h)) => match HeaderName::from_bytes(h.as_bytes()) {
            Ok(h) => TokenSource::Header(h),
            Err(_) => {
                d.push(p("token_header"), format!("invalid header name {h:?}"));
                TokenSource::Bearer
            }
        },
        (Some(_), Some(_)) => {
            d.push(
                p("token_cookie"),
                "set token_cookie or token_header, not both",
            );
            TokenSource::Bearer
        }
    };
    let max_token_size = match a.max_token_size.as_deref().map(units::size) {
        None => 16 * 1024,
        Some(Ok(n)) => n as usize,
        Some(Err(m)) => {
            d.push(p("max_token_size"), m);
            16 * 1024
        }
    };
    let jwt = JwtSettings {
        issuer,
        audiences: a.audiences.clone(),
        algorithms,
        keys: keys?,
        refresh: d.duration(
            p("jwks_refresh"),
            a.jwks_refresh.as_ref(),
            Duration::from_secs(300),
        ),
        max_stale: d.duration(
            p("jwks_max_stale"),
            a.jwks_max_stale.as_ref(),
            Duration::from_secs(86400),
        ),
        cooldown: d.duration(
            p("jwks_cooldown"),
            a.jwks_cooldown.as_ref(),
            Duration::from_secs(30),
        ),
        leeway: d.duration(p("leeway"), a.leeway.as_ref(), Duration::from_secs(30)),
        require_exp: a.require_exp.unwrap_or(true),
        max_lifetime: a
            .max_lifetime
            .as_ref()
            .map(|m| d.duration(p("max_lifetime"), Some(m), Duration::ZERO)),
        typ: a.typ.clone(),
        max_token_size,
        token_from,
        key_file,
        certificate_bound: a.certificate_bound.unwrap_or(false),
    };
    if jwt.leeway > Duration::from_secs(300) {
        d.push(
            p("leeway"),
            "at most 5m: a large leeway keeps expired tokens alive",
        );
    }
    Some(jwt)
}
