//! OpenTelemetry span export: an OTLP/HTTP receiver that decodes exports with
//! the OpenTelemetry project's own protobuf classes (tests/fixtures/otlp,
//! PyPI opentelemetry-proto) sees, for each sampled request, the server span
//! (continuing the client's traceparent) with children for authentication,
//! the store round trip and the upstream call; the upstream's traceparent
//! names the upstream call's span; no export carries the credential; an
//! unsampled caller's request is not exported.

mod common;

use common::idp::{with_assertion, Idp};
use common::python::Peer;
use common::upstream::Upstream;
use common::{inline, n, s, start_gateway, Config, Pki, Route};
use serde_json::Value;

struct Receiver {
    peer: Peer,
    port: u16,
}

impl Receiver {
    fn start() -> Receiver {
        let mut peer = Peer::start(
            "tests/fixtures/otlp/receiver.py",
            &[],
            "opentelemetry-proto",
        );
        let port = peer.port();
        Receiver { peer, port }
    }

    /// Everything received: (raw exports, spans). Call after the gateway
    /// has shut down (it flushes its queue then).
    fn finish(mut self) -> (Vec<Vec<u8>>, Vec<Value>) {
        self.peer.close_stdin();
        let (mut exports, mut spans) = (Vec::new(), Vec::new());
        loop {
            let v = self.peer.line();
            if v["end"] == true {
                break;
            }
            match v["export"].as_str() {
                Some(b64) => {
                    use base64::Engine;
                    exports.push(
                        base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .unwrap(),
                    );
                }
                None => spans.push(v),
            }
        }
        (exports, spans)
    }
}

fn children<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a Value> {
    spans
        .iter()
        .filter(|s| s["parent_span_id"] == parent["span_id"] && s["trace_id"] == parent["trace_id"])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_requests_export_a_span_tree_without_credentials() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let up = Upstream::start().await;
    let receiver = Receiver::start();
    let rate = inline(&[
        ("per", s("subject")),
        ("rate", s("100/s")),
        ("burst", n(100)),
    ]);
    let cfg = idp
        .authenticator(with_assertion(Config::new(&pki), &pki), "idp")
        .upstream("app", &up.url())
        .route(
            Route::new("api", "/api", "app")
                .auth(&["idp"])
                .extra(&[("rate_limit", rate)]),
        )
        .table(
            "tracing",
            &[
                (
                    "otlp_endpoint",
                    s(&format!("http://127.0.0.1:{}", receiver.port)),
                ),
                ("service_name", s("edge-gw")),
                ("sampling_ratio", common::config::float(0.0)),
            ],
        );
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/api/orders?x=1", gw.main_addr.port());
    let token = idp.token("alice");
    let sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    for _ in 0..2 {
        let r = client
            .get(&url)
            .bearer_auth(&token)
            .header("traceparent", sampled)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let upstream_parent = up.last().headers["traceparent"]
        .to_str()
        .unwrap()
        .to_string();
    let r = client
        .get(&url)
        .header("traceparent", sampled)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Neither an unsampled caller nor a new trace at sampling_ratio 0 is exported.
    let r = client
        .get(&url)
        .bearer_auth(&token)
        .header("traceparent", unsampled)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 201);
    gw.shutdown().await;
    let (exports, spans) = receiver.finish();

    assert!(!exports.is_empty(), "nothing was exported");
    let secret = token.rsplit('.').next().unwrap().as_bytes();
    for e in &exports {
        assert!(
            !e.windows(secret.len()).any(|w| w == secret),
            "a token reached the collector"
        );
        assert!(!e.windows(6).any(|w| w.eq_ignore_ascii_case(b"bearer")));
    }
    let servers: Vec<&Value> = spans
        .iter()
        .filter(|s| s["kind"] == "SPAN_KIND_SERVER")
        .collect();
    assert_eq!(
        servers.len(),
        3,
        "only the sampled trace's three requests: {spans:#?}"
    );
    for s in &servers {
        assert_eq!(s["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s["parent_span_id"], "00f067aa0ba902b7");
        assert_eq!(s["resource"]["service.name"], "edge-gw");
        assert_eq!(s["scope"], "sealgate");
        assert_eq!(s["name"], "GET api");
        assert_eq!(s["attributes"]["http.route"], "api");
        assert_eq!(s["attributes"]["url.path"], "/api/orders");
        assert!(s["end"].as_u64() >= s["start"].as_u64());
    }

    // The first request: authenticate (a cache miss), store, upstream.
    let first = servers[0];
    assert_eq!(first["attributes"]["http.response.status_code"], 201);
    let kids = children(&spans, first);
    let names: Vec<&str> = kids.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["authenticate", "store", "GET"], "{kids:#?}");
    assert_eq!(kids[0]["attributes"]["sealgate.auth.kind"], "jwt");
    assert_eq!(kids[0]["attributes"]["sealgate.auth.result"], "ok");
    assert_eq!(kids[0]["attributes"]["sealgate.auth.cache_hit"], false);
    assert_eq!(kids[1]["attributes"]["sealgate.store.kind"], "memory");
    assert_eq!(kids[2]["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(kids[2]["attributes"]["http.response.status_code"], 201);
    for k in &kids {
        assert!(
            k["start"].as_u64() >= first["start"].as_u64()
                && k["end"].as_u64() <= first["end"].as_u64()
        );
    }
    // The second: answered from the verified-token cache; the upstream
    // continued the trace under the upstream call's span.
    let second = children(&spans, servers[1]);
    assert_eq!(second[0]["attributes"]["sealgate.auth.cache_hit"], true);
    assert_eq!(
        upstream_parent,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            second[2]["span_id"].as_str().unwrap()
        )
    );
    // The refusal: its reason on the server span and on authentication.
    let refused = servers[2];
    assert_eq!(refused["attributes"]["http.response.status_code"], 401);
    assert_eq!(refused["attributes"]["sealgate.reason"], "missing");
    assert_eq!(
        refused["status"], "STATUS_CODE_UNSET",
        "a client's 401 is not a server error"
    );
    let kids = children(&spans, refused);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0]["attributes"]["sealgate.auth.result"], "missing");
}
