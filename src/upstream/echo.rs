//! The built-in `echo` upstream: answers with a JSON document of what it
//! received (method, path, query, headers, body size), like traefik/whoami, so
//! a user sees exactly what a backend behind the gateway would get.

use crate::body::{full, ReqBody, ResBody};
use http::{header, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use serde_json::{Map, Value};

/// Bodies up to this size are echoed as text; larger ones only counted.
const ECHO_BODY_MAX: usize = 64 * 1024;

pub async fn respond(
    upstream: &str,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>, crate::body::BoxError> {
    let (parts, mut body) = req.into_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let v = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        match headers.get_mut(name.as_str()) {
            Some(Value::Array(list)) => list.push(v),
            _ => {
                headers.insert(name.as_str().to_string(), Value::Array(vec![v]));
            }
        }
    }
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            total += data.len() as u64;
            if kept.len() + data.len() <= ECHO_BODY_MAX {
                kept.extend_from_slice(&data);
            }
        }
    }
    let mut doc = Map::new();
    doc.insert("upstream".into(), upstream.into());
    doc.insert("method".into(), parts.method.as_str().into());
    doc.insert("path".into(), parts.uri.path().into());
    doc.insert("query".into(), parts.uri.query().unwrap_or("").into());
    doc.insert("version".into(), format!("{:?}", parts.version).into());
    doc.insert("headers".into(), Value::Object(headers));
    doc.insert("body_bytes".into(), total.into());
    if total as usize <= ECHO_BODY_MAX {
        doc.insert(
            "body".into(),
            String::from_utf8_lossy(&kept).into_owned().into(),
        );
    }
    let mut text = serde_json::to_vec_pretty(&Value::Object(doc))?;
    text.push(b'\n');
    let mut resp = Response::new(full(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
