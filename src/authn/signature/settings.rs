//! `kind = "http-signature"` settings.

use crate::authn::credentials::jwk::{key_sources, KeyFields, KeySources};
use crate::config::diag::Diag;
use crate::config::file::HttpSignatureFile;
use std::time::Duration;

/// When a covered `content-digest` is checked against the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyBody {
    /// As it streams to the upstream; a mismatch aborts the upstream request.
    Stream,
    /// Before anything is forwarded (bounded by the route's body limit).
    Buffer,
}

impl VerifyBody {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyBody::Stream => "stream",
            VerifyBody::Buffer => "buffer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpSignatureSettings {
    /// The credentials file and/or the JWKS the keys come from.
    pub keys: KeySources,
    pub label: Option<String>,
    pub required: Vec<String>,
    /// Whether `required` was the default (then content-digest is added for bodies).
    pub default_required: bool,
    pub max_age: Duration,
    pub leeway: Duration,
    pub require_nonce: bool,
    pub tag: Option<String>,
    pub verify_body: VerifyBody,
    pub sign_responses: bool,
    pub max_signed_response: u64,
}

const DEFAULT_REQUIRED: [&str; 4] = ["@method", "@authority", "@path", "@query"];

pub fn settings(
    d: &mut Diag<'_>,
    name: &str,
    f: &HttpSignatureFile,
) -> Option<HttpSignatureSettings> {
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
        (false, &["ed25519", "ecdsa-p256-sha256"]),
    )?;
    let required: Vec<String> = match &f.required_components {
        Some(list) => list.clone(),
        None => DEFAULT_REQUIRED.iter().map(|s| s.to_string()).collect(),
    };
    for c in &required {
        let ok = match c.strip_prefix('@') {
            Some(derived) => [
                "method",
                "authority",
                "path",
                "query",
                "scheme",
                "target-uri",
                "request-target",
            ]
            .contains(&derived),
            None => {
                !c.is_empty()
                    && http::HeaderName::from_bytes(c.as_bytes()).is_ok()
                    && c.to_ascii_lowercase() == *c
            }
        };
        if !ok {
            d.push(
                p("required_components"),
                format!("{c:?} is not a derived component or a lowercase field name"),
            );
        }
    }
    let verify_body = match f.verify_body.as_deref() {
        None | Some("stream") => VerifyBody::Stream,
        Some("buffer") => VerifyBody::Buffer,
        Some(other) => {
            d.push(
                p("verify_body"),
                format!("{other:?}: expected \"stream\" or \"buffer\""),
            );
            VerifyBody::Stream
        }
    };
    let max_age = d.duration(p("max_age"), f.max_age.as_ref(), Duration::from_secs(300));
    if max_age.is_zero() {
        d.push(p("max_age"), "must be positive");
    }
    let leeway = d.duration(p("leeway"), f.leeway.as_ref(), Duration::from_secs(5));
    let max_signed_response = d.size(
        p("max_signed_response"),
        f.max_signed_response.as_ref(),
        8 << 20,
    );
    Some(HttpSignatureSettings {
        keys,
        label: f.label.clone(),
        default_required: f.required_components.is_none(),
        required,
        max_age,
        leeway,
        require_nonce: f.require_nonce.unwrap_or(false),
        tag: f.tag.clone(),
        verify_body,
        sign_responses: f.sign_responses.unwrap_or(false),
        max_signed_response,
    })
}
