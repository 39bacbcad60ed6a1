//! Decision mode (`[decision]`): another proxy (nginx `auth_request`, Envoy
//! `ext_authz` HTTP, Traefik `forwardAuth`, Caddy `forward_auth`) asks
//! whether the request it holds may pass. Only `listen.trusted_proxies` peers
//! may ask (anyone else: 403). The original method, URI and host come from
//! the configured caller's own headers only (`decision.caller`): each proxy
//! overwrites its own and passes a client's copies of the others through.
//! The client is the last `X-Forwarded-For` hop the caller appended (so
//! failed-authentication blocks and per-IP limits hit the client, not the
//! proxy), and has no TLS certificate here. Routing, authentication (DPoP
//! against the original method and URI), authorization and the store checks
//! then run exactly as for a forwarded request (`admit`). Allowed: 200 with
//! only the verified identity headers and the signed assertion, for the
//! caller to copy upstream. Refused: the same 401/403 with `WWW-Authenticate`
//! and problem+json a forwarded request gets, for the caller to pass back.

use super::checks;
use super::phases::{admit, precheck, route, Admitted};
use super::rewrite::{self, Target};
use crate::access::AccessRecord;
use crate::body::ReqBody;
use crate::conn::ConnInfo;
use crate::error::GatewayError;
use crate::forwarding::{PeerForwarding, X_FORWARDED_FOR, X_FORWARDED_HOST};
use crate::gateway::Gateway;
use crate::settings::decision::{Caller, Decision};
use crate::state::Shared;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use std::net::{IpAddr, SocketAddr};

/// nginx `auth_request` (set with `proxy_set_header`).
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// Traefik and Caddy send these on their own.
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");

/// The request the caller holds.
#[derive(Debug, PartialEq, Eq)]
struct Original {
    method: Method,
    path_and_query: String,
    /// The caller's host header; `None`: the decision request's own authority.
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
    if !gw.peer_trusted(conn.peer.ip()) {
        return Err(GatewayError::DecisionUntrustedPeer);
    }
    let original = original(decision, &req)?;
    if matches!(original.method, Method::CONNECT | Method::TRACE) {
        return Err(GatewayError::MethodNotAllowed);
    }
    let host = original.host.clone().unwrap_or(own_authority);
    let inner = inner_request(&req, original, &host)?;
    // The caller's host gets the checks a client's Host gets.
    let authority = checks::request_authority(&inner)?;
    let covered = route(gw, record, &inner, authority.clone())?;
    if !decision.covers(&covered.route.name) {
        return Err(GatewayError::NotFound);
    }
    let client = client_conn(conn, req.headers())?;
    let Admitted {
        target,
        verdict,
        now,
        ..
    } = admit(gw, state, &client, record, inner, authority, None).await?;
    if verdict
        .as_ref()
        .is_some_and(|v| v.body.is_some() || v.respond.is_some())
    {
        // `check` refuses such routes; should one slip through, the body
        // digest it promises cannot be verified here: fail closed.
        return Err(GatewayError::DigestMismatch);
    }
    let seen = rewrite::Seen {
        conn: &client,
        request_id,
        principal: verdict.as_ref().map(|v| &v.principal),
        sealed: false,
        now,
        trace: None,
    };
    allowed(gw, &target, &seen, record)
}

/// 200 with the verified headers and nothing else; never cached (it holds
/// an assertion and answers for one request).
fn allowed(
    gw: &Gateway,
    target: &Target,
    seen: &rewrite::Seen<'_>,
    record: &mut AccessRecord,
) -> Result<Response<crate::body::ResBody>, GatewayError> {
    let mut response = Response::new(crate::body::empty());
    *response.headers_mut() = rewrite::verified_headers(gw, target, seen)?;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    record.outcome = "allowed";
    Ok(response)
}

/// The client behind the caller: the last `X-Forwarded-For` hop (the one the
/// trusted caller appended); never a certificate. Without it every client
/// would share the proxy's address, and one client's failed logins would
/// block them all: refused instead.
fn client_conn(conn: &ConnInfo, headers: &HeaderMap) -> Result<ConnInfo, GatewayError> {
    let last_hop = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
    let ip = last_hop.ok_or(GatewayError::DecisionWithoutClient)?;
    Ok(ConnInfo {
        peer: SocketAddr::new(ip, 0),
        http2: conn.http2,
        forwarding: PeerForwarding::new(ip),
        client_cert: None,
        held: Default::default(),
    })
}

/// What the decision is about, from the configured caller's headers only.
fn original<B>(decision: &Decision, req: &Request<B>) -> Result<Original, GatewayError> {
    let text = |name: &HeaderName| -> Result<Option<&str>, GatewayError> {
        match req.headers().get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| GatewayError::MalformedHeader),
        }
    };
    let method = |m: Option<&str>| match m {
        Some(m) => Method::from_bytes(m.as_bytes()).map_err(|_| GatewayError::MalformedHeader),
        None => Err(GatewayError::DecisionWithoutUri),
    };
    let (method, uri, host) = match decision.caller {
        Caller::Envoy => {
            let own = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let below = own
                .get(decision.path.len()..)
                .filter(|rest| rest.starts_with('/'))
                .ok_or(GatewayError::DecisionWithoutUri)?;
            (req.method().clone(), below, None)
        }
        Caller::Nginx => (
            method(text(&X_ORIGINAL_METHOD)?)?,
            text(&X_ORIGINAL_URI)?.ok_or(GatewayError::DecisionWithoutUri)?,
            None,
        ),
        Caller::Forwarded => (
            method(text(&X_FORWARDED_METHOD)?)?,
            text(&X_FORWARDED_URI)?.ok_or(GatewayError::DecisionWithoutUri)?,
            text(&X_FORWARDED_HOST)?,
        ),
    };
    // Origin form only: an absolute URI would bring its own authority.
    if !uri.starts_with('/') || uri.starts_with("//") {
        return Err(GatewayError::DecisionWithoutUri);
    }
    Ok(Original {
        method,
        path_and_query: uri.to_string(),
        host: host.map(str::to_string),
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

    fn decision(caller: Caller) -> Decision {
        Decision {
            path: "/auth/verify".into(),
            caller,
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
    fn each_caller_is_read_by_its_own_convention_only() {
        // nginx: its X-Original-*; a client's X-Forwarded-Uri passed through is ignored.
        let r = req(
            "/auth/verify",
            &[
                ("x-original-uri", "/api/x?a=1"),
                ("x-original-method", "POST"),
                ("x-forwarded-uri", "/public"),
            ],
        );
        let nginx = decision(Caller::Nginx);
        assert_eq!(
            original(&nginx, &r).unwrap(),
            orig("POST", "/api/x?a=1", None)
        );
        // Traefik / Caddy: their X-Forwarded-*; a client's X-Original-URI is ignored.
        let r = req(
            "/auth/verify",
            &[
                ("x-forwarded-uri", "/api/y"),
                ("x-forwarded-method", "DELETE"),
                ("x-forwarded-host", "api.example"),
                ("x-original-uri", "/public"),
            ],
        );
        let fwd = decision(Caller::Forwarded);
        assert_eq!(
            original(&fwd, &r).unwrap(),
            orig("DELETE", "/api/y", Some("api.example"))
        );
        // Envoy: the path below the decision path, the request's own method;
        // X-Forwarded-Method and X-Original-URI change nothing.
        let r = req(
            "/auth/verify/api/z?q=2",
            &[("x-forwarded-method", "GET"), ("x-original-uri", "/public")],
        );
        let envoy = decision(Caller::Envoy);
        assert_eq!(
            original(&envoy, &r).unwrap(),
            orig("GET", "/api/z?q=2", None)
        );
    }

    #[test]
    fn missing_or_unusable_headers_are_refused_not_guessed() {
        let nginx = decision(Caller::Nginx);
        let fwd = decision(Caller::Forwarded);
        let r = req("/auth/verify", &[("x-original-uri", "/x")]);
        assert_eq!(
            original(&nginx, &r),
            Err(GatewayError::DecisionWithoutUri),
            "no method"
        );
        let r = req("/auth/verify", &[("x-forwarded-method", "GET")]);
        assert_eq!(
            original(&fwd, &r),
            Err(GatewayError::DecisionWithoutUri),
            "no URI"
        );
        assert_eq!(
            original(&decision(Caller::Envoy), &req("/auth/verify", &[])),
            Err(GatewayError::DecisionWithoutUri)
        );
        for bad in ["https://evil.example/x", "//evil.example/x", "x"] {
            let r = req(
                "/auth/verify",
                &[("x-original-uri", bad), ("x-original-method", "GET")],
            );
            assert_eq!(
                original(&nginx, &r),
                Err(GatewayError::DecisionWithoutUri),
                "{bad}"
            );
        }
        let r = req(
            "/auth/verify",
            &[("x-original-uri", "/x"), ("x-original-method", "G E T")],
        );
        assert_eq!(original(&nginx, &r), Err(GatewayError::MalformedHeader));
        // An unreadable header is refused, never skipped for another.
        let mut r = req("/auth/verify", &[("x-original-method", "GET")]);
        r.headers_mut().insert(
            "x-original-uri",
            HeaderValue::from_bytes(b"/caf\xc3\xa9").unwrap(),
        );
        assert_eq!(original(&nginx, &r), Err(GatewayError::MalformedHeader));
    }

    #[test]
    fn the_client_is_the_last_hop_the_caller_appended() {
        let conn = ConnInfo {
            peer: "10.0.0.5:443".parse().unwrap(),
            http2: false,
            forwarding: PeerForwarding::new("10.0.0.5".parse().unwrap()),
            client_cert: None,
            held: Default::default(),
        };
        let mut h = HeaderMap::new();
        assert_eq!(
            client_conn(&conn, &h).err(),
            Some(GatewayError::DecisionWithoutClient)
        );
        h.append(&X_FORWARDED_FOR, "unknown".parse().unwrap());
        assert_eq!(
            client_conn(&conn, &h).err(),
            Some(GatewayError::DecisionWithoutClient)
        );
        h.remove(&X_FORWARDED_FOR);
        h.append(
            &X_FORWARDED_FOR,
            "198.51.100.1, 203.0.113.9".parse().unwrap(),
        );
        assert_eq!(
            client_conn(&conn, &h).unwrap().peer.ip().to_string(),
            "203.0.113.9"
        );
        h.append(&X_FORWARDED_FOR, "192.0.2.7".parse().unwrap());
        assert_eq!(
            client_conn(&conn, &h).unwrap().peer.ip().to_string(),
            "192.0.2.7"
        );
    }
}
