//! RFC 7662 introspection against an in-test authorization server: active,
//! inactive, expired, wrong audience, garbage, oversized, slow and down; the
//! cache (one call for repeated use) and client authentication.

mod common;

use bytes::Bytes;
use common::{list, s, start_gateway, Config, Pki, Route, Upstream};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Calls = Arc<Mutex<HashMap<String, usize>>>;

/// An RFC 7662 endpoint whose answer depends on the token; it counts calls per token
/// and records the Authorization header it saw.
async fn idp() -> (std::net::SocketAddr, Calls, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls: Calls = Arc::default();
    let auth: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c2, a2) = (calls.clone(), auth.clone());
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let (calls, auth) = (c2.clone(), a2.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (calls, auth) = (calls.clone(), auth.clone());
                    async move {
                        if let Some(a) = req.headers().get("authorization") {
                            auth.lock().unwrap().push(a.to_str().unwrap().to_string());
                        }
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let form = String::from_utf8(body.to_vec()).unwrap();
                        let token = form
                            .split('&')
                            .find_map(|p| p.strip_prefix("token="))
                            .unwrap_or("")
                            .to_string();
                        *calls.lock().unwrap().entry(token.clone()).or_default() += 1;
                        let now = sealgate::authn::unix_now();
                        let active = |extra: Value| {
                            let mut v = json!({"active": true, "sub": "alice", "iss": "https://idp.test", "aud": ["api"], "scope": "read", "exp": now + 600});
                            v.as_object_mut()
                                .unwrap()
                                .extend(extra.as_object().unwrap().clone());
                            v.to_string()
                        };
                        let text = match token.as_str() {
                            "good" | "good2" => active(json!({})),
                            "expired" => active(json!({"exp": now - 3600})),
                            "certbound" => {
                                active(json!({"cnf": {"x5t#S256": "bm90LXRoaXMtY2VydA"}}))
                            }
                            "dpopbound" => active(
                                json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
                            ),
                            "floatexp" => active(json!({"exp": "soon"})),
                            "wrongaud" => active(json!({"aud": "other"})),
                            "garbage" => "not json".to_string(),
                            "big" => {
                                format!("{{\"active\":true,\"pad\":\"{}\"}}", "x".repeat(200_000))
                            }
                            "slow" => {
                                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                                active(json!({}))
                            }
                            _ => json!({"active": false}).to_string(),
                        };
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from(text),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    (addr, calls, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspected_tokens_are_checked_cached_and_fail_closed() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (idp, calls, auth) = idp().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::env::set_var("INTROSPECTION_TEST_SECRET", "s3cret:&");
    // A hashes-only API key file, for a route that takes API keys or introspected tokens.
    let (api_key, _, hash) = sealgate::authn::api_key::generate("sgk_").unwrap();
    let keys_file = pki.path("keys.toml");
    std::fs::write(
        &keys_file,
        format!("[[keys]]\nhash = \"{hash}\"\nsubject = \"batch-job\"\n"),
    )
    .unwrap();
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "idp",
            "introspection",
            &[
                ("endpoint", s(&format!("http://{idp}/introspect"))),
                ("client_id", s("sealgate")),
                ("client_secret", s("env:INTROSPECTION_TEST_SECRET")),
                ("issuer", s("https://idp.test")),
                ("audiences", list(&["api"])),
                ("timeout", s("500ms")),
                ("token_type_hint", s("access_token")),
            ],
        )
        .authenticator(
            "down",
            "introspection",
            &[
                ("endpoint", s(&format!("http://{dead}/introspect"))),
                ("client_id", s("sealgate")),
                ("client_secret", s("env:INTROSPECTION_TEST_SECRET")),
                ("client_auth", s("client_secret_post")),
                ("audiences", list(&["api"])),
            ],
        )
        .authenticator(
            "keys",
            "api-key",
            &[("keys_file", s(&keys_file.display().to_string()))],
        )
        .route(Route::new("api", "/api", "app").auth(&["idp"]))
        .route(Route::new("mixed", "/mixed", "app").auth(&["idp", "keys"]))
        .route(Route::new("down", "/down", "app").auth(&["down"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let c = pki.client(gw.main_addr, false);
    let call = |path: &'static str, token: &'static str| {
        let c = c.clone();
        let url = format!("https://localhost:{}{path}", gw.main_addr.port());
        async move {
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            let s = r.status().as_u16();
            let b: Value = r.json().await.unwrap_or(Value::Null);
            (
                s,
                b["type"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("urn:sealgate:problem:")
                    .to_string(),
            )
        }
    };

    // Active: forwarded with the subject; repeated use costs one call (cache), and
    // concurrent first uses share one call (single flight).
    let many: Vec<_> = (0..8)
        .map(|_| tokio::spawn(call("/api/x", "good")))
        .collect();
    for h in many {
        assert_eq!(h.await.unwrap().0, 201);
    }
    assert_eq!(call("/api/x", "good").await.0, 201);
    assert_eq!(calls.lock().unwrap()["good"], 1);
    assert_eq!(up.last().headers["x-auth-subject"], "alice");
    // RFC 6749 §2.3.1: client id and secret form-encoded inside Basic.
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("sealgate:s3cret%3A%26")
    );
    assert_eq!(auth.lock().unwrap()[0], want);

    assert_eq!(call("/api/x", "nope").await, (401, "inactive".into()));
    assert_eq!(call("/api/x", "expired").await, (401, "expired".into()));
    assert_eq!(
        call("/api/x", "wrongaud").await,
        (401, "wrong_audience".into())
    );
    for bad in ["garbage", "big", "slow"] {
        assert_eq!(
            call("/api/x", bad).await,
            (503, "introspection_unavailable".into()),
            "{bad}"
        );
    }
    // A bound token is accepted only with its key: a certificate binding without
    // the certificate, a DPoP binding (no proof is checked yet), a time that is
    // not a number: all refused.
    assert_eq!(
        call("/api/x", "certbound").await,
        (401, "certificate_mismatch".into())
    );
    assert_eq!(
        call("/api/x", "dpopbound").await,
        (401, "unsupported_binding".into())
    );
    assert_eq!(call("/api/x", "floatexp").await, (401, "malformed".into()));

    // On a route that takes both, an API key is verified locally and never
    // sent to the introspection endpoint, whatever the order in `auth`.
    let leaked = Box::leak(api_key.clone().into_boxed_str());
    assert_eq!(call("/mixed/x", leaked).await.0, 201);
    assert_eq!(up.last().headers["x-auth-subject"], "batch-job");
    // (the IdP records tokens as sent, form-encoded: the prefix "sgk" stays readable)
    assert!(!calls.lock().unwrap().keys().any(|t| t.starts_with("sgk")));

    // Errors are not cached: a second garbage answer means a second call.
    assert_eq!(call("/api/x", "garbage").await.0, 503);
    assert_eq!(calls.lock().unwrap()["garbage"], 2);
    // Three failed calls in a row make the endpoint count as down (errors are
    // not cached, so each request is a new call).
    for _ in 0..3 {
        assert_eq!(
            call("/down/x", "good2").await,
            (503, "introspection_unavailable".into())
        );
    }
    assert_eq!(
        up.requests().len(),
        10,
        "only the active tokens and the API key reached the upstream"
    );

    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("sealgate_introspection_requests_total{")
                && l.contains("authenticator=\"idp\"")
                && l.contains("result=\"active\"")),
        "{m}"
    );
    assert!(!m.contains("s3cret"));

    // A failing endpoint shows in readiness, by authenticator.
    let ready = reqwest::get(format!("http://{}/readyz", gw.admin_addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let text = ready.text().await.unwrap();
    assert!(
        text.contains("authenticators.down: introspection endpoint failing"),
        "{text}"
    );

    // `token verify` explains an opaque token and asks the endpoint, as the gateway does.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["token", "verify", "--route", "api", "good2", "--config"])
        .arg(_d.path().join("gateway.toml"))
        .env("INTROSPECTION_TEST_SECRET", "s3cret:&")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shape: not a JWS compact token"), "{text}");
    assert!(
        text.contains("verification: ok (authenticator idp, kind introspection, subject \"alice\""),
        "{text}"
    );
    assert!(out.status.success(), "{text}");
    gw.shutdown().await;
}
