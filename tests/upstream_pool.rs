//! The gateway's upstream connection pool, seen from the upstream: HTTP/1.1
//! connections are kept alive and reused, one a target closed is never sent
//! a request, `max_idle_per_target = 0` keeps none, `idle_timeout` closes
//! them, a body left unread takes its connection down, and an HTTP/2
//! upstream gets one connection for concurrent requests, with the signed
//! assertion, the request id and the traceparent (unique per request) never
//! indexed in its HPACK table (checked by an independent HTTP/2
//! implementation, Python `h2`).

mod common;

use common::idp::{with_assertion, Idp};
use common::python::Peer;
use common::{n, read_request_path, s, start_gateway, Config, Pki, Route, Upstream};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One serving worker, so one pool, and a route to `url`.
fn gateway_for(pki: &Pki, url: &str) -> Config {
    Config::new(pki)
        .set("listen.workers", n(1))
        .upstream("app", url)
        .route(Route::new("app", "/", "app").anonymous())
}

/// The connections the upstream saw requests on.
fn connections(up: &Upstream) -> usize {
    let peers: HashSet<SocketAddr> = up.requests().iter().map(|r| r.peer).collect();
    peers.len()
}

async fn get_all(c: &reqwest::Client, base: &str, count: usize) {
    for i in 0..count {
        let r = c.get(format!("{base}/r{i}")).send().await.unwrap();
        assert_eq!(r.status(), 201, "request {i}");
        r.bytes().await.unwrap();
    }
}

#[tokio::test]
async fn sequential_requests_share_one_kept_alive_connection() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&gateway_for(&pki, &up.url())).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let c = pki.client(gw.main_addr, false);
    // An answer without a body (HEAD) gives its connection back unread.
    let r = c.head(format!("{base}/head")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    get_all(&c, &base, 10).await;
    drop(c);
    assert_eq!(up.requests().len(), 11);
    assert_eq!(
        connections(&up),
        1,
        "every request reused the pooled connection"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn with_no_idle_connections_allowed_each_request_opens_one() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = gateway_for(&pki, &up.url()).set("upstreams.app.max_idle_per_target", n(0));
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    get_all(&pki.client(gw.main_addr, false), &base, 4).await;
    assert_eq!(connections(&up), 4);
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = gateway_for(&pki, &up.url()).set("upstreams.app.idle_timeout", s("150ms"));
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    get_all(&pki.client(gw.main_addr, false), &base, 2).await;
    let before = connections(&up);
    assert!(up.live.load(Ordering::Relaxed) >= 1, "kept alive after use");
    all_closed(&up).await;
    // A request after that opens a new connection and succeeds.
    get_all(&pki.client(gw.main_addr, false), &base, 1).await;
    assert_eq!(connections(&up), before + 1);
    gw.shutdown().await;
}

/// Waits (at most 10 s) until the upstream has no connection open.
async fn all_closed(up: &Upstream) {
    let started = std::time::Instant::now();
    while up.live.load(Ordering::Relaxed) != 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_response_body_left_unread_takes_its_connection_down() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&gateway_for(&pki, &up.url())).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let c = pki.client(gw.main_addr, false);
    let mut r = c
        .get(format!("{base}/download/{}", 256 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.chunk().await.unwrap().is_some());
    drop((r, c));
    // Mid-body, the connection cannot carry another request: not pooled.
    all_closed(&up).await;
    get_all(&pki.client(gw.main_addr, false), &base, 1).await;
    assert_eq!(connections(&up), 2);
    gw.shutdown().await;
}

/// An HTTP/1.1 upstream that answers one request per connection without
/// saying so (no `Connection: close`); when told to (`close` moves past the
/// value it had when the request came) it closes the connection, by then
/// idle in the gateway's pool, and counts in `closed` once the gateway
/// closed its side too (it read the close).
async fn closing_upstream(
    close: tokio::sync::watch::Receiver<usize>,
    closed: Arc<tokio::sync::watch::Sender<usize>>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (mut close, closed) = (close.clone(), closed.clone());
            tokio::spawn(async move {
                if read_request_path(&mut sock).await.is_none() {
                    return;
                }
                let asked = *close.borrow_and_update();
                let _ = sock
                    .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                let _ = close.wait_for(|now| *now > asked).await;
                let _ = sock.shutdown().await;
                let mut buf = [0u8; 64];
                while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
                closed.send_modify(|n| *n += 1);
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_connection_the_target_closed_while_idle_is_replaced() {
    let pki = Pki::new();
    let (close, asked) = tokio::sync::watch::channel(0usize);
    let closed = Arc::new(tokio::sync::watch::Sender::new(0usize));
    let mut seen = closed.subscribe();
    let addr = closing_upstream(asked, closed).await;
    let (gw, _d) = start_gateway(&gateway_for(&pki, &format!("http://{addr}"))).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let c = pki.client(gw.main_addr, false);
    for i in 0..10 {
        get_all(&c, &base, 1).await;
        // The pooled connection is closed on both ends before the next
        // request, which must not be sent on it.
        close.send_modify(|n| *n += 1);
        seen.wait_for(|n| *n > i).await.unwrap();
    }
    drop(c);
    gw.shutdown().await;
}

#[tokio::test]
async fn an_http2_upstream_carries_concurrent_requests_on_one_connection() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = gateway_for(&pki, &up.url()).set("upstreams.app.protocol", s("h2"));
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let c = pki.client(gw.main_addr, true);
    let calls = (0..8).map(|i| {
        let (c, url) = (c.clone(), format!("{base}/c{i}"));
        tokio::spawn(async move { c.get(url).send().await.unwrap().status() })
    });
    for call in calls.collect::<Vec<_>>() {
        assert_eq!(call.await.unwrap(), 201);
    }
    let seen = up.requests();
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|r| r.version == http::Version::HTTP_2));
    assert_eq!(connections(&up), 1, "one shared HTTP/2 connection");
    gw.shutdown().await;
}

/// tests/fixtures/h2/upstream.py: an HTTP/2 upstream that reports, per
/// request, whether each header field arrived HPACK "never indexed".
struct H2Upstream {
    peer: Peer,
    port: u16,
}

impl H2Upstream {
    fn start() -> H2Upstream {
        let mut peer = Peer::start("tests/fixtures/h2/upstream.py", &[], "h2");
        let port = peer.port();
        H2Upstream { peer, port }
    }

    /// The next request's path, connection number and fields (name ->
    /// arrived never indexed).
    fn request(&mut self) -> (String, u64, std::collections::HashMap<String, bool>) {
        let seen = self.peer.line();
        let fields = seen["fields"].as_array().unwrap();
        let fields = fields
            .iter()
            .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_bool().unwrap()))
            .collect();
        let path = seen["path"].as_str().unwrap().to_string();
        (path, seen["connection"].as_u64().unwrap(), fields)
    }
}

#[tokio::test]
async fn an_http2_upstream_gets_the_assertion_and_request_id_never_indexed() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let mut up = H2Upstream::start();
    let cfg = idp
        .authenticator(with_assertion(Config::new(&pki), &pki), "idp")
        .set("listen.workers", n(1))
        .upstream("app", &format!("http://127.0.0.1:{}", up.port))
        .set("upstreams.app.protocol", s("h2"))
        .route(Route::new("app", "/", "app").auth(&["idp"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let c = pki.client(gw.main_addr, false);
    // Two requests on one upstream connection: an indexed field of the
    // first would be a table reference in the second.
    for i in 0..2 {
        let r = c
            .get(format!("{base}/n{i}"))
            .bearer_auth(idp.token("alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok\n");
        // Printed before the answer was sent: already in the pipe.
        let (path, connection, fields) = up.request();
        assert_eq!((path.as_str(), connection), (&*format!("/n{i}"), 1));
        assert_eq!(
            fields.get("x-sealgate-assertion"),
            Some(&true),
            "{fields:?}"
        );
        assert_eq!(fields.get("x-request-id"), Some(&true), "{fields:?}");
        assert_eq!(fields.get("traceparent"), Some(&true), "{fields:?}");
        // Fields that repeat stay indexable: the report tells the two apart.
        assert_eq!(fields.get("x-auth-subject"), Some(&false), "{fields:?}");
        assert!(!fields.contains_key("authorization"), "{fields:?}");
    }
    gw.shutdown().await;
}
