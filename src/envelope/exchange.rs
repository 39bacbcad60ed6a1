//! The gateway endpoint: publishes the key configurations (GET) and exchanges
//! envelopes (POST): open, decode Binary HTTP, run the inner request through the
//! normal pipeline, encode and seal the answer. Failures before opening are
//! answered in the clear (400, the RFC 9458 key problem type when the client
//! should refetch keys); every failure after opening is sealed.

use super::crypto::{self, EnvelopeError};
use super::Sealing;
use crate::access::AccessRecord;
use crate::body::{full, ResBody};
use crate::conn::ConnInfo;
use crate::error::{problem, GatewayError};
use crate::gateway::Gateway;
use crate::state::Shared;
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::time::Instant;

/// RFC 9458 §5.3: the problem type that tells a client to refetch key configurations.
pub const KEY_PROBLEM_TYPE: &str = "https://iana.org/assignments/http-problem-types#ohttp-key";
/// Inner responses larger than this are answered with a sealed 502.
const MAX_INNER_RESPONSE: usize = 16 << 20;

pub struct Envelope {
    pub config: crate::config::Envelope,
    published: Bytes,
}

impl Envelope {
    pub fn new(config: &crate::config::Envelope) -> Envelope {
        let published =
            crypto::config_list(config.keys.iter().filter(|k| k.active).map(|k| &*k.key));
        Envelope {
            config: config.clone(),
            published: published.into(),
        }
    }

    pub async fn serve(
        &self,
        gw: &Gateway,
        state: &Shared,
        conn: &ConnInfo,
        request_id: &HeaderValue,
        record: &mut AccessRecord,
        req: Request<Incoming>,
    ) -> Response<ResBody> {
        record.route = Some("ohttp-gateway".into());
        match *req.method() {
            Method::GET | Method::HEAD => self.publish(),
            Method::POST => {
                self.exchange(gw, state, conn, request_id, record, req)
                    .await
            }
            _ => problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "GET the keys or POST an envelope",
                request_id,
            ),
        }
    }

    fn publish(&self) -> Response<ResBody> {
        let mut r = Response::new(full(self.published.clone()));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/ohttp-keys"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("max-age={}", self.config.keys_max_age.as_secs()))
        {
            h.insert(header::CACHE_CONTROL, v);
        }
        r
    }

    fn refuse(
        &self,
        state: &Shared,
        record: &mut AccessRecord,
        e: EnvelopeError,
        request_id: &HeaderValue,
    ) -> Response<ResBody> {
        state
            .metrics
            .envelope_failures
            .with_label_values(&[e.reason()])
            .inc();
        record.reason = Some(e.reason());
        record.outcome = "rejected";
        let mut r = problem(
            StatusCode::BAD_REQUEST,
            e.reason(),
            "the envelope could not be opened",
            request_id,
        );
        if matches!(
            e,
            EnvelopeError::UnknownKey | EnvelopeError::UnsupportedSuite
        ) {
            let body = serde_json::json!({
                "type": KEY_PROBLEM_TYPE,
                "title": "key identifier unknown",
                "status": 400,
            });
            *r.body_mut() = full(body.to_string());
        }
        r
    }

    async fn exchange(
        &self,
        gw: &Gateway,
        state: &Shared,
        conn: &ConnInfo,
        request_id: &HeaderValue,
        record: &mut AccessRecord,
        req: Request<Incoming>,
    ) -> Response<ResBody> {
        let typed = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"message/ohttp-req"));
        if !typed {
            state
                .metrics
                .envelope_failures
                .with_label_values(&["wrong_content_type"])
                .inc();
            return problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "wrong_content_type",
                "send Content-Type: message/ohttp-req",
                request_id,
            );
        }
        let body = match collect(req.into_body(), self.config.max_size).await {
            Ok(b) => b,
            Err(()) => {
                state
                    .metrics
                    .envelope_failures
                    .with_label_values(&["too_large"])
                    .inc();
                return problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "envelope_too_large",
                    "the envelope is larger than allowed",
                    request_id,
                );
            }
        };
        let started = Instant::now();
        let opened = match crypto::open(self.config.keys.iter().map(|k| &*k.key), &body) {
            Ok(o) => o,
            Err(e) => return self.refuse(state, record, e, request_id),
        };
        state
            .metrics
            .envelope_open
            .observe(started.elapsed().as_secs_f64());

        let sealing = Sealing {
            enc: opened.enc.clone(),
        };
        let inner = match inner_request(&opened.request) {
            Ok(r) => {
                let r = r.map(|b| b.map_err(|never| match never {}).boxed());
                crate::pipeline::process(gw, state, conn, request_id, record, r, Some(&sealing))
                    .await
            }
            Err(()) => Err(GatewayError::BadInnerRequest),
        };
        let inner = inner.unwrap_or_else(|e| {
            record.fail(e);
            e.to_response(request_id, record.route_entry.as_deref())
        });
        let status = inner.status();
        let encoded = match encode_response(inner).await {
            Ok(b) => b,
            Err(()) => {
                record.fail(GatewayError::UpstreamFailed);
                let fallback = GatewayError::UpstreamFailed.to_response(request_id, None);
                let (parts, _) = fallback.into_parts();
                encode_head(parts.status, &parts.headers, b"")
            }
        };
        let class = crate::metrics::status_class(status);
        state
            .metrics
            .sealed_requests
            .with_label_values(&[class])
            .inc();
        match opened.sealer.seal(&encoded) {
            Ok(sealed) => {
                let mut r = Response::new(full(sealed));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("message/ohttp-res"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => self.refuse(state, record, e, request_id),
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
async fn collect<B>(mut body: B, limit: usize) -> Result<Vec<u8>, ()>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(|_| ())?.into_data() {
            if out.len() + data.len() > limit {
                return Err(());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Decodes a Binary HTTP request (known- or indeterminate-length) into an HTTP request.
fn inner_request(bytes: &[u8]) -> Result<Request<Full<Bytes>>, ()> {
    let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(bytes)).map_err(|_| ())?;
    let control = msg.control();
    let method = Method::from_bytes(control.method().ok_or(())?).map_err(|_| ())?;
    let path = control.path().ok_or(())?;
    if !path.starts_with(b"/") || !matches!(control.scheme(), Some(b"https" | b"http")) {
        return Err(());
    }
    let mut req = Request::new(Full::new(Bytes::copy_from_slice(msg.content())));
    *req.method_mut() = method;
    *req.uri_mut() = http::Uri::try_from(path).map_err(|_| ())?;
    let h = req.headers_mut();
    for f in msg.header().iter() {
        let name = HeaderName::from_bytes(f.name()).map_err(|_| ())?;
        h.append(name, HeaderValue::from_bytes(f.value()).map_err(|_| ())?);
    }
    if let Some(authority) = control.authority().filter(|a| !a.is_empty()) {
        h.insert(
            header::HOST,
            HeaderValue::from_bytes(authority).map_err(|_| ())?,
        );
    }
    Ok(req)
}

fn encode_head(status: StatusCode, headers: &http::HeaderMap, content: &[u8]) -> Vec<u8> {
    let Ok(code) = bhttp::StatusCode::try_from(status.as_u16()) else {
        return Vec::new();
    };
    let mut msg = bhttp::Message::response(code);
    for (name, value) in headers {
        msg.put_header(name.as_str().as_bytes(), value.as_bytes());
    }
    msg.write_content(content);
    let mut out = Vec::with_capacity(content.len() + 256);
    let _ = msg.write_bhttp(bhttp::Mode::KnownLength, &mut out);
    out
}

/// Collects the inner response (bounded) and encodes it as Binary HTTP.
async fn encode_response(resp: Response<ResBody>) -> Result<Vec<u8>, ()> {
    let (mut parts, body) = resp.into_parts();
    let content = collect(body, MAX_INNER_RESPONSE).await?;
    crate::forwarding::strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(encode_head(parts.status, &parts.headers, &content))
}
