//! `kind = "oauth1"` settings.

use crate::authn::credentials::jwk::{self, JwksKeys};
use crate::authn::credentials::source::{optional_source, CredentialSource};
use crate::config::diag::Diag;
use crate::config::file::OAuth1File;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OAuth1Settings {
    /// The credentials file; optional when every key comes from `jwks`.
    pub credentials: Option<CredentialSource>,
    pub jwks: Option<JwksKeys>,
    pub realm: Arc<str>,
    pub timestamp_window: Duration,
    pub require_body_hash: bool,
}

pub fn settings(d: &mut Diag<'_>, name: &str, f: &OAuth1File) -> Option<OAuth1Settings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let jwks = jwk::settings(
        d,
        name,
        [
            &f.jwks_url,
            &f.jwks_refresh,
            &f.jwks_max_stale,
            &f.jwks_cooldown,
        ],
        f.jwks_algorithms.as_ref(),
        (true, &["RSA-SHA256"]),
    );
    let credentials = optional_source(
        d,
        name,
        (f.credentials.as_ref(), f.kek.as_ref()),
        jwks.is_some(),
        true,
    )?;
    let realm = f.realm.clone().unwrap_or_else(|| "sealgate".into());
    if realm.contains(['"', '\\']) || realm.chars().any(|c| c.is_control()) {
        d.push(
            p("realm"),
            "must not contain quotes, backslashes or control characters",
        );
    }
    let window = d.duration(
        p("timestamp_window"),
        f.timestamp_window.as_ref(),
        Duration::from_secs(300),
    );
    if window.is_zero() {
        d.push(p("timestamp_window"), "must be positive");
    }
    Some(OAuth1Settings {
        credentials,
        jwks,
        realm: Arc::from(realm),
        timestamp_window: window,
        require_body_hash: f.require_body_hash.unwrap_or(false),
    })
}
