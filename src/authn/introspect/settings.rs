//! Validation of a `kind = "introspection"` table into its settings.

use crate::authn::extract::TokenSource;
use crate::config::diag::Diag;
use crate::config::file::IntrospectionFile;
use crate::config::secret::{Secret, SecretRef};
use crate::net::fetch_url;
use http::Uri;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// RFC 6749 §2.3.1 HTTP Basic (the default).
    Basic,
    /// Credentials in the form body.
    Post,
}

/// Where the endpoint comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Fixed(Uri),
    /// `{issuer}/.well-known/openid-configuration`'s `introspection_endpoint`.
    Discovery(Uri),
}

/// Validated `[authenticators.NAME]` settings of kind `introspection`.
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    pub endpoint: Endpoint,
    pub client_id: String,
    pub client_secret: Arc<Secret>,
    pub client_auth: ClientAuth,
    pub token_type_hint: Option<String>,
    /// The exact `iss` required of active answers, when set.
    pub issuer: Option<String>,
    /// Any-of `aud` values required of active answers; empty: not checked.
    pub audiences: Vec<String>,
    pub cache_max: Duration,
    pub cache_inactive: Duration,
    pub timeout: Duration,
    pub max_response: usize,
    pub max_token_size: usize,
    pub token_from: TokenSource,
    pub leeway: Duration,
    /// RFC 9449 proof-of-possession policy.
    pub dpop: crate::authn::dpop::settings::DpopSettings,
}

/// Validates a `kind = "introspection"` table.
pub fn settings(
    d: &mut Diag<'_>,
    name: &str,
    f: &IntrospectionFile,
) -> Option<IntrospectionSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let endpoint = endpoint(d, name, f);
    let client_id = f.client_id.clone().unwrap_or_else(|| {
        d.push(
            p("client_id"),
            "required: the gateway's client id at the introspection endpoint",
        );
        String::new()
    });
    if f.audiences.is_empty() {
        // RFC 7662 §4: without an audience check, any active token the server
        // issued for any resource server would pass here.
        d.push(
            p("audiences"),
            "required: the `aud` values this gateway accepts in introspection answers",
        );
    }
    let client_secret = client_secret(d, name, f.client_secret.as_deref());
    let client_auth = match f.client_auth.as_deref().unwrap_or("client_secret_basic") {
        "client_secret_basic" => ClientAuth::Basic,
        "client_secret_post" => ClientAuth::Post,
        other => {
            d.push(
                p("client_auth"),
                format!(
                    "unknown method {other:?}; expected client_secret_basic or client_secret_post"
                ),
            );
            ClientAuth::Basic
        }
    };
    let token_from = d
        .header_opt(p("token_header"), f.token_header.as_ref())
        .map_or(TokenSource::Bearer, TokenSource::Header);
    let max_response = d.size(p("max_response"), f.max_response.as_ref(), 64 * 1024);
    let max_token_size = d.size(p("max_token_size"), f.max_token_size.as_ref(), 16 * 1024);
    let cache_max = d.duration(
        p("cache_max"),
        f.cache_max.as_ref(),
        Duration::from_secs(300),
    );
    let cache_inactive = d.duration(
        p("cache_inactive"),
        f.cache_inactive.as_ref(),
        Duration::from_secs(10),
    );
    let timeout = d.duration(p("timeout"), f.timeout.as_ref(), Duration::from_secs(2));
    if timeout.is_zero() {
        d.push(p("timeout"), "must be more than 0s");
    }
    if max_response < 64 {
        d.push(
            p("max_response"),
            "at least 64 bytes: no introspection answer fits in less",
        );
    }
    let leeway = d.duration(p("leeway"), f.leeway.as_ref(), Duration::from_secs(30));
    if leeway > Duration::from_secs(300) {
        d.push(
            p("leeway"),
            "at most 5m: a large leeway keeps expired tokens alive",
        );
    }
    Some(IntrospectionSettings {
        endpoint: endpoint?,
        client_id,
        client_secret: client_secret?,
        client_auth,
        token_type_hint: f.token_type_hint.clone(),
        issuer: f.issuer.clone(),
        audiences: f.audiences.clone(),
        cache_max,
        cache_inactive,
        timeout,
        max_response: usize::try_from(max_response).unwrap_or(usize::MAX),
        max_token_size: usize::try_from(max_token_size).unwrap_or(usize::MAX),
        token_from,
        leeway,
        dpop: crate::authn::dpop::settings::settings(d, &p(""), f.dpop.as_ref()),
    })
}

/// `endpoint = "https://..."`, or `discovery = true` with `issuer`.
fn endpoint(d: &mut Diag<'_>, name: &str, f: &IntrospectionFile) -> Option<Endpoint> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    match (&f.endpoint, f.discovery == Some(true), &f.issuer) {
        (Some(e), false, _) => d
            .take(p("endpoint"), fetch_url(e).map(Some), None)
            .map(Endpoint::Fixed),
        (None, true, Some(iss)) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                iss.trim_end_matches('/')
            );
            let u = fetch_url(&url)
                .map(Some)
                .map_err(|m| format!("issuer URL unusable for discovery: {m}"));
            d.take(p("issuer"), u, None).map(Endpoint::Discovery)
        }
        (None, true, None) => {
            d.push(p("discovery"), "needs issuer = \"https://...\"");
            None
        }
        _ => {
            d.push(
                p("endpoint"),
                "set exactly one of endpoint = \"https://...\" or discovery = true",
            );
            None
        }
    }
}

/// The client secret, loaded now so a missing variable or file fails `check`.
fn client_secret(d: &mut Diag<'_>, name: &str, text: Option<&str>) -> Option<Arc<Secret>> {
    let path = format!("authenticators.{name}.client_secret");
    let Some(text) = text else {
        d.push(path, "required: \"env:NAME\" or \"file:PATH\"");
        return None;
    };
    // A secret file usually ends with a newline that is not part of the secret.
    let loaded = SecretRef::parse(text, d.base)
        .and_then(|r| r.load(&mut *d.warnings))
        .and_then(|s| match std::str::from_utf8(s.expose()) {
            Ok(t) if !t.trim_end_matches(['\r', '\n']).is_empty() => Ok(Secret::new(
                t.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
            )),
            Ok(_) => Err("the client secret is empty".to_string()),
            Err(_) => Err("the client secret must be UTF-8 text".to_string()),
        });
    d.take(path, loaded.map(|s| Some(Arc::new(s))), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;

    #[test]
    fn the_validator_names_every_missing_or_wrong_key() {
        let none = IntrospectionFile::default();
        let errs = errors_of(|d| assert!(settings(d, "i", &none).is_none()));
        assert_eq!(
            errs,
            [
                "authenticators.i.endpoint",
                "authenticators.i.client_id",
                "authenticators.i.audiences",
                "authenticators.i.client_secret"
            ]
        );
        let odd = IntrospectionFile {
            discovery: Some(true),
            client_id: Some("gw".into()),
            client_secret: Some("literal".into()),
            client_auth: Some("private_key_jwt".into()),
            audiences: vec!["api".into()],
            timeout: Some("0s".into()),
            leeway: Some("1h".into()),
            ..IntrospectionFile::default()
        };
        let errs = errors_of(|d| assert!(settings(d, "i", &odd).is_none()));
        assert_eq!(
            errs,
            [
                "authenticators.i.discovery",
                "authenticators.i.client_secret",
                "authenticators.i.client_auth",
                "authenticators.i.timeout",
                "authenticators.i.leeway"
            ]
        );
        std::env::set_var("SEALGATE_UNIT_INTROSPECTION_SECRET", "s\n");
        let ok = IntrospectionFile {
            endpoint: Some("https://idp.example/introspect".into()),
            client_id: Some("gw".into()),
            client_secret: Some("env:SEALGATE_UNIT_INTROSPECTION_SECRET".into()),
            audiences: vec!["api".into()],
            cache_max: Some("1m".into()),
            ..IntrospectionFile::default()
        };
        errors_of(|d| {
            let s = settings(d, "i", &ok).unwrap();
            assert_eq!(s.cache_max, Duration::from_secs(60));
            assert_eq!(s.client_auth, ClientAuth::Basic);
            assert_eq!(
                s.client_secret.expose(),
                b"s",
                "a trailing newline is not part of the secret"
            );
            assert!(
                !format!("{s:?}").contains("SEALGATE_UNIT"),
                "Debug never shows the secret"
            );
        });
    }
}
