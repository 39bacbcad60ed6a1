//! WebSocket through the gateway with an independent implementation (Python
//! `websockets`, tests/fixtures/websocket/peer.py) on both sides: a wss://
//! client, a ws:// server behind an `upgrades = ["websocket"]` route. The
//! upgrade is authenticated before the upstream sees it, arrives with
//! sealgate's identity and without the token, relays messages both ways, and
//! ends at the route's lifetime, at the token's expiry, or at the drain
//! deadline (and not before it).

mod common;

use common::idp::{with_assertion, Idp};
use common::python::python;
use common::{list, s, scrape_metrics, start_gateway, Config, Pki, Route};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/websocket/peer.py"
);

/// A peer.py process: the server (`serve`) or a client (`session`).
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(mode: &str) -> Peer {
        let mut child = Command::new(python())
            .args([PEER, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test Python with websockets (scripts/test.sh)");
        Peer {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("peer.py printed {line:?}"))
    }

    /// One session command and its answer, off the async runtime.
    async fn ask(mut self, cmd: Value) -> (Peer, Value) {
        tokio::task::spawn_blocking(move || {
            let stdin = self.stdin.as_mut().unwrap();
            writeln!(stdin, "{cmd}").unwrap();
            stdin.flush().unwrap();
            let answer = self.line();
            (self, answer)
        })
        .await
        .unwrap()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server() -> (Peer, u16) {
    let mut p = Peer::start("serve");
    let port = p.line()["port"].as_u64().unwrap() as u16;
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
    let client = Peer::start("session");

    let (client, r) = client.ask(open(&gw, &pki, "/ws/chat", None)).await;
    assert_eq!(
        (r["open"].clone(), r["status"].clone()),
        (json!(false), json!(401)),
        "{r}"
    );
    let (client, r) = client
        .ask(open(&gw, &pki, "/ws/chat", Some("not.a.jwt".into())))
        .await;
    assert_eq!(r["status"], 401, "{r}");
    // A route that does not list the protocol refuses the switch.
    let (client, r) = client
        .ask(open(&gw, &pki, "/plain/chat", Some(idp.token("alice"))))
        .await;
    assert_eq!(r["status"], 400, "{r}");
    assert!(
        r["body"].as_str().unwrap().contains("upgrade_not_allowed"),
        "{r}"
    );

    let (client, r) = client
        .ask(open(&gw, &pki, "/ws/chat", Some(idp.token("alice"))))
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

    let (client, r) = client.ask(json!({"op": "send", "text": "hi"})).await;
    assert_eq!(r["reply"], "echo:hi");
    let big = "x".repeat(200_000);
    let (client, r) = client.ask(json!({"op": "send", "text": big})).await;
    assert_eq!(r["reply"].as_str().map(str::len), Some(200_005));

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

    let (client, r) = Peer::start("session")
        .ask(open(&gw, &pki, "/ws/a", Some(idp.token("alice"))))
        .await;
    assert_eq!(r["open"], true, "{r}");
    let (client, r) = client.ask(json!({"op": "send", "text": "1"})).await;
    assert_eq!(r["reply"], "echo:1");
    let (client, r) = client.ask(json!({"op": "wait_close", "timeout": 20})).await;
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
    let (client, r) = Peer::start("session")
        .ask(open(&gw2, &pki, "/ws/b", Some(short)))
        .await;
    assert_eq!(r["open"], true, "{r}");
    let (client, r) = client.ask(json!({"op": "wait_close", "timeout": 20})).await;
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
    let (client, r) = Peer::start("session")
        .ask(open(&gw, &pki, "/ws/c", Some(idp.token("carol"))))
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
    let (client, r) = client
        .ask(json!({"op": "send", "text": "still here"}))
        .await;
    assert_eq!(
        r["reply"], "echo:still here",
        "the drain cut the connection early"
    );
    let (_client, r) = client.ask(json!({"op": "wait_close", "timeout": 20})).await;
    assert_eq!(r["closed"], true, "the drain deadline did not end it: {r}");
    let after = r["after"].as_f64().unwrap();
    assert!(
        (1.5..8.0).contains(&after),
        "closed after {after}s; the grace is 2s"
    );
    drain.await.unwrap();
}
