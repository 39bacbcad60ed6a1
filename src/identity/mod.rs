//! Identity headers to the backend: strip every client-sent header that could
//! pose as gateway-verified identity, and credentials a route does not forward;
//! then set the verified identity and the signed assertion (`assertion`).
//!
//! Names compare case-insensitively with `_` and `-` treated alike, because some
//! backends (CGI, WSGI, PHP) fold `X_Auth_Subject` into the same variable as
//! `X-Auth-Subject` (oauth2-proxy CVE-2025-64484).

pub mod assertion;
pub mod settings;

use crate::authn::Principal;
use crate::identity::settings::Identity;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// Credential headers that never reach a backend unless a route opts in.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "dpop", "signature", "signature-input"];

const XFCC: &str = "x-forwarded-client-cert";

/// Headers backends and frameworks trust as identity, client address or the
/// "real" URL and method, that only a proxy may set: removed on every route
/// (`identity.keep` forwards one deliberately, `identity.strip_also` adds
/// more). Sources: oauth2-proxy's and nginx's auth headers, the CDN client-IP
/// headers, X-Original-URL/X-Rewrite-URL (IIS, Symfony, Laravel) and the
/// method-override headers (Rails, Express, Spring).
pub const STRIPPED_BY_DEFAULT: [&str; 26] = [
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "remote-user",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-access-token",
    "x-original-url",
    "x-rewrite-url",
    "x-original-method",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Precomputed, folded names of every header the gateway alone may set.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    folded: Vec<String>,
    /// The lengths among `folded` (`length_bit`): a request header of any
    /// other length is none of them, without comparing it to each.
    lengths: u64,
}

/// One bit per name length; lengths of 63 and more share the last bit.
const fn length_bit(len: usize) -> u64 {
    1 << if len < 63 { len } else { 63 }
}

const CREDENTIAL_LENGTHS: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < CREDENTIAL_HEADERS.len() {
        mask |= length_bit(CREDENTIAL_HEADERS[i].len());
        i += 1;
    }
    mask
};

fn fold(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

fn folded_eq(name: &HeaderName, folded: &str) -> bool {
    let n = name.as_str().as_bytes();
    n.len() == folded.len()
        && n.iter().zip(folded.bytes()).all(|(a, b)| {
            let a = if *a == b'_' { b'-' } else { *a };
            a == b
        })
}

impl IdentityHeaders {
    pub fn new(identity: &Identity) -> IdentityHeaders {
        let mut folded: Vec<String> = [
            &identity.subject_header,
            &identity.issuer_header,
            &identity.assertion_header,
            &identity.client_cert_header,
        ]
        .into_iter()
        .chain(identity.claims.iter().map(|(_, h)| h))
        .map(|h| fold(h.as_str()))
        // Envoy's name is stripped even when the gateway writes another one:
        // backends may read it whatever the configuration says.
        .chain(std::iter::once(XFCC.to_string()))
        .chain(
            STRIPPED_BY_DEFAULT
                .iter()
                .filter(|h| !identity.keep.iter().any(|k| fold(k) == fold(h)))
                .map(|h| fold(h)),
        )
        .chain(identity.strip_also.iter().map(|h| fold(h)))
        .collect();
        folded.sort();
        folded.dedup();
        let lengths = folded.iter().fold(0, |m, f| m | length_bit(f.len()));
        IdentityHeaders { folded, lengths }
    }

    /// Removes client-sent identity headers, and credentials unless `forward_credentials`.
    pub fn strip(&self, headers: &mut HeaderMap, forward_credentials: bool) {
        let doomed: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                let bit = length_bit(name.as_str().len());
                (self.lengths & bit != 0 && self.folded.iter().any(|f| folded_eq(name, f)))
                    || (!forward_credentials
                        && CREDENTIAL_LENGTHS & bit != 0
                        && CREDENTIAL_HEADERS.iter().any(|c| folded_eq(name, c)))
            })
            .cloned()
            .collect();
        for name in doomed {
            headers.remove(name);
        }
    }
}

/// Envoy's `x-forwarded-client-cert` shape for a verified client certificate:
/// `Hash=<hex SHA-256>;Subject="...";URI=...;DNS=...`. Values that a header
/// cannot carry are left out rather than escaped into something ambiguous.
pub fn client_cert_value(c: &crate::conn::ClientCert) -> Option<HeaderValue> {
    // Every value quoted, `\` and `"` escaped (Envoy's XFCC rules), so a SAN
    // holding `;`, `,` or `=` cannot add an element of its own.
    fn quoted(out: &mut String, key: &str, value: &str) {
        out.push(';');
        out.push_str(key);
        out.push_str("=\"");
        for ch in value.chars() {
            if matches!(ch, '"' | '\\') {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    let mut v = format!("Hash={}", c.sha256_hex);
    quoted(&mut v, "Subject", &c.subject);
    for u in &c.san_uris {
        quoted(&mut v, "URI", u);
    }
    for d in &c.san_dns {
        quoted(&mut v, "DNS", d);
    }
    HeaderValue::from_str(&v).ok()
}

/// Why verified identity could not be expressed as headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// A header would exceed `identity.max_header_bytes`: refuse rather than truncate.
    TooLarge,
    /// A claim holds characters a header cannot carry.
    Unrepresentable,
}

/// A claim as one header value: strings as-is, arrays joined with commas.
fn claim_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(claim_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn value(text: &str, max: usize) -> Result<HeaderValue, IdentityError> {
    if text.len() > max {
        return Err(IdentityError::TooLarge);
    }
    HeaderValue::from_str(text).map_err(|_| IdentityError::Unrepresentable)
}

/// Sets the verified identity headers for `p` (after `strip`).
pub fn set_verified(
    headers: &mut HeaderMap,
    cfg: &Identity,
    p: &Principal,
) -> Result<(), IdentityError> {
    let max = cfg.max_header_bytes;
    headers.insert(&cfg.subject_header, value(p.subject(), max)?);
    if let Some(iss) = p.issuer() {
        headers.insert(&cfg.issuer_header, value(iss, max)?);
    }
    for (claim, name) in &cfg.claims {
        if let Some(v) = p.claims().get(claim) {
            headers.insert(name, value(&claim_text(v), max)?);
        }
    }
    Ok(())
}

/// Removes one cookie (the token cookie) from the Cookie header(s), keeping the others.
#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn identity() -> Identity {
        Identity {
            subject_header: HeaderName::from_static("x-auth-subject"),
            issuer_header: HeaderName::from_static("x-auth-issuer"),
            claims: vec![("email".into(), HeaderName::from_static("x-auth-email"))],
            assertion_header: HeaderName::from_static("x-sealgate-assertion"),
            max_header_bytes: 8192,
            assertion: None,
            client_cert_header: HeaderName::from_static("x-forwarded-client-cert"),
            forward_client_cert: false,
            strip_query: vec!["access_token".into()],
            strip_also: vec!["x-legacy-user".into()],
            keep: vec!["X-Forwarded-Prefix".into()],
        }
    }

    #[test]
    fn client_cert_values_are_quoted_so_sans_cannot_add_elements() {
        let c = crate::conn::ClientCert {
            x5t_s256: "t".into(),
            sha256_hex: "ab".into(),
            subject: "CN=a\\\"b".into(),
            subject_cn: None,
            san_uris: vec!["spiffe://x/a;URI=spiffe://prod/admin,x".into()],
            san_dns: vec!["d.example".into()],
            san_emails: vec![],
            serial: "01".into(),
            not_after: 0,
        };
        let v = client_cert_value(&c).unwrap();
        assert_eq!(
            v,
            "Hash=ab;Subject=\"CN=a\\\\\\\"b\";URI=\"spiffe://x/a;URI=spiffe://prod/admin,x\";DNS=\"d.example\""
        );
    }

    #[test]
    fn claims_render() {
        assert_eq!(claim_text(&serde_json::json!(["a", "b"])), "a,b");
        assert_eq!(claim_text(&serde_json::json!(42)), "42");
        assert_eq!(value(&"x".repeat(10), 5), Err(IdentityError::TooLarge));
        assert_eq!(value("a\nb", 50), Err(IdentityError::Unrepresentable));
    }

    #[test]
    fn strips_every_spelling_of_identity_headers() {
        let ids = IdentityHeaders::new(&identity());
        let mut h = HeaderMap::new();
        for name in [
            "X-Auth-Subject",
            "x_auth_subject",
            "X_AUTH_EMAIL",
            "x-sealgate-assertion",
            "x-auth_issuer",
            "X-Forwarded-Client-Cert",
            "Remote-User",
            "x_original_url",
            "X-HTTP-Method-Override",
            "True-Client-IP",
            "x-legacy-user",
        ] {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("spoof"),
            );
        }
        h.insert("authorization", HeaderValue::from_static("Bearer t"));
        h.insert("x-other", HeaderValue::from_static("kept"));
        ids.strip(&mut h, true);
        assert_eq!(h.len(), 2, "{h:?}");
        assert!(h.contains_key("authorization"));
        ids.strip(&mut h, false);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-other"], "kept");
    }

    #[test]
    fn names_of_63_bytes_and_more_are_compared_too() {
        let long = format!("x-{}", "a".repeat(70));
        let ids = IdentityHeaders::new(&Identity {
            strip_also: vec![long.clone()],
            ..identity()
        });
        let mut h = HeaderMap::new();
        for name in [long.replace('-', "_"), format!("x-{}", "b".repeat(90))] {
            h.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        ids.strip(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(format!("x-{}", "b".repeat(90)).as_str()));
    }
}
