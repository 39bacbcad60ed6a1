//! `WWW-Authenticate` challenges for refused requests, one per scheme the
//! route's authenticators use (RFC 6750 Bearer, RFC 9449 DPoP with its
//! nonce, RFC 9421 Signature, RFC 5849 OAuth), and never derived from the
//! credential itself.

use crate::admission::Refusal;
use crate::authn::{AuthFailure, Challenge};
use crate::authz::Denied;
use crate::body::ResBody;
use http::{HeaderValue, Response};

/// The refusals that carry a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Auth(AuthFailure),
    Admission(Refusal),
    Forbidden(Denied),
}

impl Refused {
    /// What a client may be told (decryption faults are not distinguished).
    fn reason(self) -> &'static str {
        match self {
            Refused::Auth(f) => f.public_reason(),
            Refused::Admission(r) => r.reason(),
            Refused::Forbidden(d) => d.reason(),
        }
    }
}

/// `WWW-Authenticate` for an authentication, authorization or admission refusal.
pub fn www_authenticate(
    e: Refused,
    challenges: &[Challenge],
    scope: Option<&str>,
) -> Option<String> {
    let error = match e {
        Refused::Auth(AuthFailure::Missing) => None,
        Refused::Auth(f) => Some(("invalid_token", f.description(), None)),
        Refused::Admission(r) => Some(("invalid_token", r.description(), None)),
        Refused::Forbidden(d @ Denied::InsufficientScope) => {
            Some(("insufficient_scope", d.description(), scope))
        }
        Refused::Forbidden(d) => Some(("insufficient_scope", d.description(), None)),
    };
    let parts: Vec<String> = challenges
        .iter()
        .filter_map(|c| match c {
            Challenge::Bearer => Some(bearer_challenge(error)),
            Challenge::Dpop { algs, .. } => Some(dpop_challenge(e, algs, error)),
            Challenge::Signature => Some(signature_challenge(e)),
            Challenge::OAuth { realm } => Some(oauth_challenge(realm, e)),
            Challenge::None => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// RFC 6750 §3: no error attribute when no credentials were sent; otherwise the
/// error code and a fixed description (never the token).
fn bearer_challenge(error: Option<(&str, &str, Option<&str>)>) -> String {
    match error {
        None => "Bearer realm=\"sealgate\"".to_string(),
        Some((code, description, scope)) => {
            format!(
            "Bearer realm=\"sealgate\", error=\"{code}\", error_description=\"{description}\"{}",
            scope.map(|s| format!(", scope=\"{s}\"")).unwrap_or_default()
        )
        }
    }
}

/// RFC 9449 §7.1: the proof algorithms, and the error once something was
/// presented (`invalid_dpop_proof`, `use_dpop_nonce`, or the token's error).
fn dpop_challenge(e: Refused, algs: &str, error: Option<(&str, &str, Option<&str>)>) -> String {
    let Some((code, description, scope)) = error else {
        return format!("DPoP algs=\"{algs}\"");
    };
    let code = match e {
        Refused::Auth(f) if code == "invalid_token" => f.dpop_error(),
        _ => code,
    };
    format!(
        "DPoP error=\"{code}\", error_description=\"{description}\", algs=\"{algs}\"{}",
        scope
            .map(|s| format!(", scope=\"{s}\""))
            .unwrap_or_default()
    )
}

/// `DPoP-Nonce` (RFC 9449 §9): a fresh nonce from the route's DPoP policy.
pub fn dpop_nonce(resp: &mut Response<ResBody>, challenges: &[Challenge]) {
    let nonce = challenges.iter().find_map(|c| match c {
        Challenge::Dpop {
            nonces: Some(n), ..
        } => Some(n.current(crate::authn::unix_now())),
        _ => None,
    });
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
}

/// Signed requests (RFC 9421): the realm, and the refusal's reason once
/// something was presented.
fn signature_challenge(e: Refused) -> String {
    match e {
        Refused::Auth(AuthFailure::Missing) => "Signature realm=\"sealgate\"".to_string(),
        e => format!("Signature realm=\"sealgate\", error=\"{}\"", e.reason()),
    }
}

/// RFC 5849 §3.2 `OAuth realm="..."`, with the OAuth Problem Reporting
/// extension's `oauth_problem` once something was presented.
fn oauth_challenge(realm: &str, e: Refused) -> String {
    let problem = match e {
        Refused::Auth(AuthFailure::Missing) => return format!("OAuth realm=\"{realm}\""),
        Refused::Auth(AuthFailure::BadSignature) => "signature_invalid",
        Refused::Auth(AuthFailure::UnknownKid) => "consumer_key_unknown",
        Refused::Auth(AuthFailure::Expired) => "consumer_key_rejected",
        Refused::Auth(AuthFailure::Stale) => "timestamp_refused",
        Refused::Auth(AuthFailure::AlgNotAllowed) => "signature_method_rejected",
        Refused::Auth(AuthFailure::MissingComponent) => "parameter_absent",
        Refused::Admission(Refusal::Replayed) => "nonce_used",
        Refused::Forbidden(_) => "permission_denied",
        _ => "parameter_rejected",
    };
    format!("OAuth realm=\"{realm}\", oauth_problem=\"{problem}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::jwe::algs::JweFault;

    #[test]
    fn decryption_faults_look_alike_in_every_scheme() {
        let all = [
            Challenge::Bearer,
            Challenge::Signature,
            Challenge::OAuth { realm: "r".into() },
        ];
        for fault in [
            JweFault::KeyUnwrap,
            JweFault::Decryption,
            JweFault::UnknownKey,
        ] {
            let text =
                www_authenticate(Refused::Auth(AuthFailure::Undecryptable(fault)), &all, None);
            let text = text.unwrap_or_default();
            assert!(!text.contains("jwe_"), "{text}");
            assert!(text.contains("error=\"undecryptable_token\""), "{text}");
        }
    }
}
