//! `dpop = "off" | "optional" | "required"` (or a table with `mode`,
//! `algorithms`, `window`, `nonce`, `nonce_secret`, `nonce_lifetime`) on
//! jwt, introspection and issued authenticators, and on `[issuer]`.

use crate::config::diag::Diag;
use crate::config::file::{DpopFile, DpopTableFile};
use crate::config::secret::{Secret, SecretRef};
use jsonwebtoken::Algorithm;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer tokens only; a DPoP-bound token is refused (it cannot be checked).
    #[default]
    Off,
    /// Bearer tokens, and DPoP-bound tokens with a valid proof.
    Optional,
    /// Only DPoP-bound tokens with a valid proof.
    Required,
}

impl DpopMode {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopMode::Off => "off",
            DpopMode::Optional => "optional",
            DpopMode::Required => "required",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DpopSettings {
    pub mode: DpopMode,
    pub algorithms: Vec<Algorithm>,
    pub window: Duration,
    /// `Some` when nonces are required: the shared secret, if configured.
    pub nonce: Option<Option<Arc<Secret>>>,
    pub nonce_lifetime: Duration,
}

impl Default for DpopSettings {
    fn default() -> DpopSettings {
        DpopSettings {
            mode: DpopMode::Off,
            algorithms: default_algorithms(),
            window: Duration::from_secs(60),
            nonce: None,
            nonce_lifetime: Duration::from_secs(300),
        }
    }
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
    ]
}

/// Validates `prefix` + `dpop` (`prefix` ends with a dot).
pub fn settings(d: &mut Diag<'_>, prefix: &str, file: Option<&DpopFile>) -> DpopSettings {
    let empty = DpopTableFile::default();
    let (mode, table) = match file {
        None => (None, &empty),
        Some(DpopFile::Mode(m)) => (Some(m.as_str()), &empty),
        Some(DpopFile::Table(t)) => (t.mode.as_deref(), t),
    };
    let p = |k: &str| format!("{prefix}dpop{k}");
    let mode = match mode {
        None | Some("off") => DpopMode::Off,
        Some("optional") => DpopMode::Optional,
        Some("required") => DpopMode::Required,
        Some(other) => {
            d.push(
                p(if table.mode.is_some() { ".mode" } else { "" }),
                format!("unknown mode {other:?}; use \"off\", \"optional\" or \"required\""),
            );
            DpopMode::Off
        }
    };
    let mut algorithms = Vec::new();
    for (i, name) in table.algorithms.iter().enumerate() {
        match crate::authn::jwt::key::algorithm(name) {
            Some(a) if !crate::authn::jwt::key::is_hmac(a) => algorithms.push(a),
            _ => d.push(
                format!("{}[{i}]", p(".algorithms")),
                format!("{name:?} is not an asymmetric JWS algorithm (ES256, ES384, EdDSA, RS256, PS256, ...)"),
            ),
        }
    }
    if algorithms.is_empty() {
        algorithms = default_algorithms();
    }
    let window = d.duration(p(".window"), table.window.as_ref(), Duration::from_secs(60));
    if window.is_zero() || window > Duration::from_secs(600) {
        d.push(p(".window"), "must be between 1s and 10m");
    }
    let nonce_lifetime = d.duration(
        p(".nonce_lifetime"),
        table.nonce_lifetime.as_ref(),
        Duration::from_secs(300),
    );
    let secret = table.nonce_secret.as_ref().and_then(|r| {
        let loaded = SecretRef::parse(r, d.base).and_then(|r| r.load(d.warnings));
        match loaded {
            Ok(s) if s.expose().len() >= 16 => Some(Arc::new(s)),
            Ok(_) => {
                d.push(p(".nonce_secret"), "must be at least 16 bytes");
                None
            }
            Err(e) => {
                d.push(p(".nonce_secret"), e);
                None
            }
        }
    });
    let nonce = table.nonce.unwrap_or(false).then_some(secret);
    if table.mode.is_none() && matches!(file, Some(DpopFile::Table(_))) {
        d.push(
            p(".mode"),
            "required in a dpop table: \"optional\" or \"required\"",
        );
    }
    DpopSettings {
        mode,
        algorithms,
        window,
        nonce,
        nonce_lifetime,
    }
}
