//! gRPC through the gateway with the reference implementation (Python
//! grpcio, tests/fixtures/grpc/peer.py) on both sides: a TLS client, an h2c
//! server behind an `protocol = "h2"` upstream. Unary and bidirectional
//! streaming calls arrive with sealgate's identity in the metadata and
//! without the token; a missing or bad token is `UNAUTHENTICATED` at the
//! client; a `grpc-timeout` shorter than `request_timeout` bounds the
//! upstream call and comes back as `DEADLINE_EXCEEDED`.

mod common;

use common::idp::{with_assertion, Idp};
use common::python::Peer;
use common::{s, start_gateway, Config, Pki, Route};
use serde_json::{json, Value};

/// The grpcio server; it stops when its stdin closes (on drop).
struct Server {
    _peer: Peer,
    port: u16,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// Serving TLS with this certificate and key (PEM paths).
    fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Server {
        Server::start_with(&[cert.to_str().unwrap(), key.to_str().unwrap()])
    }

    fn start_with(tls: &[&str]) -> Server {
        let args: Vec<&str> = std::iter::once("serve")
            .chain(tls.iter().copied())
            .collect();
        let mut peer = Peer::start("tests/fixtures/grpc/peer.py", &args, "grpcio");
        let port = peer.port();
        Server { _peer: peer, port }
    }
}

async fn call(job: Value) -> Value {
    tokio::task::spawn_blocking(move || common::python_job("tests/fixtures/grpc/peer.py", &job))
        .await
        .unwrap()
}

fn config(pki: &Pki, idp: &Idp, server: &Server) -> Config {
    let cfg = idp.authenticator(with_assertion(Config::new(pki), pki), "idp");
    cfg.upstream("grpc", &format!("http://127.0.0.1:{}", server.port))
        .set("upstreams.grpc.protocol", s("h2"))
        .route(Route::new("echo", "/test.Echo/", "grpc").auth(&["idp"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_pass_with_identity_and_refusals_are_grpc_statuses() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let server = Server::start();
    let (gw, _d) = start_gateway(&config(&pki, &idp, &server)).await;
    let job = |token: Option<String>, method: &str, messages: &[&str]| {
        json!({
            "target": format!("127.0.0.1:{}", gw.main_addr.port()),
            "ca": pki.path("ca.pem"), "token": token, "method": method,
            "messages": messages, "timeout": 10,
        })
    };

    let r = call(job(Some(idp.token("alice")), "unary", &["hello"])).await;
    assert_eq!(r["code"], "OK", "{r}");
    let seen: Value = serde_json::from_str(r["responses"][0].as_str().unwrap()).unwrap();
    assert_eq!(seen["echo"], "hello");
    assert_eq!(seen["subject"], "alice");
    assert_eq!(seen["assertion"], true);
    assert_eq!(
        seen["authorization"],
        Value::Null,
        "the token reached the server"
    );

    let r = call(job(Some(idp.token("bob")), "stream", &["a", "b", "c"])).await;
    assert_eq!(r["code"], "OK", "{r}");
    let responses: Vec<&str> = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&responses[1..], ["echo:a", "echo:b", "echo:c"]);
    assert!(
        responses[0].contains("\"subject\": \"bob\""),
        "{}",
        responses[0]
    );

    let r = call(job(None, "unary", &["x"])).await;
    assert_eq!(r["code"], "UNAUTHENTICATED", "{r}");
    let r = call(job(Some("not.a.jwt".into()), "stream", &["x"])).await;
    assert_eq!(r["code"], "UNAUTHENTICATED", "{r}");
    // On the wire: a Trailers-Only answer, not an HTTP 401 (which grpcio
    // would also map to UNAUTHENTICATED).
    let r = pki
        .client(gw.main_addr, true)
        .post(format!(
            "https://localhost:{}/test.Echo/Unary",
            gw.main_addr.port()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["grpc-status"], "16");
    assert!(!r.headers()["grpc-message"].is_empty());
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    drop(server);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_timeout_bounds_the_upstream_call() {
    // An upstream that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let pki = Pki::new();
    let cfg = Config::new(&pki)
        .upstream("grpc", &format!("http://{silent_addr}"))
        .set("upstreams.grpc.protocol", s("h2"))
        .set("upstreams.grpc.request_timeout", s("30s"))
        .route(Route::new("echo", "/test.Echo/", "grpc").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, true);
    let started = std::time::Instant::now();
    let r = client
        .post(format!(
            "https://localhost:{}/test.Echo/Unary",
            gw.main_addr.port()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "300m")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "request_timeout (30 s) decided"
    );
    assert_eq!(r.status(), 200, "gRPC refusals are HTTP 200");
    assert_eq!(r.headers()["grpc-status"], "4", "DEADLINE_EXCEEDED");
    assert_eq!(r.headers()["content-type"], "application/grpc");
    // The caller's own deadline says nothing of the target: not counted
    // as an upstream timeout, not a step towards ejecting it.
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(!m.contains("kind=\"timeout\",upstream=\"grpc\""), "{m}");
    hold.abort();
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_reaches_an_h2_upstream_over_tls() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    pki.server_cert("backend", &["localhost"]);
    let server = Server::start_tls(&pki.path("backend.crt"), &pki.path("backend.key"));
    let cfg = idp.authenticator(with_assertion(Config::new(&pki), &pki), "idp");
    let cfg = cfg
        .upstream("grpc", &format!("https://localhost:{}", server.port))
        .set("upstreams.grpc.protocol", s("h2"))
        .set("upstreams.grpc.ca", common::path(pki.path("ca.pem")))
        .route(Route::new("echo", "/test.Echo/", "grpc").auth(&["idp"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let job = |method: &str, messages: &[&str]| {
        json!({
            "target": format!("127.0.0.1:{}", gw.main_addr.port()),
            "ca": pki.path("ca.pem"), "token": idp.token("dana"), "method": method,
            "messages": messages, "timeout": 10,
        })
    };
    let r = call(job("unary", &["over tls"])).await;
    assert_eq!(r["code"], "OK", "{r}");
    let seen: Value = serde_json::from_str(r["responses"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        (seen["echo"].as_str(), seen["subject"].as_str()),
        (Some("over tls"), Some("dana"))
    );
    let r = call(job("stream", &["x", "y"])).await;
    assert_eq!(r["code"], "OK", "{r}");
    assert_eq!(
        r["responses"].as_array().unwrap()[1..],
        [json!("echo:x"), json!("echo:y")]
    );
    // The upstream leg was TLS: one outbound handshake counted for it.
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("sealgate_tls_handshakes_total") && l.contains("outbound")),
        "{m}"
    );
    drop(server);
    gw.shutdown().await;
}
