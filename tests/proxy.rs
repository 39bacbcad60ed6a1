//! The proxy core over real TLS with real clients, asserting on what the
//! upstream actually received.

mod common;

use common::{
    array, boolean, inline, list, n, path, s, start_gateway, Config, Pki, Route, Upstream,
};
use std::time::Duration;

/// One anonymous route `all` on `/` to the upstream `app`, with `route_extra`.
fn one_route(pki: &Pki, upstream: &str, route_extra: &[(&str, common::TomlValue)]) -> Config {
    Config::new(pki)
        .upstream("app", upstream)
        .route(Route::new("all", "/", "app").anonymous().extra(route_extra))
}

async fn hygiene(http2: bool) {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let port = gw.main_addr.port();
    let client = pki.client(gw.main_addr, http2);
    let mut rb = client
        .get(format!("https://localhost:{port}/v1/./items?q=1&r=%2F"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "evil.test")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("x-request-id", "req-42")
        .header("X-Auth-Subject", "spoof")
        .header("x_auth_subject", "spoof")
        .header("X-SEALGATE-ASSERTION", "spoof")
        .header("authorization", "Bearer secret-token");
    if !http2 {
        rb = rb
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("te", "gzip")
            .header("upgrade", "h2c");
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    assert!(
        !resp.headers().contains_key("x-upstream-hop"),
        "Connection-listed response header leaked"
    );
    assert_eq!(resp.headers()["x-request-id"], "req-42");

    let seen = up.last();
    assert_eq!(seen.uri, "/v1/items?q=1&r=%2F");
    let h = &seen.headers;
    for gone in [
        "x-hop",
        "keep-alive",
        "te",
        "upgrade",
        "x-auth-subject",
        "x_auth_subject",
        "x-sealgate-assertion",
        "authorization",
    ] {
        assert!(!h.contains_key(gone), "{gone} reached the upstream: {h:?}");
    }
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], format!("localhost:{port}").as_str());
    assert_eq!(
        h["forwarded"],
        format!("for=127.0.0.1;host=\"localhost:{port}\";proto=https").as_str()
    );
    assert_eq!(h["host"], format!("localhost:{port}").as_str());
    // The same trace, the gateway's span as the new parent (W3C Trace Context).
    let tp = h["traceparent"].to_str().unwrap();
    assert!(
        tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{tp}"
    );
    assert!(
        tp.ends_with("-01") && !tp.contains("b7ad6b7169203331"),
        "{tp}"
    );
    assert_eq!(h["x-request-id"], "req-42");
    gw.shutdown().await;
}

#[tokio::test]
async fn http1_forwarding_hygiene() {
    hygiene(false).await;
}

#[tokio::test]
async fn http2_forwarding_hygiene() {
    hygiene(true).await;
}

#[tokio::test]
async fn trusted_proxy_values_are_appended() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = one_route(&pki, &up.url(), &[]).set("listen.trusted_proxies", list(&["127.0.0.0/8"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/", gw.main_addr.port());
    client
        .get(&url)
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    let h = up.last().headers;
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    // No request id from the client: the gateway makes one.
    assert_eq!(h["x-request-id"].len(), 32);
    gw.shutdown().await;
}

#[tokio::test]
async fn body_limits_answer_413_and_never_complete_upstream() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(
        &pki,
        &up.url(),
        &[("max_request_body", s("1KiB"))],
    ))
    .await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/upload", gw.main_addr.port());

    let resp = client
        .post(&url)
        .body(vec![b'a'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(
        up.requests().is_empty(),
        "a declared oversize body reached the upstream"
    );

    // Chunked: no Content-Length, so the limit is enforced while streaming.
    let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 512]));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = client.post(&url).body(body).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(problem["type"], "urn:sealgate:problem:body_too_large");
    assert!(
        up.requests().iter().all(|s| !s.complete),
        "upstream received a complete oversize body"
    );

    // Under the limit, chunked, passes whole.
    let chunks = (0..2).map(|_| Ok::<_, std::io::Error>(vec![b'c'; 400]));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_eq!(
        client.post(&url).body(body).send().await.unwrap().status(),
        201
    );
    let last = up.last();
    assert!(last.complete);
    assert_eq!(last.body_len, 800);
    gw.shutdown().await;
}

#[tokio::test]
async fn header_limits_answer_431() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = one_route(&pki, &up.url(), &[]).table(
        "limits",
        &[("max_header_count", n(20)), ("max_header_bytes", s("8KiB"))],
    );
    let (gw, _d) = start_gateway(&cfg).await;
    let url = format!("https://localhost:{}/", gw.main_addr.port());
    for http2 in [false, true] {
        let client = pki.client(gw.main_addr, http2);
        let mut rb = client.get(&url);
        for i in 0..30 {
            rb = rb.header(format!("x-many-{i}"), "v");
        }
        let status = rb.send().await.unwrap().status();
        assert_eq!(status, 431, "too many headers, http2={http2}");
        let status = client
            .get(&url)
            .header("x-big", "v".repeat(10_000))
            .send()
            .await
            .map(|r| r.status());
        match status {
            Ok(s) => assert_eq!(s, 431, "too large headers, http2={http2}"),
            // HTTP/2 may refuse the stream at the framing layer instead; either way nothing is forwarded.
            Err(e) => assert!(http2, "http1 request failed: {e}"),
        }
    }
    assert!(up.requests().is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn upstream_down_is_502_and_slow_is_504() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("down", "http://127.0.0.1:1")
        .table(
            "upstreams.slow",
            &[
                ("targets", list(&[&up.url()])),
                ("request_timeout", s("300ms")),
            ],
        )
        .route(Route::new("down", "/down", "down").anonymous())
        .route(Route::new("slow", "/slow", "slow").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());

    let resp = client.get(format!("{base}/down")).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let p: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:sealgate:problem:upstream_unreachable");
    assert!(
        !p.to_string().contains("127.0.0.1:1"),
        "internal detail leaked: {p}"
    );

    let resp = client.get(format!("{base}/slow")).send().await.unwrap();
    assert_eq!(resp.status(), 504);
    let p: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:sealgate:problem:upstream_timeout");
    up.release.notify_waiters();

    let m = gw
        .state
        .metrics
        .upstream_errors
        .with_label_values(&["slow", "timeout"])
        .get();
    assert_eq!(m, 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn routing_never_reaches_the_wrong_route() {
    let pki = Pki::new();
    let public = Upstream::start().await;
    let admin = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("public", &public.url())
        .upstream("admin", &admin.url())
        .route(Route::new("public", "/public", "public").anonymous())
        .route(
            Route::new("admin", "/admin", "admin")
                .anonymous()
                .extra(&[("methods", list(&["GET"]))]),
        );
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let get = |p: &str| client.get(format!("{base}{p}")).send();

    for p in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/./admin",
        "//admin",
        "/%61dmin",
    ] {
        let before = admin.requests().len();
        let resp = get(p).await.unwrap();
        assert_eq!(resp.status(), 201, "{p}");
        assert_eq!(
            admin.requests().len(),
            before + 1,
            "{p} did not reach the admin route"
        );
        assert_eq!(admin.last().uri, "/admin", "{p}");
    }
    for p in [
        "/public/..%2fadmin",
        "/public/%2F..%2Fadmin",
        "/public/..%5cadmin",
        "/public/%00",
    ] {
        let resp = get(p).await.unwrap();
        assert_eq!(resp.status(), 400, "{p}");
    }
    assert_eq!(get("/other").await.unwrap().status(), 404);
    assert_eq!(get("/administrator").await.unwrap().status(), 404);
    let resp = client.delete(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "method not listed on the route");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(
        public.requests().is_empty(),
        "nothing was meant for the public upstream"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn sni_picks_the_certificate() {
    let pki = Pki::new();
    let a = pki.server_cert("a", &["a.test"]);
    let b = pki.server_cert("b", &["*.b.test"]);
    let up = Upstream::start().await;
    let sni = |names: &str, stem: &str| {
        inline(&[
            ("names", list(&[names])),
            ("cert", path(pki.path(&format!("{stem}.crt")))),
            ("key", path(pki.path(&format!("{stem}.key")))),
        ])
    };
    let cfg = one_route(&pki, &up.url(), &[]).set(
        "listen.tls.sni",
        array(vec![sni("a.test", "a"), sni("*.b.test", "b")]),
    );
    let (gw, _d) = start_gateway(&cfg).await;
    let served = |name: &'static str| {
        let cfg = std::sync::Arc::new(pki.client_tls(&[b"http/1.1"], false));
        let addr = gw.main_addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let server_name = rustls::pki_types::ServerName::try_from(name).unwrap();
            let tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(server_name, tcp)
                .await
                .unwrap();
            tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
        }
    };
    assert_eq!(served("a.test").await, a);
    assert_eq!(served("x.b.test").await, b);
    let default = served("localhost").await;
    assert_ne!(default, a);
    assert_ne!(default, b);
    gw.shutdown().await;
}

#[tokio::test]
async fn client_certificates_are_required_with_client_ca() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = one_route(&pki, &up.url(), &[]).set("listen.tls.client_ca", path(pki.path("ca.pem")));
    let (gw, _d) = start_gateway(&cfg).await;
    let url = format!("https://localhost:{}/", gw.main_addr.port());
    let anonymous = pki.client(gw.main_addr, false);
    assert!(
        anonymous.get(&url).send().await.is_err(),
        "a client without a certificate got through"
    );

    let with_cert = reqwest::Client::builder()
        .use_preconfigured_tls(pki.client_tls(&[b"http/1.1"], true))
        .resolve("localhost", gw.main_addr)
        .build()
        .unwrap();
    assert_eq!(with_cert.get(&url).send().await.unwrap().status(), 201);
    assert_eq!(up.requests().len(), 1);
    let failures = gw
        .state
        .metrics
        .tls_handshake_failures
        .with_label_values(&["no_client_certificate"])
        .get();
    assert_eq!(failures, 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn trailers_and_h2c_upstreams() {
    use http_body_util::BodyExt;
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = one_route(&pki, &up.url(), &[]).set("upstreams.app.protocol", s("h2"));
    let (gw, _d) = start_gateway(&cfg).await;
    // A raw HTTP/2 client so trailers are visible.
    let tcp = tokio::net::TcpStream::connect(gw.main_addr).await.unwrap();
    let cfg = std::sync::Arc::new(pki.client_tls(&[b"h2"], false));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!(
        "https://localhost:{}/trailers",
        gw.main_addr.port()
    ))
    .body(http_body_util::Empty::<bytes::Bytes>::new())
    .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let collected = resp.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["x-checksum"], "abc123");
    assert_eq!(&collected.to_bytes()[..], b"payload");
    assert_eq!(
        up.last().version,
        http::Version::HTTP_2,
        "the upstream was not spoken to over h2c"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn failing_target_is_ejected() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .table(
            "upstreams.app",
            &[
                ("targets", list(&["http://127.0.0.1:1", &up.url()])),
                ("eject_after", n(1)),
                ("eject_for", s("1h")),
                ("connect_timeout", s("500ms")),
            ],
        )
        .route(Route::new("all", "/", "app").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/", gw.main_addr.port());
    let mut failures = 0;
    for _ in 0..8 {
        let s = tokio::time::timeout(Duration::from_secs(10), client.get(&url).send())
            .await
            .unwrap()
            .unwrap()
            .status();
        if s == 502 {
            failures += 1;
        } else {
            assert_eq!(s, 201);
        }
    }
    assert_eq!(
        failures, 1,
        "the dead target was tried again after ejection"
    );
    assert_eq!(up.requests().len(), 7);
    gw.shutdown().await;
}

#[tokio::test]
async fn https_upstreams_are_verified_against_their_ca() {
    let pki = Pki::new();
    // The backend is a second gateway serving the echo upstream over TLS.
    let backend_cfg = Config::new(&pki)
        .echo_upstream("echo")
        .route(Route::new("all", "/", "echo").anonymous());
    let (backend, _b) = start_gateway(&backend_cfg).await;
    let backend_url = format!("https://localhost:{}", backend.main_addr.port());
    let front_cfg = Config::new(&pki)
        .table(
            "upstreams.tls",
            &[
                ("targets", list(&[&backend_url])),
                ("ca", path(pki.path("ca.pem"))),
            ],
        )
        .upstream("untrusted", &backend_url)
        .route(Route::new("tls", "/tls", "tls").anonymous())
        .route(Route::new("untrusted", "/untrusted", "untrusted").anonymous());
    let (front, _f) = start_gateway(&front_cfg).await;
    let client = pki.client(front.main_addr, false);
    let base = format!("https://localhost:{}", front.main_addr.port());
    let resp = client.get(format!("{base}/tls/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["path"], "/tls/x");
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "https");
    // The system roots do not trust the test CA: the upstream is refused, not trusted blindly.
    assert_eq!(
        client
            .get(format!("{base}/untrusted/x"))
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    front.shutdown().await;
    backend.shutdown().await;
}

/// One TLS connection with `cfg` that sends a request and reads the whole answer
/// (TLS 1.3 tickets arrive after the handshake): was it a resumed handshake?
async fn resumed(addr: std::net::SocketAddr, cfg: &std::sync::Arc<rustls::ClientConfig>) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(cfg.clone())
        .connect(name, tcp)
        .await
        .unwrap();
    let kind = tls.get_ref().1.handshake_kind();
    tls.write_all(b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    kind == Some(rustls::HandshakeKind::Resumed)
}

#[tokio::test]
async fn returning_clients_resume_their_tls_session() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    // (session_tickets, session_cache, expected resumption)
    for (tickets, cache, expected) in [(true, 0, true), (false, 100, true), (false, 0, false)] {
        let cfg = one_route(&pki, &up.url(), &[])
            .set("listen.tls.session_tickets", boolean(tickets))
            .set("listen.tls.session_cache", n(cache));
        let (gw, _d) = start_gateway(&cfg).await;
        let client = std::sync::Arc::new(pki.client_tls(&[b"http/1.1"], false));
        assert!(
            !resumed(gw.main_addr, &client).await,
            "the first handshake cannot resume"
        );
        assert_eq!(
            resumed(gw.main_addr, &client).await,
            expected,
            "session_tickets = {tickets}, session_cache = {cache}"
        );
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn ambiguous_hosts_and_tunnel_methods_are_refused_before_any_upstream() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = one_route(&pki, &up.url(), &[]).route(
        Route::new("wild", "/", "app")
            .anonymous()
            .extra(&[("host", s("*.example.com"))]),
    );
    let (gw, _d) = start_gateway(&cfg).await;
    let cases: [(&[u8], &str); 6] = [
        (
            b"GET /x HTTP/1.1\r\nHost: user:pw@localhost\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"GET /x HTTP/1.1\r\nHost: foo.example@admin.example.com\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"GET /x HTTP/1.1\r\nHost: localhost\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 405",
        ),
        (
            b"TRACE /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 405",
        ),
        // Answered by the gateway itself (RFC 9110 §9.3.7), never forwarded.
        (
            b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 204",
        ),
    ];
    for (request, status) in cases {
        let answer = common::raw(&pki, gw.main_addr, request).await;
        assert!(
            answer.starts_with(status),
            "{}: {answer}",
            String::from_utf8_lossy(request)
        );
    }
    assert!(up.requests().is_empty(), "{:?}", up.requests());
    let answer = common::raw(
        &pki,
        gw.main_addr,
        b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    gw.shutdown().await;
}

#[tokio::test]
async fn transfer_codings_other_than_one_chunked_are_refused() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let post = |te: &str| {
        format!(
            "POST /x HTTP/1.1\r\nHost: localhost\r\n{te}\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
    };
    for (te, status) in [
        ("Transfer-Encoding: gzip, chunked", "HTTP/1.1 501"),
        ("Transfer-Encoding: identity, chunked", "HTTP/1.1 501"),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "HTTP/1.1 400",
        ),
    ] {
        let answer = common::raw(&pki, gw.main_addr, post(te).as_bytes()).await;
        assert!(answer.starts_with(status), "{te}: {answer}");
    }
    assert!(up.requests().is_empty(), "{:?}", up.requests());
    let answer = common::raw(
        &pki,
        gw.main_addr,
        post("Transfer-Encoding: chunked").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(up.last().body_len, 5);
    gw.shutdown().await;
}

#[tokio::test]
async fn tokens_in_query_strings_never_reach_the_backend() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let c = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    for (query, seen) in [
        ("/x?a=1&access_token=eyJ.secret.sig&b=2", "/x?a=1&b=2"),
        ("/x?access%5Ftoken=eyJ.secret.sig", "/x"),
        ("/x?a=1", "/x?a=1"),
    ] {
        let r = c.get(format!("{base}{query}")).send().await.unwrap();
        assert_eq!(r.status(), 201, "{query}");
        assert_eq!(up.last().uri, seen, "{query}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn headers_backends_trust_are_stripped_on_anonymous_routes_too() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let c = pki.client(gw.main_addr, false);
    let r = c
        .get(format!("https://localhost:{}/x", gw.main_addr.port()))
        .header("Remote-User", "admin")
        .header("X-Forwarded-User", "admin")
        .header("X-Original-URL", "/admin")
        .header("X-HTTP-Method-Override", "DELETE")
        .header("True-Client-IP", "6.6.6.6")
        .header("X-Real-IP", "6.6.6.6")
        .header("X-Forwarded-Prefix", "/evil")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let seen = up.last().headers;
    for name in [
        "remote-user",
        "x-forwarded-user",
        "x-original-url",
        "x-http-method-override",
        "true-client-ip",
        "x-forwarded-prefix",
    ] {
        assert!(seen.get(name).is_none(), "{name} reached the backend");
    }
    assert_eq!(seen["x-real-ip"], "127.0.0.1");
    gw.shutdown().await;
}

#[tokio::test]
async fn hsts_is_sent_on_every_answer_when_configured() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let value = "max-age=31536000; includeSubDomains";
    let cfg = Config::new(&pki)
        .set("listen.hsts", s(value))
        .upstream("app", &up.url())
        .route(Route::new("all", "/ok", "app").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let c = pki.client(gw.main_addr, true);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    for (path, status) in [("/ok", 201), ("/missing", 404)] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["strict-transport-security"], value, "{path}");
    }
    gw.shutdown().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let r = pki
        .client(gw.main_addr, false)
        .get(format!("https://localhost:{}/x", gw.main_addr.port()))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    gw.shutdown().await;
}

/// RFC 9113 §8.2.1 and §8.2.3: an HTTP/2 field value padded with whitespace
/// is refused (HTTP/1.1 would trim it: the backend would see another value),
/// and split cookie fields reach an HTTP/1.1 upstream joined into one.
#[tokio::test]
async fn http2_field_values_are_strict_and_cookies_are_joined() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let c = pki.client(gw.main_addr, true);
    let url = format!("https://localhost:{}/x", gw.main_addr.port());
    for padded in [" leading", "trailing\t"] {
        let r = c.get(&url).header("x-note", padded).send().await.unwrap();
        assert_eq!(r.version(), http::Version::HTTP_2);
        assert_eq!(r.status(), 400, "{padded:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["type"], "urn:sealgate:problem:malformed_header");
    }
    assert!(up.requests().is_empty());
    let r = c
        .get(&url)
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let seen = up.last();
    let cookies: Vec<_> = seen.headers.get_all("cookie").iter().collect();
    assert_eq!(cookies, ["a=1; b=2"]);
    gw.shutdown().await;
}

/// A raw non-ASCII byte in the request path reaches the backend unchanged
/// (found by fuzzing `normalize_path`, which re-encoded each byte).
#[tokio::test]
async fn non_ascii_path_bytes_are_forwarded_unchanged() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&one_route(&pki, &up.url(), &[])).await;
    let answer = common::raw(
        &pki,
        gw.main_addr,
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(up.last().uri.as_bytes(), "/café".as_bytes());
    gw.shutdown().await;
}
