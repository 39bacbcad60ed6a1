//! Upstream answers a client must never receive as they are: a `101` nobody
//! asked for, headers past the limit, and a `Content-Length` beside a
//! `Transfer-Encoding`. A bad answer ends only its own stream, with 502; the
//! client's other streams on the same HTTP/2 connection carry on.

mod common;

use common::{read_request_path, start_gateway, Config, Pki, Route};
use tokio::io::AsyncWriteExt;

/// An upstream that answers each path with fixed bytes, then closes.
async fn canned_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(path) = read_request_path(&mut sock).await else {
                    return;
                };
                let _ = sock.write_all(&answer(&path)).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

fn answer(path: &str) -> Vec<u8> {
    match path {
        "/upgrade" => b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".to_vec(),
        "/both" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
        "/huge" => format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            "a".repeat(70 * 1024)
        )
        .into_bytes(),
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_upstream_answers_end_only_their_own_stream() {
    let pki = Pki::new();
    let up = canned_upstream().await;
    let cfg = Config::new(&pki)
        .upstream("app", &format!("http://{up}"))
        .route(Route::new("all", "/", "app").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    for http2 in [true, false] {
        let c = pki.client(gw.main_addr, http2);
        // Over HTTP/2 these share one connection: the bad answers must not take it down.
        let (upgrade, huge, good) = tokio::join!(
            c.get(format!("{base}/upgrade")).send(),
            c.get(format!("{base}/huge")).send(),
            c.get(format!("{base}/fine")).send(),
        );
        for (what, r) in [("101", upgrade), ("huge headers", huge)] {
            let r = r.unwrap();
            assert_eq!(r.status(), 502, "{what} (h2: {http2})");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["type"], "urn:sealgate:problem:upstream_bad_response");
        }
        let good = good.unwrap();
        assert_eq!(good.status(), 200);
        assert_eq!(good.text().await.unwrap(), "ok");
        let both = c.get(format!("{base}/both")).send().await.unwrap();
        assert_eq!(both.status(), 200);
        assert!(both
            .headers()
            .get("content-length")
            .is_none_or(|v| v == "5"));
        assert_eq!(both.text().await.unwrap(), "hello", "h2: {http2}");
    }
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(m.contains("unrequested_upgrade"), "{m}");
    assert!(m.contains("response_headers_too_large"), "{m}");
    gw.shutdown().await;
}
