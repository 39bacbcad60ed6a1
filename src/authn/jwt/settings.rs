//! `kind = "jwt"` settings: issuer, audiences, the algorithm allow-list, and
//! exactly one key source. Static keys are parsed here, so a bad key file is a
//! `check` error naming the key.

use super::keys::{algorithm, is_hmac, KeySet};
use super::remote::RefreshPolicy;
use crate::authn::extract::TokenSource;
use crate::config::diag::Diag;
use crate::config::file::JwtFile;
use crate::config::secret::{Secret, SecretRef};
use crate::net::fetch_url;
use jsonwebtoken::Algorithm;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum KeySource {
    /// A PEM public key, a JWKS, or an HMAC secret: the bytes, checked here and
    /// parsed again by the authenticator (settings hold data, not key objects).
    Static {
        material: Arc<Secret>,
        hmac: bool,
    },
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
    /// RFC 9449 proof-of-possession policy.
    pub dpop: crate::authn::dpop::settings::DpopSettings,
    /// Encrypted tokens (RFC 7516): absent unless `decryption_keys` is set.
    pub decryption: Option<super::decryption::JweSettings>,
}

/// `jwks_refresh` (5 min), `jwks_max_stale` (24 h) and `jwks_cooldown` (30 s)
/// of an authenticator whose keys come from a JWKS; `prefix` ends with a dot.
pub fn refresh_policy(
    d: &mut Diag<'_>,
    prefix: &str,
    [refresh, max_stale, cooldown]: [&Option<String>; 3],
) -> RefreshPolicy {
    RefreshPolicy {
        refresh: d.duration(
            format!("{prefix}jwks_refresh"),
            refresh.as_ref(),
            Duration::from_secs(300),
        ),
        max_stale: d.duration(
            format!("{prefix}jwks_max_stale"),
            max_stale.as_ref(),
            Duration::from_secs(86400),
        ),
        cooldown: d.duration(
            format!("{prefix}jwks_cooldown"),
            cooldown.as_ref(),
            Duration::from_secs(30),
        ),
    }
}

impl JwtSettings {
    /// Settings with the defaults a `[authenticators.NAME]` table gets for
    /// every key it leaves out (for code that builds an authenticator itself:
    /// the `issued` kind, tests, benchmarks, fuzzing).
    pub fn with_defaults(
        issuer: &str,
        audiences: Vec<String>,
        algorithms: Vec<Algorithm>,
        keys: KeySource,
    ) -> JwtSettings {
        JwtSettings {
            issuer: issuer.to_string(),
            audiences,
            algorithms,
            keys,
            refresh: Duration::from_secs(300),
            max_stale: Duration::from_secs(86400),
            cooldown: Duration::from_secs(30),
            leeway: Duration::from_secs(30),
            require_exp: true,
            max_lifetime: None,
            typ: None,
            max_token_size: 16 * 1024,
            token_from: TokenSource::Bearer,
            key_file: None,
            certificate_bound: false,
            dpop: crate::authn::dpop::settings::DpopSettings::default(),
            decryption: None,
        }
    }

    pub fn refresh_policy(&self) -> RefreshPolicy {
        RefreshPolicy {
            refresh: self.refresh,
            max_stale: self.max_stale,
            cooldown: self.cooldown,
        }
    }
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
    let algorithms = algorithms(d, name, &a.algorithms);
    let hmac = algorithms.iter().any(|a| is_hmac(*a));
    let (keys, key_file) = key_source(d, name, a, &issuer, &algorithms, hmac);
    if hmac && !matches!(keys, Some(KeySource::Static { .. }) | None) {
        d.push(
            p("algorithms"),
            "HMAC keys must come from keys = \"env:...\" or \"file:...\", not from a JWKS URL",
        );
    }
    let max_token_size = d.size(p("max_token_size"), a.max_token_size.as_ref(), 16 * 1024);
    let token_from = token_source(d, name, a);
    let leeway = d.duration(p("leeway"), a.leeway.as_ref(), Duration::from_secs(30));
    if leeway > Duration::from_secs(300) {
        d.push(
            p("leeway"),
            "at most 5m: a large leeway keeps expired tokens alive",
        );
    }
    let RefreshPolicy {
        refresh,
        max_stale,
        cooldown,
    } = refresh_policy(
        d,
        &p(""),
        [&a.jwks_refresh, &a.jwks_max_stale, &a.jwks_cooldown],
    );
    let max_lifetime = a
        .max_lifetime
        .as_ref()
        .map(|m| d.duration(p("max_lifetime"), Some(m), Duration::ZERO));
    let decryption = super::decryption::settings(d, name, a);
    // Every other key is checked first, so one run reports every problem.
    Some(JwtSettings {
        issuer,
        audiences: a.audiences.clone(),
        algorithms,
        keys: keys?,
        refresh,
        max_stale,
        cooldown,
        leeway,
        require_exp: a.require_exp.unwrap_or(true),
        max_lifetime,
        typ: a.typ.clone(),
        max_token_size: usize::try_from(max_token_size).unwrap_or(usize::MAX),
        token_from,
        key_file,
        certificate_bound: a.certificate_bound.unwrap_or(false),
        dpop: crate::authn::dpop::settings::settings(
            d,
            &format!("authenticators.{name}."),
            a.dpop.as_ref(),
        ),
        decryption,
    })
}

/// The allow-list; HMAC and public-key algorithms never share an authenticator.
fn algorithms(d: &mut Diag<'_>, name: &str, names: &[String]) -> Vec<Algorithm> {
    let path = format!("authenticators.{name}.algorithms");
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match algorithm(n) {
            Some(alg) => out.push(alg),
            None => d.push(
                format!("{path}[{i}]"),
                format!("unsupported algorithm {n:?}; expected one of HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (\"none\" is never accepted)"),
            ),
        }
    }
    if names.is_empty() {
        d.push(
            &path,
            "required: list the algorithms your identity provider signs with, e.g. [\"ES256\"]",
        );
    }
    if out.iter().any(|a| is_hmac(*a)) && out.iter().any(|a| !is_hmac(*a)) {
        d.push(&path, "HMAC (HS*) and public-key algorithms cannot share an authenticator (key confusion); split them");
    }
    out
}

/// Exactly one of `keys`, `jwks_url`, `discovery`; with the file static keys came from.
fn key_source(
    d: &mut Diag<'_>,
    name: &str,
    a: &JwtFile,
    issuer: &str,
    algorithms: &[Algorithm],
    hmac: bool,
) -> (Option<KeySource>, Option<PathBuf>) {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    match (&a.keys, &a.jwks_url, a.discovery == Some(true)) {
        (Some(text), None, false) => static_keys(d, name, a, text, algorithms, hmac),
        (None, Some(url), false) => {
            let u = d.take(p("jwks_url"), fetch_url(url).map(Some), None);
            (u.map(KeySource::Jwks), None)
        }
        (None, None, true) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let u = fetch_url(&url)
                .map(Some)
                .map_err(|m| format!("issuer URL unusable for discovery: {m}"));
            (
                d.take(p("discovery"), u, None).map(KeySource::Discovery),
                None,
            )
        }
        _ => {
            d.push(p("keys"), "set exactly one key source: keys = \"file:...\", jwks_url = \"https://...\", or discovery = true");
            (None, None)
        }
    }
}

/// `keys = "file:..."|"env:..."`: a PEM key, a JWKS, or the HMAC secret, parsed now.
fn static_keys(
    d: &mut Diag<'_>,
    name: &str,
    a: &JwtFile,
    text: &str,
    algorithms: &[Algorithm],
    hmac: bool,
) -> (Option<KeySource>, Option<PathBuf>) {
    let path = format!("authenticators.{name}.keys");
    let r = match SecretRef::parse(text, d.base) {
        Err(m) => {
            d.push(path, m);
            return (None, None);
        }
        Ok(SecretRef::File(file)) if a.dev_generate == Some(true) && !file.exists() => {
            d.warn(format!(
                "authenticators.{name}: {} is missing; a development Ed25519 key pair will be generated",
                file.display()
            ));
            return (Some(KeySource::DevGenerated(file)), None);
        }
        Ok(r) => r,
    };
    let key_file = match &r {
        SecretRef::File(file) => Some(file.clone()),
        SecretRef::Env(_) => None,
    };
    // Only an HMAC secret is secret; public keys may be world-readable.
    let mut quiet = Vec::new();
    let warnings = if hmac { &mut *d.warnings } else { &mut quiet };
    let checked = r.load(warnings).and_then(|bytes| {
        KeySet::from_config_bytes(bytes.expose(), hmac, algorithms).map(|_| bytes)
    });
    let material = d.take(path, checked.map(Some), None);
    let source = material.map(|m| KeySource::Static {
        material: Arc::new(m),
        hmac,
    });
    (source, key_file)
}

/// Where the token is read: `Authorization: Bearer`, a cookie, or a header.
fn token_source(d: &mut Diag<'_>, name: &str, a: &JwtFile) -> TokenSource {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    match (&a.token_cookie, &a.token_header) {
        (None, None) => TokenSource::Bearer,
        (Some(cookie), None) => TokenSource::Cookie(cookie.clone()),
        (None, Some(_)) => d
            .header_opt(p("token_header"), a.token_header.as_ref())
            .map_or(TokenSource::Bearer, TokenSource::Header),
        (Some(_), Some(_)) => {
            d.push(
                p("token_cookie"),
                "set token_cookie or token_header, not both",
            );
            TokenSource::Bearer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    fn check(f: &JwtFile) -> (Option<JwtSettings>, Vec<String>) {
        let mut scratch = Scratch::default();
        let got = settings(&mut scratch.diag(), "a", f);
        (
            got,
            scratch
                .errors
                .into_iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect(),
        )
    }

    #[test]
    fn every_missing_or_conflicting_key_is_named() {
        let (s, errs) = check(&JwtFile::default());
        assert!(s.is_none());
        for key in ["issuer", "audiences", "algorithms", "keys"] {
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(&format!("authenticators.a.{key}:"))),
                "{key}: {errs:?}"
            );
        }
        let f = JwtFile {
            issuer: Some("https://idp".into()),
            audiences: vec!["api".into()],
            algorithms: vec!["HS256".into(), "ES256".into(), "none".into()],
            jwks_url: Some("http://idp.example/jwks".into()),
            token_cookie: Some("s".into()),
            token_header: Some("x-t".into()),
            leeway: Some("10m".into()),
            ..JwtFile::default()
        };
        let (_, errs) = check(&f);
        for want in [
            "authenticators.a.algorithms[2]: unsupported algorithm \"none\"",
            "authenticators.a.algorithms: HMAC (HS*) and public-key",
            "authenticators.a.jwks_url: \"http://idp.example/jwks\" must use https",
            "authenticators.a.token_cookie: set token_cookie or token_header",
            "authenticators.a.leeway: at most 5m",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "{want}: {errs:?}");
        }
    }

    #[test]
    fn discovery_derives_the_well_known_url() {
        let f = JwtFile {
            issuer: Some("https://idp.example/realms/x/".into()),
            audiences: vec!["api".into()],
            algorithms: vec!["RS256".into()],
            discovery: Some(true),
            ..JwtFile::default()
        };
        let (s, errs) = check(&f);
        assert!(errs.is_empty(), "{errs:?}");
        match s.map(|s| s.keys) {
            Some(KeySource::Discovery(u)) => {
                assert_eq!(
                    u,
                    "https://idp.example/realms/x/.well-known/openid-configuration"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
