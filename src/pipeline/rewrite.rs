//! What the upstream receives: hop-by-hop and client-sent identity headers
//! removed, credentials removed unless the route forwards them, forwarding
//! headers appended, then only verified identity set (linkerd2-proxy's rule:
//! strip, then set from verified data), the Host and the normalized target.

use crate::authn::Principal;
use crate::conn::ConnInfo;
use crate::error::GatewayError;
use crate::forwarding::{self, Downstream};
use crate::gateway::Gateway;
use crate::request_id::X_REQUEST_ID;
use crate::route::RouteEntry;
use http::{header, HeaderValue};
use std::sync::Arc;

/// Where a request goes: within the header limits, a usable host, a normalized
/// path, and the most specific matching route.
pub struct Target {
    pub route: Arc<RouteEntry>,
    /// The authority as the client addressed it.
    pub authority: String,
    pub path: String,
}

/// What the pipeline learned before the rewrite.
pub struct Seen<'a> {
    pub conn: &'a ConnInfo,
    pub request_id: &'a HeaderValue,
    pub principal: Option<&'a Principal>,
    /// Inside an OHTTP envelope: the connection's certificate is the relay's.
    pub sealed: bool,
    pub now: u64,
    /// The trace to continue upstream (`None`: no `traceparent` is set).
    pub trace: Option<crate::tracecontext::TraceContext>,
}

/// Rewrites `parts` in place into the request the upstream receives.
pub fn request(
    gw: &Gateway,
    target: &Target,
    seen: &Seen<'_>,
    parts: &mut http::request::Parts,
) -> Result<(), GatewayError> {
    let rc = &target.route.config;
    forwarding::strip_hop_by_hop(&mut parts.headers);
    super::checks::join_cookies(&mut parts.headers);
    gw.identity
        .strip(&mut parts.headers, rc.forward_credentials);
    let downstream = Downstream {
        peer: &seen.conn.forwarding,
        peer_trusted: gw.peer_trusted(seen.conn.peer.ip()),
        host: &target.authority,
    };
    forwarding::set_forwarded(&mut parts.headers, &downstream);
    parts.headers.insert(&X_REQUEST_ID, seen.request_id.clone());
    trace(seen.trace, &mut parts.headers);
    identity(gw, target, seen, &mut parts.headers)?;
    if !rc.forward_credentials {
        for a in &target.route.authn {
            a.strip(&mut parts.headers);
        }
    }
    if let Ok(h) = HeaderValue::from_str(&target.authority) {
        parts.headers.insert(header::HOST, h);
    }
    let path = &target.path;
    let strip = &gw.config.identity.strip_query;
    let prefixes: Vec<&str> = if rc.forward_credentials {
        Vec::new()
    } else {
        target
            .route
            .authn
            .iter()
            .filter_map(|a| a.query_prefix())
            .collect()
    };
    parts.uri = match parts
        .uri
        .query()
        .map(|q| without_params(q, strip, &prefixes))
    {
        Some(q) if !q.is_empty() => format!("{path}?{q}").parse(),
        _ => path.parse(),
    }
    .map_err(|_| GatewayError::BadPath(crate::route::PathError::BadEscape))?;
    Ok(())
}

/// The query without the parameters named in `names` (compared after
/// percent-decoding, so `access%5Ftoken` goes too): a token in a URL is never
/// used to authenticate (RFC 6750 §2.3 is not supported) and must not reach a
/// backend or its logs. Unchanged, and not copied, when nothing matches.
fn without_params<'q>(
    query: &'q str,
    names: &[String],
    prefixes: &[&str],
) -> std::borrow::Cow<'q, str> {
    let doomed = |pair: &str| {
        let key = pair.split('=').next().unwrap_or(pair);
        let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
        names.iter().any(|n| key.as_ref() == n.as_str())
            || prefixes.iter().any(|p| key.starts_with(p))
    };
    if (names.is_empty() && prefixes.is_empty()) || !query.split('&').any(doomed) {
        return std::borrow::Cow::Borrowed(query);
    }
    let kept: Vec<&str> = query.split('&').filter(|p| !doomed(p)).collect();
    std::borrow::Cow::Owned(kept.join("&"))
}

/// `traceparent` for the gateway's span; `tracestate` only with the
/// client's own trace (W3C Trace Context §4.3).
fn trace(t: Option<crate::tracecontext::TraceContext>, headers: &mut http::HeaderMap) {
    use crate::tracecontext::{TRACEPARENT, TRACESTATE};
    match t {
        Some(t) => {
            headers.insert(&TRACEPARENT, t.traceparent());
            if !t.continued {
                headers.remove(&TRACESTATE);
            }
        }
        None => {
            headers.remove(&TRACEPARENT);
            headers.remove(&TRACESTATE);
        }
    }
}

/// Only what `request` sets from verified data (the client certificate, the
/// identity headers, the signed assertion): a decision's answer.
pub fn verified_headers(
    gw: &Gateway,
    target: &Target,
    seen: &Seen<'_>,
) -> Result<http::HeaderMap, GatewayError> {
    let mut headers = http::HeaderMap::new();
    identity(gw, target, seen, &mut headers)?;
    Ok(headers)
}

/// The verified client certificate, identity headers and the signed assertion.
fn identity(
    gw: &Gateway,
    target: &Target,
    seen: &Seen<'_>,
    headers: &mut http::HeaderMap,
) -> Result<(), GatewayError> {
    let identity = &gw.config.identity;
    if let (true, Some(cert), false) = (
        identity.forward_client_cert,
        &seen.conn.client_cert,
        seen.sealed,
    ) {
        if let Some(v) = crate::identity::client_cert_value(cert) {
            headers.insert(&identity.client_cert_header, v);
        }
    }
    let Some(p) = seen.principal else {
        return Ok(());
    };
    crate::identity::set_verified(headers, identity, p)?;
    if let Some(signer) = &gw.assertion {
        let upstream = &target.route.config.upstream;
        let jwt = signer
            .sign(p, upstream, &identity.claims, seen.now)
            .map_err(|_| GatewayError::AssertionFailed)?;
        let mut value = HeaderValue::from_str(&jwt).map_err(|_| GatewayError::AssertionFailed)?;
        // A credential, unique per request: HPACK never-indexed (RFC 7541
        // §7.1.3) toward an HTTP/2 upstream, so it neither churns the
        // connection's header table nor shares a compression context.
        value.set_sensitive(true);
        headers.insert(&identity.assertion_header, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_queries_are_removed_whatever_their_spelling() {
        let names = vec!["access_token".to_string()];
        assert_eq!(without_params("a=1&b=2", &names, &[]), "a=1&b=2");
        assert_eq!(
            without_params("a=1&access_token=x&b=2", &names, &[]),
            "a=1&b=2"
        );
        assert_eq!(without_params("access%5Ftoken=x", &names, &[]), "");
        assert_eq!(without_params("access_token&a", &names, &[]), "a");
        assert_eq!(
            without_params("access_tokens=1", &names, &[]),
            "access_tokens=1"
        );
        assert_eq!(without_params("access_token=x", &[], &[]), "access_token=x");
        assert_eq!(
            without_params("a=1&oauth_nonce=x&oauth%5Fsignature=y", &[], &["oauth_"]),
            "a=1"
        );
    }
}
