//! RFC 9457 problem details: the one body shape every refusal uses, with a
//! stable `type` whose suffix is the metric reason and the request id.

use crate::body::{full, ResBody};
use http::{header, HeaderValue, Response, StatusCode};

/// Base of every problem `type` URI; the suffix is the reason label.
pub const PROBLEM_TYPE_BASE: &str = "urn:sealgate:problem:";

/// Builds an `application/problem+json` response.
pub fn problem(
    status: StatusCode,
    reason: &str,
    detail: &str,
    request_id: &HeaderValue,
) -> Response<ResBody> {
    let body = serde_json::json!({
        "type": format!("{PROBLEM_TYPE_BASE}{reason}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "request_id": request_id.to_str().unwrap_or(""),
    });
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A problem response outside a proxied request (the admin API): no request id.
pub fn plain(status: StatusCode, reason: &str, detail: &str) -> Response<ResBody> {
    problem(status, reason, detail, &HeaderValue::from_static(""))
}
