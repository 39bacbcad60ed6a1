//! `kind = "oauth1"` settings.

use crate::authn::credentials::jwk::{key_sources, KeyFields, KeySources};
use crate::config::diag::Diag;
use crate::config::file::OAuth1File;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OAuth1Settings {
    /// The credentials file and/or the JWKS the keys come from.
    pub keys: KeySources,
    pub realm: Arc<str>,
    pub timestamp_window: Duration,
    pub require_body_hash: bool,
}

pub fn settings(d: &mut Diag<'_>, name: &str, f: &OAuth1File) -> Option<OAuth1Settings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let keys = key_sources(
        d,
        name,
        KeyFields {
            credentials: &f.credentials,
            kek: &f.kek,
            jwks: [
                &f.jwks_url,
                &f.jwks_refresh,
                &f.jwks_max_stale,
                &f.jwks_cooldown,
            ],
            jwks_algorithms: &f.jwks_algorithms,
        },
        (true, &["RSA-SHA256"]),
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
        keys,
        realm: Arc::from(realm),
        timestamp_window: window,
        require_body_hash: f.require_body_hash.unwrap_or(false),
    })
}
