//! The wire format of the endpoints: parameters from a bounded form
//! (RFC 6749 §3.2: `application/x-www-form-urlencoded`, each at most once) or
//! JSON body, and answers as RFC 6749 §5.1/§5.2 JSON with `Cache-Control:
//! no-store`. Error descriptions are fixed texts, never derived from input.

use crate::body::{full, ReqBody, ResBody};
use crate::jose::UniqueObject;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;

/// Largest request body the endpoints read.
pub const MAX_BODY: usize = 16 * 1024;

/// Why the endpoint refused: the RFC 6749 §5.2 code, a fixed description,
/// the status, and the metric outcome (more precise than the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: &'static str,
    pub status: StatusCode,
    pub outcome: &'static str,
    pub retry_after: Option<u32>,
}

impl OAuthError {
    pub const fn new(
        code: &'static str,
        description: &'static str,
        outcome: &'static str,
    ) -> OAuthError {
        OAuthError {
            code,
            description,
            status: StatusCode::BAD_REQUEST,
            outcome,
            retry_after: None,
        }
    }

    pub const fn status(mut self, status: StatusCode) -> OAuthError {
        self.status = status;
        self
    }

    pub fn response(self) -> Response<ResBody> {
        let body = serde_json::json!({ "error": self.code, "error_description": self.description });
        let mut resp = json(self.status, &body);
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

pub const INVALID_REQUEST: OAuthError = OAuthError::new(
    "invalid_request",
    "the request is missing a parameter, repeats one, or is not a form or JSON object",
    "invalid_request",
);
pub const TOO_LARGE: OAuthError = OAuthError::new(
    "invalid_request",
    "the request body is larger than 16 KiB",
    "body_too_large",
)
.status(StatusCode::PAYLOAD_TOO_LARGE);
pub const UNAVAILABLE: OAuthError = OAuthError::new(
    "temporarily_unavailable",
    "the service cannot complete the request now; retry later",
    "unavailable",
)
.status(StatusCode::SERVICE_UNAVAILABLE);

/// A JSON answer that no cache keeps (RFC 6749 §5.1).
pub fn json(status: StatusCode, body: &Value) -> Response<ResBody> {
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// The request's parameters. Values are strings; JSON booleans and numbers
/// are taken as their text (`"remember": true`).
pub async fn params(
    headers: &http::HeaderMap,
    body: ReqBody,
) -> Result<BTreeMap<String, String>, OAuthError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    // Refused before any byte is awaited when the declared length is too big.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(TOO_LARGE);
    }
    let bytes = read(body).await?;
    match ctype.as_str() {
        "application/x-www-form-urlencoded" => form(&bytes),
        "application/json" => json_params(&bytes),
        _ => Err(INVALID_REQUEST),
    }
}

async fn read(body: ReqBody) -> Result<Bytes, OAuthError> {
    crate::body::read_to_limit(body, MAX_BODY as u64)
        .await
        .map_err(|e| match e {
            crate::body::ReadError::TooLarge => TOO_LARGE,
            crate::body::ReadError::TimedOut => OAuthError::new(
                "invalid_request",
                "the request body arrived too slowly",
                "body_timeout",
            )
            .status(StatusCode::REQUEST_TIMEOUT),
            crate::body::ReadError::Failed => INVALID_REQUEST,
        })
}

fn form(bytes: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(INVALID_REQUEST);
        }
    }
    Ok(out)
}

fn json_params(bytes: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    // Each parameter at most once (RFC 6749 §3.2), in JSON as in forms.
    let Ok(UniqueObject(doc)) = serde_json::from_slice::<UniqueObject>(bytes) else {
        return Err(INVALID_REQUEST);
    };
    doc.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Bool(b) => Ok((k, b.to_string())),
            Value::Number(n) => Ok((k, n.to_string())),
            _ => Err(INVALID_REQUEST),
        })
        .collect()
}

/// `true`, `1`, `on` or `yes` (forms and JSON both).
pub fn truthy(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1" | "on" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_refuse_repeated_parameters() {
        let p = form(b"grant_type=password&username=a%40b&password=p+w").unwrap();
        assert_eq!(p["username"], "a@b");
        assert_eq!(p["password"], "p w");
        assert_eq!(form(b"a=1&a=2"), Err(INVALID_REQUEST));
        let j = json_params(br#"{"grant_type":"password","remember":true}"#).unwrap();
        assert!(truthy(j.get("remember")));
        assert_eq!(json_params(br#"{"a":{"b":1}}"#), Err(INVALID_REQUEST));
        assert_eq!(json_params(b"[1]"), Err(INVALID_REQUEST));
        assert_eq!(json_params(br#"{"a":"1","a":"2"}"#), Err(INVALID_REQUEST));
    }
}
