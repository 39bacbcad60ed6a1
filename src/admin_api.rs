//! The admin API on the admin listener: revocations by `jti` or by subject,
//! and API keys (`admin_keys`).
//! Off unless `admin.token` is set; the bearer token is compared in constant
//! time; every call is written to the audit log (`sealgate::audit`).

use crate::authn::unix_now;
use crate::body::{json, ResBody};
use crate::problem::plain as problem;
use crate::state::Shared;
use crate::store::{jti_key, sub_key, Revocation};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use std::time::Duration;

const MAX_BODY: usize = 64 * 1024;

fn digest(b: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
}

/// Constant-time comparison of the presented bearer token with the configured one.
fn authorized(req: &Request<Incoming>, token: &[u8]) -> bool {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Hashing first makes the comparison independent of the lengths too.
    aws_lc_rs::constant_time::verify_slices_are_equal(
        digest(presented.as_bytes()).as_ref(),
        digest(token).as_ref(),
    )
    .is_ok()
}

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

pub async fn handle(state: &Shared, req: Request<Incoming>) -> Response<ResBody> {
    let gw = state.gateway.load_full();
    let Some(token) = &gw.config.admin.token else {
        return problem(
            StatusCode::NOT_FOUND,
            "admin_api_off",
            "the admin API is off; set admin.token to enable it",
        );
    };
    if !authorized(&req, token.expose()) {
        tracing::warn!(target: "sealgate::audit", method = %req.method(), path = req.uri().path(), result = "unauthorized", "admin API call refused");
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            "admin_unauthorized",
            "a valid admin bearer token is required",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sealgate-admin\""),
        );
        return r;
    }
    let path = req.uri().path();
    if path == "/admin/api-keys" || path.starts_with("/admin/api-keys/") {
        return crate::admin_keys::handle(state, &gw, req).await;
    }
    if path != "/admin/revocations" {
        return problem(StatusCode::NOT_FOUND, "not_found", "unknown admin endpoint");
    }
    let m = &state.metrics;
    match *req.method() {
        Method::GET => match gw.store.revocations(m).await {
            Ok(list) => json(StatusCode::OK, &serde_json::json!({ "revocations": list })),
            Err(_) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the state store is unavailable",
            ),
        },
        Method::POST => {
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return problem(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "at most 64 KiB",
                    )
                }
            };
            let Ok(r) = serde_json::from_slice::<RevokeRequest>(&body) else {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "send {\"jti\", \"exp\"} or {\"sub\", \"issued_before\"}",
                );
            };
            let now = unix_now();
            let (revocation, ttl) = match r {
                RevokeRequest {
                    jti: Some(jti),
                    exp: Some(exp),
                    sub: None,
                    issued_before: None,
                } if exp > now && !jti.is_empty() => {
                    // Keep the record a little past exp to cover verifier leeway.
                    (
                        Revocation::Jti { jti, exp },
                        Duration::from_secs(exp - now + 300),
                    )
                }
                RevokeRequest { jti: Some(_), .. } => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "a jti revocation needs the token's exp, in the future",
                    );
                }
                RevokeRequest {
                    sub: Some(sub),
                    jti: None,
                    exp: None,
                    issued_before,
                } if !sub.is_empty() => (
                    Revocation::Subject {
                        sub,
                        issued_before: issued_before.unwrap_or(now),
                    },
                    gw.config.store.subject_revocation_ttl,
                ),
                _ => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "send {\"jti\", \"exp\"} or {\"sub\", \"issued_before\"}",
                    )
                }
            };
            match gw.store.revoke(&revocation, ttl, m).await {
                Ok(()) => {
                    tracing::info!(target: "sealgate::audit", action = "revoke", revocation = ?revocation, "revocation added");
                    json(StatusCode::CREATED, &serde_json::json!(revocation))
                }
                Err(_) => problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the state store is unavailable",
                ),
            }
        }
        Method::DELETE => {
            let key = match (query_param(&req, "jti"), query_param(&req, "sub")) {
                (Some(j), None) => jti_key(&j),
                (None, Some(s)) => sub_key(&s),
                _ => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "name one of ?jti= or ?sub=",
                    )
                }
            };
            match gw.store.unrevoke(&key, m).await {
                Ok(true) => {
                    tracing::info!(target: "sealgate::audit", action = "unrevoke", key = %key, "revocation removed");
                    Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(crate::body::empty())
                        .unwrap_or_else(|_| Response::new(crate::body::empty()))
                }
                Ok(false) => problem(StatusCode::NOT_FOUND, "not_found", "no such revocation"),
                Err(_) => problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the state store is unavailable",
                ),
            }
        }
        _ => problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use GET, POST or DELETE",
        ),
    }
}
