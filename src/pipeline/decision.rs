//! Decision mode (`[decision]`): another proxy (nginx `auth_request`, Envoy
//! `ext_authz` HTTP, Traefik `forwardAuth`, Caddy `forward_auth`) asks
//! whether the request it holds may pass. The original method, URI and host
//! come from the caller's headers, believed only from `listen.trusted_proxies`
//! peers (from anyone else the decision is about the request as it arrived);
//! routing, authentication (DPoP against the original method and URI),
//! authorization and the store checks then run exactly as for a forwarded
//! request (`admit`). Allowed: 200 with only the verified identity headers
//! and the signed assertion, for the caller to copy upstream. Refused: the
//! same 401/403 with `WWW-Authenticate` and problem+json a forwarded request
//! gets, for the caller to pass back.

use super::rewrite::{self, Target};
use super::{admit, precheck, route, Admitted};
use crate::access::AccessRecord;
use crate::body::ReqBody;
use crate::conn::ConnInfo;
use crate::error::GatewayError;
use crate::forwarding::X_FORWARDED_HOST;
use crate::gateway::Gateway;
use crate::settings::decision::Decision;
use crate::state::Shared;
use http::{header, HeaderName, HeaderValue, Method, Request, Response};

/// nginx `auth_request` (set with `proxy_set_header`).
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// Traefik and Caddy send these on their own.
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");

/// The request the caller holds, as far as it may say.
#[derive(Debug, PartialEq, Eq)]
struct Original {
    method: Method,
    path_and_query: String,
    /// `X-Forwarded-Host`; otherwise the decision request's own authority.
    host: Option<String>,
}

/// Answers one decision request.
pub(super) async fn decide(
    gw: &Gateway,
    state: &Shared,
    conn: &ConnInfo,
    request_id: &HeaderValue,
    record: &mut AccessRecord,
    decision: &Decision,
    req: Request<ReqBody>,
) -> Result<Response<crate::body::ResBody>, GatewayError> {
    let own_authority = precheck(gw, &req)?;
    let trusted = gw.peer_trusted(conn.peer.ip());
    let original = original(decision, &req, trusted)?;
    if matches!(original.method, Method::CONNECT | Method::TRACE) {
        return Err(GatewayError::MethodNotAllowed);
    }
    let authority = original.host.clone().unwrap_or(own_authority);
    let inner = inner_request(&req, original, &authority)?;
    let covered = route(gw, record, &inner, authority.clone())?;
    if !decision.covers(&covered.route.name) {
        return Err(GatewayError::NotFound);
    }
    let Admitted {
        target,
        verdict,
        now,
        ..
    } = admit(gw, state, conn, record, inner, authority, None).await?;
    if verdict
        .as_ref()
        .is_some_and(|v| v.body.is_some() || v.respond.is_some())
    {
        // `check` refuses such routes; should one slip through, the body
        // digest it promises cannot be verified here: fail closed.
        return Err(GatewayError::DigestMismatch);
    }
    let seen = rewrite::Seen {
        conn,
        request_id,
        principal: verdict.as_ref().map(|v| &v.principal),
        sealed: false,
        now,
    };
    allowed(gw, &target, &seen, record)
}

/// 200 with the verified headers and nothing else.
fn allowed(
    gw: &Gateway,
    target: &Target,
    seen: &rewrite::Seen<'_>,
    record: &mut AccessRecord,
) -> Result<Response<crate::body::ResBody>, GatewayError> {
    let mut response = Response::new(crate::body::empty());
    *response.headers_mut() = rewrite::verified_headers(gw, target, seen)?;
    record.outcome = "allowed";
    Ok(response)
}

/// What the decision is about: the caller's headers from a trusted peer
/// (Envoy's path under the decision path first, then nginx's
/// `X-Original-*`, then Traefik's and Caddy's `X-Forwarded-*`); from anyone
/// else, the request itself.
fn original<B>(
    decision: &Decision,
    req: &Request<B>,
    trusted: bool,
) -> Result<Original, GatewayError> {
    let own = || req.uri().path_and_query().map_or("/", |p| p.as_str());
    if !trusted {
        return Ok(Original {
            method: req.method().clone(),
            path_and_query: own().to_string(),
            host: None,
        });
    }
    let text = |name: &HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let method = match text(&X_ORIGINAL_METHOD).or_else(|| text(&X_FORWARDED_METHOD)) {
        Some(m) => Method::from_bytes(m.as_bytes()).map_err(|_| GatewayError::MalformedHeader)?,
        None => req.method().clone(),
    };
    let below = own()
        .get(decision.path.len()..)
        .filter(|rest| rest.starts_with('/'));
    let path_and_query = match below {
        Some(rest) => rest,
        None => text(&X_ORIGINAL_URI)
            .or_else(|| text(&X_FORWARDED_URI))
            .ok_or(GatewayError::DecisionWithoutUri)?,
    };
    // Origin form only: an absolute URI would bring its own authority.
    if !path_and_query.starts_with('/') || path_and_query.starts_with("//") {
        return Err(GatewayError::DecisionWithoutUri);
    }
    Ok(Original {
        method,
        path_and_query: path_and_query.to_string(),
        host: text(&X_FORWARDED_HOST).map(str::to_string),
    })
}

/// The original request as the phases see it: its method, URI and host, the
/// caller's other headers (credentials, cookies, DPoP proofs), no body.
fn inner_request(
    req: &Request<ReqBody>,
    original: Original,
    authority: &str,
) -> Result<Request<ReqBody>, GatewayError> {
    let mut headers = req.headers().clone();
    for name in [
        &X_ORIGINAL_URI,
        &X_ORIGINAL_METHOD,
        &X_FORWARDED_URI,
        &X_FORWARDED_METHOD,
    ] {
        headers.remove(name);
    }
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    let host = HeaderValue::from_str(authority).map_err(|_| GatewayError::BadHost)?;
    headers.insert(header::HOST, host);
    let uri = original
        .path_and_query
        .parse::<http::Uri>()
        .map_err(|_| GatewayError::BadPath(crate::route::PathError::BadEscape))?;
    let mut inner = Request::new(crate::body::empty());
    *inner.method_mut() = original.method;
    *inner.uri_mut() = uri;
    *inner.headers_mut() = headers;
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        Decision {
            path: "/auth/verify".into(),
            routes: None,
        }
    }

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method("GET").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn orig(method: &str, pq: &str, host: Option<&str>) -> Original {
        Original {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path_and_query: pq.into(),
            host: host.map(str::to_string),
        }
    }

    #[test]
    fn each_callers_convention_names_the_original_request() {
        let d = decision();
        // nginx auth_request.
        let r = req(
            "/auth/verify",
            &[
                ("x-original-uri", "/api/x?a=1"),
                ("x-original-method", "POST"),
            ],
        );
        assert_eq!(
            original(&d, &r, true).unwrap(),
            orig("POST", "/api/x?a=1", None)
        );
        // Traefik / Caddy.
        let r = req(
            "/auth/verify",
            &[
                ("x-forwarded-uri", "/api/y"),
                ("x-forwarded-method", "DELETE"),
                ("x-forwarded-host", "api.example"),
            ],
        );
        assert_eq!(
            original(&d, &r, true).unwrap(),
            orig("DELETE", "/api/y", Some("api.example"))
        );
        // Envoy ext_authz HTTP: the original path under the decision path.
        let r = req("/auth/verify/api/z?q=2", &[]);
        assert_eq!(
            original(&d, &r, true).unwrap(),
            orig("GET", "/api/z?q=2", None)
        );
    }

    #[test]
    fn untrusted_callers_and_unusable_uris_are_not_believed() {
        let d = decision();
        let r = req(
            "/auth/verify",
            &[
                ("x-forwarded-uri", "/public"),
                ("x-forwarded-host", "other"),
            ],
        );
        assert_eq!(
            original(&d, &r, false).unwrap(),
            orig("GET", "/auth/verify", None)
        );
        let r = req("/auth/verify", &[]);
        assert_eq!(
            original(&d, &r, true),
            Err(GatewayError::DecisionWithoutUri)
        );
        for bad in ["https://evil.example/x", "//evil.example/x", "x"] {
            let r = req("/auth/verify", &[("x-original-uri", bad)]);
            assert_eq!(
                original(&d, &r, true),
                Err(GatewayError::DecisionWithoutUri),
                "{bad}"
            );
        }
        let r = req(
            "/auth/verify",
            &[("x-original-uri", "/x"), ("x-original-method", "G E T")],
        );
        assert_eq!(original(&d, &r, true), Err(GatewayError::MalformedHeader));
    }
}
