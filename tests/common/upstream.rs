//! A recording upstream: an HTTP/1.1 + h2c server that remembers every request.

use super::BoxErr;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the test upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The gateway's end of the upstream connection the request came on.
    pub peer: SocketAddr,
    pub method: String,
    pub uri: String,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body_len: u64,
    pub body_chunks: u64,
    pub complete: bool,
    /// The body's first MiB, as received.
    pub body: Vec<u8>,
}

/// An HTTP/1.1 + h2c upstream that records every request. Paths:
/// `/slow` waits for `release`; `/download/<n>` streams n bytes; `/trailers`
/// answers with trailers; `/verify` is an accounts service (the token
/// endpoint's verifier: password [`PASSWORD`] is right for every username);
/// anything else drains the body and answers 201.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub arrived: Arc<Notify>,
    pub release: Arc<Notify>,
    /// Connections open to this upstream now (a pooled idle one counts).
    pub live: Arc<AtomicUsize>,
}

/// Counts one open connection in `Upstream::live` until dropped.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::Relaxed);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

static CHUNK: [u8; 65536] = [b'x'; 65536];

/// The one password `/verify` accepts.
pub const PASSWORD: &str = "correct horse battery staple";

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Upstream {
            addr,
            seen: Arc::default(),
            arrived: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
            live: Arc::default(),
        };
        let (seen, arrived, release) = (up.seen.clone(), up.arrived.clone(), up.release.clone());
        let live = up.live.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    return;
                };
                let (seen, arrived, release) = (seen.clone(), arrived.clone(), release.clone());
                let live = Live::new(&live);
                tokio::spawn(async move {
                    let _live = live;
                    let svc = service_fn(move |req| {
                        answer(req, peer, seen.clone(), arrived.clone(), release.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
                });
            }
        });
        up
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.requests()
            .pop()
            .expect("the upstream received no request")
    }
}

async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    release: Arc<Notify>,
) -> Result<Response<BoxBody<Bytes, BoxErr>>, BoxErr> {
    let (parts, mut body) = req.into_parts();
    let mut record = Seen {
        peer,
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        version: parts.version,
        headers: parts.headers.clone(),
        body_len: 0,
        body_chunks: 0,
        complete: false,
        body: Vec::new(),
    };
    let path = parts.uri.path().to_string();
    if path == "/slow" {
        arrived.notify_one();
        release.notified().await;
    }
    loop {
        match body.frame().await {
            None => {
                record.complete = true;
                break;
            }
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    record.body_len += d.len() as u64;
                    record.body_chunks += 1;
                    let room = (1usize << 20).saturating_sub(record.body.len());
                    record.body.extend_from_slice(&d[..d.len().min(room)]);
                }
            }
            Some(Err(_)) => break,
        }
    }
    let verify = (path == "/verify").then(|| verify(&record.body));
    seen.lock().unwrap().push(record);
    if let Some((status, body)) = verify {
        let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed());
        *resp.status_mut() = status;
        return Ok(resp);
    }
    if let Some(n) = path.strip_prefix("/download/") {
        let mut left: usize = n.parse().unwrap();
        let chunks = std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let take = left.min(CHUNK.len());
            left -= take;
            Some(Ok::<_, BoxErr>(Frame::data(Bytes::from_static(
                &CHUNK[..take],
            ))))
        });
        return Ok(Response::new(BoxBody::new(StreamBody::new(
            futures_util::stream::iter(chunks),
        ))));
    }
    if path == "/trailers" {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc123".parse().unwrap());
        let frames = vec![
            Ok::<_, BoxErr>(Frame::data(Bytes::from_static(b"payload"))),
            Ok(Frame::trailers(trailers)),
        ];
        return Ok(Response::new(BoxBody::new(StreamBody::new(
            futures_util::stream::iter(frames),
        ))));
    }
    let mut resp = Response::new(
        Full::new(Bytes::from_static(b"ok"))
            .map_err(|e| match e {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::CREATED;
    resp.headers_mut()
        .insert("x-upstream", "yes".parse().unwrap());
    resp.headers_mut()
        .insert("connection", "x-upstream-hop".parse().unwrap());
    resp.headers_mut()
        .insert("x-upstream-hop", "1".parse().unwrap());
    Ok(resp)
}

/// The accounts service: `{"username","password"}` -> 200 `{"sub","claims"}` or 401.
fn verify(body: &[u8]) -> (StatusCode, String) {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let user = doc["username"].as_str().unwrap_or_default();
    if doc["password"] == PASSWORD && !user.is_empty() {
        let answer = serde_json::json!({
            "sub": format!("user:{user}"),
            "claims": {"scope": "read write", "email": format!("{user}@example.com"), "iss": "forged"},
        });
        (StatusCode::OK, answer.to_string())
    } else {
        (StatusCode::UNAUTHORIZED, "{}".into())
    }
}

/// For hand-written upstreams: reads a request head from `sock` and returns
/// its request target; `None` when the peer closed or failed first.
pub async fn read_request_path(sock: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    Some(line.split_whitespace().nth(1).unwrap_or("/").to_string())
}
