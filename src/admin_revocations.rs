//! `/admin/revocations`: revoke one token by `jti` (until its `exp`) or every
//! token of a subject issued before a time ("log out everywhere"); list and
//! undo. Every change is written to the audit log.

use crate::authn::unix_now;
use crate::body::{json, ResBody};
use crate::gateway::Gateway;
use crate::problem::plain as problem;
use crate::state::Shared;
use crate::store::{jti_key, sub_key, Revocation};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use std::time::Duration;

const MAX_BODY: usize = 64 * 1024;
const SHAPES: &str = "send {\"jti\", \"exp\"} or {\"sub\", \"issued_before\"}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    jti: Option<String>,
    exp: Option<u64>,
    sub: Option<String>,
    issued_before: Option<u64>,
}

fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn unavailable() -> Response<ResBody> {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the state store is unavailable",
    )
}

fn bad(detail: &str) -> Response<ResBody> {
    problem(StatusCode::BAD_REQUEST, "invalid_request", detail)
}

pub async fn handle(state: &Shared, gw: &Gateway, req: Request<Incoming>) -> Response<ResBody> {
    match *req.method() {
        Method::GET => match gw.store.revocations(&state.metrics).await {
            Ok(list) => json(StatusCode::OK, &serde_json::json!({ "revocations": list })),
            Err(_) => unavailable(),
        },
        Method::POST => add(state, gw, req).await,
        Method::DELETE => remove(state, gw, &req).await,
        _ => problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use GET, POST or DELETE",
        ),
    }
}

/// The revocation a request asks for, and how long to keep it.
fn revocation(
    r: RevokeRequest,
    gw: &Gateway,
    now: u64,
) -> Result<(Revocation, Duration), &'static str> {
    match r {
        RevokeRequest {
            jti: Some(jti),
            exp: Some(exp),
            sub: None,
            issued_before: None,
        } if exp > now && !jti.is_empty() => {
            // Keep the record a little past exp to cover verifier leeway.
            Ok((
                Revocation::Jti { jti, exp },
                Duration::from_secs(exp - now + 300),
            ))
        }
        RevokeRequest { jti: Some(_), .. } => {
            Err("a jti revocation needs the token's exp, in the future")
        }
        RevokeRequest {
            sub: Some(sub),
            jti: None,
            exp: None,
            issued_before,
        } if !sub.is_empty() => {
            let issued_before = issued_before.unwrap_or(now);
            // Long enough for the token endpoint's longest session too, so a
            // revoked subject's remembered sessions cannot outlive the mark.
            let sessions = gw.issuer.as_ref().map(|i| i.settings.longest());
            let ttl = gw
                .config
                .store
                .subject_revocation_ttl
                .max(sessions.unwrap_or_default());
            Ok((Revocation::Subject { sub, issued_before }, ttl))
        }
        _ => Err(SHAPES),
    }
}

async fn add(state: &Shared, gw: &Gateway, req: Request<Incoming>) -> Response<ResBody> {
    let Ok(body) = Limited::new(req.into_body(), MAX_BODY).collect().await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "at most 64 KiB",
        );
    };
    let Ok(r) = serde_json::from_slice::<RevokeRequest>(&body.to_bytes()) else {
        return bad(SHAPES);
    };
    let (revocation, ttl) = match revocation(r, gw, unix_now()) {
        Ok(r) => r,
        Err(m) => return bad(m),
    };
    match gw.store.revoke(&revocation, ttl, &state.metrics).await {
        Ok(()) => {
            tracing::info!(target: "sealgate::audit", action = "revoke", revocation = %serde_json::json!(revocation), "revocation added");
            json(StatusCode::CREATED, &serde_json::json!(revocation))
        }
        Err(_) => unavailable(),
    }
}

async fn remove(state: &Shared, gw: &Gateway, req: &Request<Incoming>) -> Response<ResBody> {
    let key = match (query_param(req, "jti"), query_param(req, "sub")) {
        (Some(j), None) => jti_key(&j),
        (None, Some(s)) => sub_key(&s),
        _ => return bad("name one of ?jti= or ?sub="),
    };
    match gw.store.unrevoke(&key, &state.metrics).await {
        Ok(true) => {
            tracing::info!(target: "sealgate::audit", action = "unrevoke", key = %key, "revocation removed");
            let mut r = Response::new(crate::body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Ok(false) => problem(StatusCode::NOT_FOUND, "not_found", "no such revocation"),
        Err(_) => unavailable(),
    }
}
