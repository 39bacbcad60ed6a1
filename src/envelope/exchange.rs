//! The gateway endpoint: publishes the key configurations (GET) and exchanges
//! envelopes (POST): open and decode Binary HTTP (`open`), then, after the
//! pipeline has processed the inner request, encode and seal its answer
//! (`seal`). The pipeline composes the steps; this module never calls it. Failures before opening are
//! answered in the clear (400, the RFC 9458 key problem type when the client
//! should refetch keys); every failure after opening is sealed.

use super::crypto::{self, EnvelopeError};
use crate::body::{full, ResBody};
use crate::metrics::Metrics;
use crate::problem::problem;
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use std::time::Instant;

/// RFC 9458 §5.3: the problem type that tells a client to refetch key configurations.
pub const KEY_PROBLEM_TYPE: &str = "https://iana.org/assignments/http-problem-types#ohttp-key";
/// Inner responses larger than this are answered with a sealed 502.
const MAX_INNER_RESPONSE: usize = 16 << 20;

pub struct Envelope {
    pub config: super::settings::Envelope,
    /// The runtime keys, built from the settings' bytes.
    keys: Vec<crypto::GatewayKey>,
    published: Bytes,
}

impl Envelope {
    pub fn new(config: &super::settings::Envelope) -> Result<Envelope, String> {
        let keys = config
            .keys
            .iter()
            .map(|k| k.build())
            .collect::<Result<Vec<_>, _>>()?;
        let active = config.keys.iter().zip(&keys).filter(|(k, _)| k.active);
        let published = crypto::config_list(active.map(|(_, g)| g));
        Ok(Envelope {
            config: config.clone(),
            keys,
            published: published.into(),
        })
    }

    /// Step one at the gateway endpoint: publish the keys (GET), or open a
    /// posted envelope into the inner request the pipeline then processes.
    pub async fn open(
        &self,
        metrics: &Metrics,
        request_id: &HeaderValue,
        req: Request<crate::body::ReqBody>,
    ) -> Opening {
        match *req.method() {
            Method::GET | Method::HEAD => Opening::Answer(self.publish(), None),
            Method::POST => self.open_post(metrics, request_id, req).await,
            _ => Opening::Answer(
                problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "GET the keys or POST an envelope",
                    request_id,
                ),
                Some("method_not_allowed"),
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

    /// An envelope that cannot be opened: 400, with the RFC 9458 key problem
    /// type when the client should refetch the key configurations.
    fn refuse(
        metrics: &Metrics,
        e: EnvelopeError,
        request_id: &HeaderValue,
    ) -> (Response<ResBody>, &'static str) {
        metrics
            .envelope_failures
            .with_label_values(&[e.reason()])
            .inc();
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
        (r, e.reason())
    }

    async fn open_post(
        &self,
        metrics: &Metrics,
        request_id: &HeaderValue,
        req: Request<crate::body::ReqBody>,
    ) -> Opening {
        let typed = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"message/ohttp-req"));
        if !typed {
            metrics
                .envelope_failures
                .with_label_values(&["wrong_content_type"])
                .inc();
            let r = problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "wrong_content_type",
                "send Content-Type: message/ohttp-req",
                request_id,
            );
            return Opening::Answer(r, Some("wrong_content_type"));
        }
        let too_large = || {
            metrics
                .envelope_failures
                .with_label_values(&["too_large"])
                .inc();
            let r = problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "envelope_too_large",
                "the envelope is larger than allowed",
                request_id,
            );
            Opening::Answer(r, Some("envelope_too_large"))
        };
        // A declared length past the limit is refused before any byte is
        // awaited: a client that never sends them holds nothing open.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_size as u64) {
            return too_large();
        }
        let Ok(body) = collect(req.into_body(), self.config.max_size).await else {
            return too_large();
        };
        let started = Instant::now();
        let opened = match crypto::open(self.keys.iter(), &body) {
            Ok(o) => o,
            Err(e) => {
                let (r, why) = Self::refuse(metrics, e, request_id);
                return Opening::Answer(r, Some(why));
            }
        };
        metrics
            .envelope_open
            .observe(started.elapsed().as_secs_f64());
        let inner = inner_request(&opened.request)
            .ok()
            .map(|r| r.map(|b| b.map_err(|never| match never {}).boxed()));
        Opening::Inner(
            inner,
            Sealing {
                enc: opened.enc,
                sealer: opened.sealer,
            },
        )
    }

    /// Last step: the inner response (whatever it is) as a sealed Binary HTTP
    /// response. The second value is the reason when sealing itself failed.
    pub async fn seal(
        &self,
        metrics: &Metrics,
        request_id: &HeaderValue,
        sealing: Sealing,
        inner: Response<ResBody>,
    ) -> (Response<ResBody>, Option<&'static str>) {
        let status = inner.status();
        let (encoded, failed) = match encode_response(inner).await {
            Ok(b) => (b, None),
            Err(()) => {
                let fallback = problem(
                    StatusCode::BAD_GATEWAY,
                    "upstream_failed",
                    "the upstream failed to answer",
                    request_id,
                );
                let (parts, _) = fallback.into_parts();
                (
                    encode_head(parts.status, &parts.headers, b""),
                    Some("upstream_failed"),
                )
            }
        };
        let class = crate::metrics::status_class(status);
        metrics.sealed_requests.with_label_values(&[class]).inc();
        match sealing.sealer.seal(&encoded) {
            Ok(sealed) => {
                let mut r = Response::new(full(sealed));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("message/ohttp-res"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                (r, failed)
            }
            Err(e) => {
                let (r, why) = Self::refuse(metrics, e, request_id);
                (r, Some(why))
            }
        }
    }
}

/// The outcome of [`Envelope::open`].
pub enum Opening {
    /// Answered at the endpoint: keys published, or the envelope refused (with its reason).
    Answer(Response<ResBody>, Option<&'static str>),
    /// An opened envelope: the inner request (`None` when it is not valid
    /// Binary HTTP) and what is needed to seal its answer.
    Inner(Option<Request<crate::body::ReqBody>>, Sealing),
}

/// What the pipeline knows about a request that arrived sealed.
pub struct Sealing {
    /// The encapsulated key: unique per envelope, the replay-detection key.
    pub enc: Vec<u8>,
    sealer: crypto::ResponseSealer,
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
    framing_agrees(h, msg.content().len())?;
    Ok(req)
}

/// The Binary HTTP content is the whole body: a `content-length` that says
/// otherwise would leave an upstream waiting for bytes (or cut the body), and
/// a `transfer-encoding` has nothing to frame. Either is a bad inner request.
fn framing_agrees(h: &http::HeaderMap, len: usize) -> Result<(), ()> {
    if h.contains_key(header::TRANSFER_ENCODING) {
        return Err(());
    }
    let declared = h
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .map(|v| v.to_str().ok().and_then(|t| t.trim().parse::<usize>().ok()));
    for d in declared {
        if d != Some(len) {
            return Err(());
        }
    }
    Ok(())
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
