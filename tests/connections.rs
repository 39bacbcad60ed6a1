//! Connections that hold resources without using them: more than a client
//! address may open, an HTTP/2 preface with no request ever, and a request
//! body that stops arriving. Each is closed or answered within its limit, and
//! counted; timings are set to a few hundred milliseconds.

mod common;

use common::{n, s, start_gateway, Config, Pki, Route, Upstream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn tls(
    pki: &Pki,
    addr: std::net::SocketAddr,
    alpn: &[u8],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let cfg = std::sync::Arc::new(pki.client_tls(&[alpn], false));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
}

/// Reads until the server closes; true when it did within `within`.
async fn closed_within<S: AsyncReadExt + Unpin>(s: &mut S, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_all).await.is_ok()
}

fn config(pki: &Pki, up: &Upstream) -> Config {
    Config::new(pki)
        .upstream("app", &up.url())
        .route(Route::new("all", "/", "app").anonymous())
        .set("listen.max_connections_per_ip", n(2))
        .set("listen.idle_timeout", s("300ms"))
        .set("listen.body_read_timeout", s("300ms"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_greedy_and_stalled_connections_are_closed() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&config(&pki, &up)).await;
    let addr = gw.main_addr;

    // Two connections from this address are served; a third is closed at once.
    let mut first = tls(&pki, addr, b"http/1.1").await.unwrap();
    let _second = tls(&pki, addr, b"http/1.1").await.unwrap();
    let third = tls(&pki, addr, b"http/1.1").await;
    if let Ok(mut third) = third {
        assert!(closed_within(&mut third, Duration::from_secs(5)).await);
    }
    first
        .write_all(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 201");

    // Both go quiet: closed after the idle timeout, which frees their slots.
    assert!(closed_within(&mut first, Duration::from_secs(5)).await);
    // An HTTP/2 connection that sends its preface and nothing more.
    let mut h2 = tls(&pki, addr, b"h2").await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    assert!(closed_within(&mut h2, Duration::from_secs(5)).await);

    // A body that stops arriving: 408, and the upstream never gets a whole request.
    let mut stalled = tls(&pki, addr, b"http/1.1").await.unwrap();
    stalled
        .write_all(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nx")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut answer));
    let _ = read.await.expect("answered within the body timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(up
        .requests()
        .iter()
        .all(|r| !(r.uri == "/upload" && r.complete)));

    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.contains(r#"sealgate_connections_refused_total{reason="max_connections_per_ip"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"sealgate_connections_closed_total{reason="idle"}"#),
        "{m}"
    );
    gw.shutdown().await;
}

/// Connections are served on per-core workers (`listen.workers`, here 1 and
/// 3) or on the shared runtime (0): each serves HTTP/1.1 and HTTP/2 through
/// to the upstream, each worker on its own upstream pool (so three workers
/// open more than one upstream connection for requests that one pool would
/// send on one), and a shutdown ends the workers.
#[tokio::test]
async fn every_serving_model_serves_and_stops() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    for workers in [0, 1, 3] {
        let cfg = Config::new(&pki)
            .upstream("app", &up.url())
            .route(Route::new("all", "/", "app").anonymous())
            .set("listen.workers", n(workers));
        let (gw, _d) = start_gateway(&cfg).await;
        for (i, http2) in [false, true, false, true, false].into_iter().enumerate() {
            // A new client, so a new connection, each time: spread over the workers.
            let client = pki.client(gw.main_addr, http2);
            let url = format!("https://localhost:{}/w{workers}/{i}", gw.main_addr.port());
            let resp = client.get(url).send().await.unwrap();
            assert_eq!(resp.status(), 201, "workers = {workers}, request {i}");
        }
        let seen = up.requests();
        let here: Vec<_> = seen
            .iter()
            .filter(|r| r.uri.starts_with(&format!("/w{workers}/")))
            .collect();
        assert_eq!(here.len(), 5, "workers = {workers}");
        let pools: std::collections::HashSet<_> = here.iter().map(|r| r.peer).collect();
        match workers {
            // One pool: the requests, one after another, share its connection.
            0 | 1 => assert_eq!(pools.len(), 1, "workers = {workers}: {pools:?}"),
            _ => assert!(pools.len() > 1, "workers = {workers}: {pools:?}"),
        }
        tokio::time::timeout(Duration::from_secs(10), gw.shutdown())
            .await
            .expect("the workers stop after the drain");
    }
}
