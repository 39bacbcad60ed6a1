//! WebSocket through the gateway with an independent implementation (Python
//! `websockets`, tests/fixtures/websocket/peer.py) on both sides: a wss://
//! client, a ws:// server behind an `upgrades = ["websocket"]` route. The
//! upgrade is authenticated before the upstream sees it, arrives with
//! sealgate's identity and without the token, relays messages both ways, and
//! ends at the route's lifetime, at the token's expiry, or at the drain
//! deadline (and not before it).

mod common;

use common::idp::{with_assertion, Idp};
use common::python::Peer;
use common::{list, s, scrape_metrics, start_gateway, Config, Pki, Route};
use serde_json::{json, Value};
use std::sync::Arc;

const PEER: &str = "tests/fixtures/websocket/peer.py";

/// A peer.py process: the server (`serve`) or a client (`session`).
fn peer(mode: &str) -> Peer {
    Peer::start(PEER, &[mode], "websockets")
}

/// One session command and its answer, off the async runtime.
async fn ask(mut client: Peer, cmd: Value) -> (Peer, Value) {
    tokio::task::spawn_blocking(move || {
        client.send(&cmd);
        let answer = client.line();
        (client, answer)
    })
    .await
    .unwrap()
}

fn server() -> (Peer, u16) {
    let mut p = peer("serve");
    let port = p.port();
    (p, port)
}

fn config(pki: &Pki, idp: &Idp, port: u16, ws_extra: &[(&str, common::TomlValue)]) -> Config {
    let cfg = idp.authenticator(with_assertion(Config::new(pki), pki), "idp");
    cfg.upstream("chat", &format!("http://127.0.0.1:{port}"))
        .route(
            Route::new("ws", "/ws/", "chat")
                .auth(&["idp"])
                .extra(&[("upgrades", list(&["websocket"]))])
                .extra(ws_extra),
        )
        .route(Route::new("plain", "/plain/", "chat").auth(&["idp"]))
}

fn open(gw: &sealgate::app::Running, pki: &Pki, path: &str, token: Option<String>) -> Value {
    json!({
        "op": "open", "url": format!("wss://localhost:{}{path}", gw.main_addr.port()),
        "ca": pki.path("ca.pem"), "token": token,
    })
}

fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_authenticated_rewritten_and_relayed() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let (_server, port) = server();
    let (gw, _d) = start_gateway(&config(&pki, &idp, port, &[])).await;
    let client = peer("session");

    let (client, r) = ask(client, open(&gw, &pki, "/ws/chat", None)).await;
    assert_eq!(
        (r["open"].clone(), r["status"].clone()),
        (json!(false), json!(401)),
        "{r}"
    );
    let (client, r) = ask(
        client,
        open(&gw, &pki, "/ws/chat", Some("not.a.jwt".into())),
    )
    .await;
    assert_eq!(r["status"], 401, "{r}");
    // A route that does not list the protocol refuses the switch.
    let (client, r) = ask(
        client,
        open(&gw, &pki, "/plain/chat", Some(idp.token("alice"))),
    )
    .await;
    assert_eq!(r["status"], 400, "{r}");
    assert!(
        r["body"].as_str().unwrap().contains("upgrade_not_allowed"),
        "{r}"
    );

    let (client, r) = ask(
        client,
        open(&gw, &pki, "/ws/chat", Some(idp.token("alice"))),
    )
    .await;
    assert_eq!(r["open"], true, "{r}");
    let hello = &r["hello"];
    assert_eq!(hello["subject"], "alice");
    assert_eq!(hello["assertion"], true);
    assert_eq!(
        hello["authorization"],
        Value::Null,
        "the token reached the server"
    );
    assert_eq!(
        hello["connections"], 1,
        "a refused upgrade reached the server"
    );

    let (client, r) = ask(client, json!({"op": "send", "text": "hi"})).await;
    assert_eq!(r["reply"], "echo:hi");
    let big = "x".repeat(200_000);
    let (client, r) = ask(client, json!({"op": "send", "text": big})).await;
    assert_eq!(r["reply"].as_str().map(str::len), Some(200_005));

    // RFC 6455 §4.1: the handshake is a GET; no token is spent on any other.
    let post = format!(
        "POST /ws/chat HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Connection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n",
        idp.token("alice")
    );
    let answer = common::raw(&pki, gw.main_addr, post.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("upgrade_not_allowed"), "{answer}");

    let text = scrape_metrics(gw.admin_addr).await;
    assert_eq!(
        metric(&text, "sealgate_upgraded_connections{route=\"ws\"}"),
        Some(1.0)
    );
    assert!(
        text.contains("reason=\"upgrade_not_allowed\""),
        "the refusal was not counted"
    );
    drop(client);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_ends_at_its_lifetime_or_the_tokens_expiry() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let (_server, port) = server();
    let cfg = config(&pki, &idp, port, &[("max_upgrade_lifetime", s("1s"))]);
    let (gw, _d) = start_gateway(&cfg).await;

    let (client, r) = ask(
        peer("session"),
        open(&gw, &pki, "/ws/a", Some(idp.token("alice"))),
    )
    .await;
    assert_eq!(r["open"], true, "{r}");
    let (client, r) = ask(client, json!({"op": "send", "text": "1"})).await;
    assert_eq!(r["reply"], "echo:1");
    let (client, r) = ask(client, json!({"op": "wait_close", "timeout": 20})).await;
    assert_eq!(r["closed"], true, "{r}");
    let after = r["after"].as_f64().unwrap();
    assert!(
        (0.9..5.0).contains(&after),
        "closed after {after}s, not at the 1s lifetime"
    );
    drop(client);

    // No route maximum this time is not forever: the token's expiry bounds it.
    let now = sealgate::authn::unix_now();
    let short = idp.mint(&json!({
        "iss": common::idp::ISSUER, "aud": common::idp::AUDIENCE, "sub": "bob",
        "iat": now, "exp": now + 2,
    }));
    let gw2_cfg = config(&pki, &idp, port, &[]);
    let (gw2, _d2) = start_gateway(&gw2_cfg).await;
    let (client, r) = ask(peer("session"), open(&gw2, &pki, "/ws/b", Some(short))).await;
    assert_eq!(r["open"], true, "{r}");
    let (client, r) = ask(client, json!({"op": "wait_close", "timeout": 20})).await;
    assert_eq!(r["closed"], true, "{r}");
    let after = r["after"].as_f64().unwrap();
    assert!(
        after < 6.0,
        "closed after {after}s, past the token's expiry"
    );

    let text = scrape_metrics(gw.admin_addr).await;
    assert_eq!(
        metric(
            &text,
            "sealgate_upgraded_closed_total{reason=\"lifetime\",route=\"ws\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "sealgate_upgraded_bytes_total{direction=\"client_to_upstream\",route=\"ws\"}"
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        metric(&text, "sealgate_upgraded_connections{route=\"ws\"}"),
        Some(0.0)
    );
    drop(client);
    gw.shutdown().await;
    gw2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_keeps_upgraded_connections_until_its_deadline() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let (_server, port) = server();
    let cfg = config(&pki, &idp, port, &[]).set("listen.shutdown_grace", s("2s"));
    let (gw, _d) = start_gateway(&cfg).await;
    let (client, r) = ask(
        peer("session"),
        open(&gw, &pki, "/ws/c", Some(idp.token("carol"))),
    )
    .await;
    assert_eq!(r["open"], true, "{r}");

    // Begin the drain (the first poll sends the signal), then keep talking.
    let mut drain = Box::pin(gw.shutdown());
    tokio::select! {
        biased;
        _ = &mut drain => panic!("the drain finished with an upgraded connection open"),
        _ = std::future::ready(()) => {}
    }
    let drain = tokio::spawn(drain);
    let (client, r) = ask(client, json!({"op": "send", "text": "still here"})).await;
    assert_eq!(
        r["reply"], "echo:still here",
        "the drain cut the connection early"
    );
    let (_client, r) = ask(client, json!({"op": "wait_close", "timeout": 20})).await;
    assert_eq!(r["closed"], true, "the drain deadline did not end it: {r}");
    let after = r["after"].as_f64().unwrap();
    assert!(
        (1.5..8.0).contains(&after),
        "closed after {after}s; the grace is 2s"
    );
    drain.await.unwrap();
}

/// WebSocket over HTTP/2 (RFC 8441) from the `h2` crate's client, with
/// frames written and read here (RFC 6455 §5), to the same Python server.
mod over_h2 {
    use super::*;
    use bytes::{Buf, Bytes, BytesMut};

    pub struct Tunnel {
        pub send: h2::SendStream<Bytes>,
        pub recv: h2::RecvStream,
        buf: BytesMut,
    }

    /// An extended CONNECT to `path`: the status, and the tunnel on 200.
    pub async fn connect(
        gw: &sealgate::app::Running,
        pki: &Pki,
        path: &str,
        token: Option<&str>,
    ) -> (u16, Option<Tunnel>) {
        let tcp = tokio::net::TcpStream::connect(gw.main_addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(pki.client_tls(&[b"h2"], false)));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let io = tls.connect(name, tcp).await.unwrap();
        let (mut client, conn) = h2::client::handshake(io).await.unwrap();
        tokio::spawn(conn);
        // One ordinary exchange first: the server's SETTINGS (and its
        // SETTINGS_ENABLE_CONNECT_PROTOCOL) have arrived after it.
        let probe = http::Request::get(format!("https://localhost{path}"))
            .body(())
            .unwrap();
        let (answer, _) = client.send_request(probe, true).unwrap();
        answer.await.unwrap();
        assert!(
            client.is_extended_connect_protocol_enabled(),
            "RFC 8441 not offered"
        );
        let mut req = http::Request::connect(format!("https://localhost{path}"))
            .header("sec-websocket-version", "13")
            .extension(h2::ext::Protocol::from_static("websocket"))
            .body(())
            .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let mut client = client.ready().await.unwrap();
        let (answer, send) = client.send_request(req, false).unwrap();
        let resp = answer.await.unwrap();
        let status = resp.status().as_u16();
        let tunnel = (status == 200).then(|| Tunnel {
            send,
            recv: resp.into_body(),
            buf: BytesMut::new(),
        });
        (status, tunnel)
    }

    impl Tunnel {
        /// Sends a masked text frame (clients must mask, RFC 6455 §5.3).
        pub fn send_text(&mut self, text: &str) {
            let mask = [0x5a, 0x13, 0xc4, 0x7e];
            let p = text.as_bytes();
            let mut frame = vec![0x81];
            match p.len() {
                n if n < 126 => frame.push(0x80 | n as u8),
                n => {
                    frame.push(0x80 | 126);
                    frame.extend_from_slice(&(n as u16).to_be_bytes());
                }
            }
            frame.extend_from_slice(&mask);
            frame.extend(p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            self.send.send_data(Bytes::from(frame), false).unwrap();
        }

        /// The next text frame's payload (the server's are unmasked).
        pub async fn recv_text(&mut self) -> String {
            loop {
                if let Some(text) = self.parse() {
                    return text;
                }
                let chunk = self.recv.data().await.expect("stream ended").unwrap();
                let _ = self.recv.flow_control().release_capacity(chunk.len());
                self.buf.extend_from_slice(&chunk);
            }
        }

        /// Waits for the stream to end (the server closing or the gateway cutting it).
        pub async fn ended(&mut self) {
            while let Some(Ok(chunk)) = self.recv.data().await {
                let _ = self.recv.flow_control().release_capacity(chunk.len());
            }
        }

        fn parse(&mut self) -> Option<String> {
            let b = &self.buf;
            if b.len() < 2 {
                return None;
            }
            assert_eq!(b[0], 0x81, "expected a final text frame");
            let (len, head) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                126 => return None,
                n => (n as usize, 2),
            };
            if b.len() < head + len {
                return None;
            }
            self.buf.advance(head);
            let payload = self.buf.split_to(len);
            Some(String::from_utf8(payload.to_vec()).unwrap())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_over_http2_is_authenticated_and_relayed() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let (_server, port) = server();
    let (gw, _d) = start_gateway(&config(&pki, &idp, port, &[])).await;

    let (status, _) = over_h2::connect(&gw, &pki, "/ws/h2", None).await;
    assert_eq!(status, 401);
    let token = idp.token("erin");
    let (status, _) = over_h2::connect(&gw, &pki, "/plain/h2", Some(&token)).await;
    assert_eq!(status, 400, "a route without upgrades");
    let (status, tunnel) = over_h2::connect(&gw, &pki, "/ws/h2", Some(&token)).await;
    assert_eq!(status, 200);
    let mut t = tunnel.unwrap();
    let hello: Value = serde_json::from_str(&t.recv_text().await).unwrap();
    assert_eq!(hello["subject"], "erin");
    assert_eq!(hello["authorization"], Value::Null);
    assert_eq!(
        hello["connections"], 1,
        "a refused CONNECT reached the server"
    );
    t.send_text("over h2");
    assert_eq!(t.recv_text().await, "echo:over h2");
    let long = "y".repeat(1000);
    t.send_text(&long);
    assert_eq!(t.recv_text().await, format!("echo:{long}"));
    drop(t);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_tunnel_is_not_idle_while_it_is_open() {
    // The connection's idle timeout counts requests in flight; a tunnel
    // has none pending, yet it must last until its own lifetime.
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let (_server, port) = server();
    let cfg = config(&pki, &idp, port, &[("max_upgrade_lifetime", s("2s"))])
        .set("listen.idle_timeout", s("300ms"));
    let (gw, _d) = start_gateway(&cfg).await;
    let started = std::time::Instant::now();
    let (status, tunnel) = over_h2::connect(&gw, &pki, "/ws/idle", Some(&idp.token("finn"))).await;
    assert_eq!(status, 200);
    let mut t = tunnel.unwrap();
    let _hello = t.recv_text().await;
    t.ended().await;
    let after = started.elapsed().as_secs_f64();
    assert!(
        (1.8..8.0).contains(&after),
        "ended after {after}s: not at the 2s lifetime"
    );
    gw.shutdown().await;
}
