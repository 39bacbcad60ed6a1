//! The admin API on the admin listener: revocations by `jti` or by subject,
//! and API keys (`admin_keys`): the token gate and the routing; each endpoint
//! lives in its own file (`admin_revocations`, `admin_keys`).
//! Off unless `admin.token` is set; the bearer token is compared in constant
//! time; every call is written to the audit log (`sealgate::audit`).

use crate::body::ResBody;
use crate::problem::plain as problem;
use crate::state::Shared;
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

fn digest(b: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
}

/// Constant-time comparison of the presented bearer token with the configured one.
fn authorized(req: &Request<Incoming>, token: &[u8]) -> bool {
    // As on the main listener: exactly one Authorization header, the scheme
    // compared case-insensitively (RFC 9110 §11.1).
    let mut all = req.headers().get_all(header::AUTHORIZATION).iter();
    let presented = match (all.next(), all.next()) {
        (Some(v), None) => v
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, t)| t.trim_start()),
        _ => "",
    };
    if presented.is_empty() {
        return false;
    }
    // Hashing first makes the comparison independent of the lengths too.
    aws_lc_rs::constant_time::verify_slices_are_equal(
        digest(presented.as_bytes()).as_ref(),
        digest(token).as_ref(),
    )
    .is_ok()
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
    crate::admin_revocations::handle(state, &gw, req).await
}
