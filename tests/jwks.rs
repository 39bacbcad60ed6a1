//! Remote signing keys end to end: an in-test identity provider serving an
//! OpenID Connect discovery document and a JWKS the test can change, hold,
//! break or inflate, and the gateway's readiness, rotation, last-good-keys,
//! unknown-kid rate limiting and refusals observed from outside.

mod common;

use base64::Engine;
use bytes::Bytes;
use common::{boolean, list, s, start_gateway, Config, Pki, Route, TomlValue, Upstream};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

const AUTHN: &str = "idp";

// ---------------------------------------------------------------------------
// The in-test identity provider.
// ---------------------------------------------------------------------------

struct IdpState {
    /// What the discovery document claims as its issuer.
    discovery_issuer: Mutex<String>,
    jwks_uri: String,
    /// The JWKS document served at `/jwks`.
    jwks: Mutex<Bytes>,
    /// When set, every path answers 500.
    down: AtomicBool,
    /// When set, the next `/jwks` request waits for `release`.
    hold_next_jwks: AtomicBool,
    /// Signalled when a held `/jwks` request has arrived.
    held: Notify,
    release: watch::Sender<bool>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    other_hits: AtomicUsize,
}

struct Idp {
    addr: SocketAddr,
    state: Arc<IdpState>,
}

impl Idp {
    async fn start(jwks: String) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(IdpState {
            discovery_issuer: Mutex::new(format!("http://{addr}")),
            jwks_uri: format!("http://{addr}/jwks"),
            jwks: Mutex::new(Bytes::from(jwks)),
            down: AtomicBool::new(false),
            hold_next_jwks: AtomicBool::new(false),
            held: Notify::new(),
            release: watch::Sender::new(false),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            other_hits: AtomicUsize::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| idp_answer(req, state.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Idp { addr, state }
    }

    /// The issuer the gateway is configured with (no trailing slash).
    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set_jwks(&self, jwks: String) {
        *self.state.jwks.lock().unwrap() = Bytes::from(jwks);
    }

    fn set_discovery_issuer(&self, issuer: String) {
        *self.state.discovery_issuer.lock().unwrap() = issuer;
    }

    fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Makes the next `/jwks` request wait until [`Idp::release`].
    fn hold_next_jwks(&self) {
        self.state.hold_next_jwks.store(true, Ordering::SeqCst);
    }

    /// Waits (bounded) until a held `/jwks` request has arrived.
    async fn wait_held(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.state.held.notified())
            .await
            .expect("the gateway never requested the JWKS");
    }

    fn release(&self) {
        self.state.release.send_replace(true);
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

async fn idp_answer(
    req: Request<Incoming>,
    state: Arc<IdpState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/.well-known/openid-configuration" => {
            state.discovery_hits.fetch_add(1, Ordering::SeqCst);
        }
        "/jwks" => {
            state.jwks_hits.fetch_add(1, Ordering::SeqCst);
            if state.hold_next_jwks.swap(false, Ordering::SeqCst) {
                state.held.notify_one();
                let mut rx = state.release.subscribe();
                let _ = rx.wait_for(|released| *released).await;
            }
        }
        _ => {
            state.other_hits.fetch_add(1, Ordering::SeqCst);
        }
    }
    if state.down.load(Ordering::SeqCst) {
        return Ok(json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            Bytes::from_static(b"{\"error\":\"down\"}"),
        ));
    }
    Ok(match path.as_str() {
        "/.well-known/openid-configuration" => {
            let doc = json!({
                "issuer": *state.discovery_issuer.lock().unwrap(),
                "jwks_uri": state.jwks_uri,
                "id_token_signing_alg_values_supported": ["ES256"],
            });
            json_response(StatusCode::OK, Bytes::from(doc.to_string()))
        }
        "/jwks" => json_response(StatusCode::OK, state.jwks.lock().unwrap().clone()),
        _ => json_response(StatusCode::NOT_FOUND, Bytes::from_static(b"{}")),
    })
}

// ---------------------------------------------------------------------------
// Keys and tokens.
// ---------------------------------------------------------------------------

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn now() -> u64 {
    sealgate::authn::unix_now()
}

/// An ES256 signing key and its public JWK.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    fn new(kid: &str) -> SigningKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw();
        assert_eq!(raw.len(), 65);
        assert_eq!(raw[0], 0x04);
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64(&raw[1..33]),
            "y": b64(&raw[33..65]),
            "kid": kid,
            "use": "sig",
        });
        SigningKey {
            kid: kid.to_string(),
            encoding: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
            jwk,
        }
    }

    /// A token for `sub` with this key's kid.
    fn token(&self, issuer: &str, sub: &str) -> String {
        self.token_with_kid(issuer, sub, &self.kid)
    }

    /// A token signed by this key but naming any `kid`.
    fn token_with_kid(&self, issuer: &str, sub: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_string());
        let t = now();
        let claims = json!({
            "iss": issuer,
            "aud": "api",
            "sub": sub,
            "exp": t + 3600,
            "iat": t,
        });
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

fn jwks(keys: &[&SigningKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

// ---------------------------------------------------------------------------
// The gateway, its admin listener and requests.
// ---------------------------------------------------------------------------

/// A gateway with one route protected by the `idp` authenticator using
/// discovery; `extra` adds keys to the authenticator table.
fn config(pki: &Pki, upstream: &Upstream, idp: &Idp, extra: &[(&str, TomlValue)]) -> Config {
    Config::new(pki)
        .upstream("app", &upstream.url())
        .authenticator(
            AUTHN,
            "jwt",
            &[
                ("issuer", s(&idp.issuer())),
                ("audiences", list(&["api"])),
                ("algorithms", list(&["ES256"])),
                ("discovery", boolean(true)),
            ],
        )
        .table(&format!("authenticators.{AUTHN}"), extra)
        .route(Route::new("api", "/", "app").auth(&[AUTHN]))
}

struct Admin {
    client: reqwest::Client,
    addr: SocketAddr,
}

impl Admin {
    fn new(addr: SocketAddr) -> Admin {
        Admin {
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            addr,
        }
    }

    async fn readyz(&self) -> (u16, String) {
        let resp = self
            .client
            .get(format!("http://{}/readyz", self.addr))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// The value of one sample of `name` with exactly these labels (0 when absent).
    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = common::scrape_metrics(self.addr).await;
        sample(&text, name, labels)
    }

    async fn fetches(&self, result: &str) -> f64 {
        self.metric(
            "sealgate_jwks_fetches_total",
            &[("authenticator", AUTHN), ("result", result)],
        )
        .await
    }

    async fn wait_ready(&self) {
        let admin = self;
        wait_until("/readyz to answer 200", || async move {
            admin.readyz().await.0 == 200
        })
        .await;
    }
}

/// Finds `name{labels} value` in Prometheus text exposition.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, value) = if let Some(rest) = rest.strip_prefix('{') {
            let Some((l, v)) = rest.split_once('}') else {
                continue;
            };
            (l, v)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        let mut found: Vec<(String, String)> = label_text
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect();
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        found.sort();
        want.sort();
        if found == want {
            return value.trim().parse().unwrap();
        }
    }
    0.0
}

/// Polls `cond` a bounded number of times, 10 ms apart.
async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Sends a bearer token to `url`: the status and the JSON body (Null when not JSON).
async fn call(client: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let resp = client
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn problem_type(body: &Value) -> &str {
    body["type"].as_str().unwrap_or("")
}

struct Setup {
    _pki: Pki,
    upstream: Upstream,
    gw: sealgate::app::Running,
    _dir: tempfile::TempDir,
    admin: Admin,
    client: reqwest::Client,
    url: String,
}

async fn setup(idp: &Idp, extra: &[(&str, TomlValue)]) -> Setup {
    let pki = Pki::new();
    let upstream = Upstream::start().await;
    let (gw, dir) = start_gateway(&config(&pki, &upstream, idp, extra)).await;
    let admin = Admin::new(gw.admin_addr);
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/v1/items", gw.main_addr.port());
    Setup {
        _pki: pki,
        upstream,
        gw,
        _dir: dir,
        admin,
        client,
        url,
    }
}

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn discovery_works_and_readiness_follows_keys() {
    let k1 = SigningKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    idp.hold_next_jwks();
    let s = setup(&idp, &[]).await;
    let token = k1.token(&idp.issuer(), "alice");

    // The gateway has read the discovery document and is waiting for the JWKS.
    idp.wait_held().await;
    assert_eq!(idp.discovery_hits(), 1);
    let (status, body) = s.admin.readyz().await;
    assert_eq!(status, 503, "ready before any key was fetched: {body}");
    assert!(
        body.contains(&format!("authenticators.{AUTHN}: signing keys not loaded")),
        "/readyz does not name the authenticator: {body}"
    );
    let (status, body) = call(&s.client, &s.url, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(problem_type(&body), "urn:sealgate:problem:keys_unavailable");
    assert!(s.upstream.requests().is_empty());

    idp.release();
    s.admin.wait_ready().await;
    assert_eq!(idp.jwks_hits(), 1);
    assert_eq!(s.admin.fetches("success").await, 1.0);
    assert_eq!(s.admin.fetches("failure").await, 0.0);

    let (status, body) = call(&s.client, &s.url, &token).await;
    assert_eq!(status, 201, "a valid token was refused: {body}");
    let seen = s.upstream.last();
    assert_eq!(seen.headers["x-auth-subject"], "alice");
    assert!(
        !seen.headers.contains_key("authorization"),
        "the bearer token reached the upstream: {:?}",
        seen.headers
    );
    s.gw.shutdown().await;
}

/// After a first key works, the IdP switches to a new key with a new kid; a
/// token signed by it must verify through exactly one unknown-kid refetch.
async fn rotation(extra: &[(&str, TomlValue)]) {
    let k1 = SigningKey::new("k1");
    let k2 = SigningKey::new("k2");
    let idp = Idp::start(jwks(&[&k1])).await;
    let s = setup(&idp, extra).await;
    s.admin.wait_ready().await;

    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "alice")).await;
    assert_eq!(status, 201, "{body}");
    // New key material under the old kid does not verify against the keys we
    // hold, and the refusal is remembered...
    let k1b = SigningKey::new("k1");
    let reused = k1b.token(&idp.issuer(), "dave");
    for _ in 0..2 {
        let (status, body) = call(&s.client, &s.url, &reused).await;
        assert_eq!(
            (status, problem_type(&body)),
            (401, "urn:sealgate:problem:bad_signature"),
            "{body}"
        );
    }
    let jwks_before = idp.jwks_hits();
    let success_before = s.admin.fetches("success").await;

    // The IdP rotates to a new key with a new kid (and re-uses "k1" for new material).
    idp.set_jwks(jwks(&[&k1b, &k2]));
    let (status, body) = call(&s.client, &s.url, &k2.token(&idp.issuer(), "bob")).await;
    let fetched = idp.jwks_hits() - jwks_before;
    assert_eq!(
        status, 201,
        "a token signed by the rotated-in key was refused after {fetched} JWKS fetch(es): {body}"
    );
    assert_eq!(s.upstream.last().headers["x-auth-subject"], "bob");
    assert_eq!(
        fetched, 1,
        "an unknown kid must cause exactly one JWKS fetch"
    );
    assert_eq!(s.admin.fetches("success").await, success_before + 1.0);

    // ...but only against the key set it was made with: after the refresh the
    // same token verifies.
    let (status, body) = call(&s.client, &s.url, &reused).await;
    assert_eq!(
        status, 201,
        "a remembered refusal outlived its key set: {body}"
    );
    assert_eq!(s.upstream.last().headers["x-auth-subject"], "dave");

    // The new key is now known: no further fetch.
    let (status, body) = call(&s.client, &s.url, &k2.token(&idp.issuer(), "carol")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.upstream.last().headers["x-auth-subject"], "carol");
    assert_eq!(idp.jwks_hits(), jwks_before + 1);
    s.gw.shutdown().await;
}

/// With the default settings (cooldown 30s), as an operator would run it.
#[tokio::test]
async fn rotation_is_picked_up_on_unknown_kid() {
    rotation(&[]).await;
}

/// The same with no cooldown: isolates the refetch-and-retry path from the
/// cooldown bookkeeping (if only the test above fails, the cooldown is at fault).
#[tokio::test]
async fn rotation_is_picked_up_on_unknown_kid_without_cooldown() {
    rotation(&[("jwks_cooldown", s("0s"))]).await;
}

#[tokio::test]
async fn idp_down_keeps_last_good_keys() {
    let k1 = SigningKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    // A short refresh so the gateway really meets the broken IdP during the test.
    let s = setup(&idp, &[("jwks_refresh", common::s("100ms"))]).await;
    s.admin.wait_ready().await;
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "alice")).await;
    assert_eq!(status, 201, "{body}");

    idp.set_down(true);
    let failures_before = s.admin.fetches("failure").await;
    let admin = &s.admin;
    wait_until("a failed refresh against the down IdP", || async move {
        admin.fetches("failure").await > failures_before
    })
    .await;

    // A token not seen before (no verification cache) with the known kid.
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "bob")).await;
    assert_eq!(
        status, 201,
        "the last good keys were dropped while the IdP is down: {body}"
    );
    assert_eq!(s.upstream.last().headers["x-auth-subject"], "bob");
    let (status, body) = s.admin.readyz().await;
    assert_eq!(
        status, 200,
        "readiness flapped while the IdP is down: {body}"
    );
    s.gw.shutdown().await;
}

#[tokio::test]
async fn unknown_kid_flood_is_rate_limited() {
    let k1 = SigningKey::new("k1");
    let attacker = SigningKey::new("attacker");
    let idp = Idp::start(jwks(&[&k1])).await;
    let s = setup(&idp, &[]).await;
    s.admin.wait_ready().await;
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "alice")).await;
    assert_eq!(status, 201, "{body}");

    let jwks_before = idp.jwks_hits();
    let fetches_before = s.admin.fetches("success").await + s.admin.fetches("failure").await;
    let unknown_before = s
        .admin
        .metric(
            "sealgate_auth_failures_total",
            &[("route", "api"), ("reason", "unknown_kid")],
        )
        .await;

    let issuer = idp.issuer();
    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            let kid = uuid::Uuid::new_v4().simple().to_string();
            attacker.token_with_kid(&issuer, &format!("mallory-{i}"), &kid)
        })
        .collect();
    let results: Vec<(u16, Value)> = futures_util::stream::iter(tokens.iter())
        .map(|t| call(&s.client, &s.url, t))
        .buffer_unordered(20)
        .collect()
        .await;
    assert_eq!(results.len(), 1000);
    for (status, body) in &results {
        assert_eq!(*status, 401, "{body}");
        assert_eq!(problem_type(body), "urn:sealgate:problem:unknown_kid");
    }

    let jwks_delta = idp.jwks_hits() - jwks_before;
    assert!(
        jwks_delta <= 1,
        "1000 unknown kids caused {jwks_delta} JWKS fetches (cooldown 30s allows at most 1)"
    );
    let fetches_after = s.admin.fetches("success").await + s.admin.fetches("failure").await;
    assert!(fetches_after - fetches_before <= 1.0);
    let unknown_after = s
        .admin
        .metric(
            "sealgate_auth_failures_total",
            &[("route", "api"), ("reason", "unknown_kid")],
        )
        .await;
    assert_eq!(unknown_after - unknown_before, 1000.0);
    assert_eq!(s.upstream.requests().len(), 1, "a forged token got through");

    // The known key still works after the flood.
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "bob")).await;
    assert_eq!(status, 201, "{body}");
    s.gw.shutdown().await;
}

#[tokio::test]
async fn discovery_issuer_mismatch_is_refused() {
    let k1 = SigningKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    // Differs from the configured issuer only by a trailing slash.
    idp.set_discovery_issuer(format!("{}/", idp.issuer()));
    let s = setup(&idp, &[]).await;

    let admin = &s.admin;
    let idp_ref = &idp;
    wait_until("a failed discovery fetch", || async move {
        idp_ref.discovery_hits() >= 1 && admin.fetches("failure").await >= 1.0
    })
    .await;
    let (status, body) = s.admin.readyz().await;
    assert_eq!(
        status, 503,
        "ready although the discovery issuer differs: {body}"
    );
    assert!(
        body.contains(&format!("authenticators.{AUTHN}: signing keys not loaded")),
        "{body}"
    );
    assert_eq!(s.admin.fetches("success").await, 0.0);
    assert_eq!(
        idp.jwks_hits(),
        0,
        "the JWKS of a mismatched discovery document was fetched"
    );

    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "alice")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(problem_type(&body), "urn:sealgate:problem:keys_unavailable");
    assert!(s.upstream.requests().is_empty());
    s.gw.shutdown().await;
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    let k1 = SigningKey::new("k1");
    let padded =
        |len: usize| json!({ "keys": [k1.jwk.clone()], "padding": "x".repeat(len) }).to_string();
    let big = padded(1 << 20);
    assert!(big.len() > 1 << 20);
    let idp = Idp::start(big).await;
    let s = setup(&idp, &[]).await;

    let admin = &s.admin;
    let idp_ref = &idp;
    wait_until("a failed JWKS fetch", || async move {
        idp_ref.jwks_hits() >= 1 && admin.fetches("failure").await >= 1.0
    })
    .await;
    let (status, body) = s.admin.readyz().await;
    assert_eq!(status, 503, "ready with a JWKS over 1 MiB: {body}");
    assert!(
        body.contains(&format!("authenticators.{AUTHN}: signing keys not loaded")),
        "{body}"
    );
    assert_eq!(s.admin.fetches("success").await, 0.0);
    let token = k1.token(&idp.issuer(), "alice");
    let (status, body) = call(&s.client, &s.url, &token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(problem_type(&body), "urn:sealgate:problem:keys_unavailable");
    assert!(s.upstream.requests().is_empty());

    // Control: the same document with small padding is accepted on the next
    // retry, so the refusal above was about size alone.
    idp.set_jwks(padded(1000));
    s.admin.wait_ready().await;
    let (status, body) = call(&s.client, &s.url, &token).await;
    assert_eq!(status, 201, "{body}");
    s.gw.shutdown().await;
}

#[tokio::test]
async fn garbage_and_slow_jwks_answers_keep_the_last_good_keys() {
    let k1 = SigningKey::new("k1");
    let idp = Idp::start(jwks(&[&k1])).await;
    let s = setup(&idp, &[("jwks_refresh", common::s("100ms"))]).await;
    s.admin.wait_ready().await;

    // Garbage: refreshes fail and are counted; the last good keys keep serving.
    idp.set_jwks("<html>502 Bad Gateway</html>".to_string());
    let failures_before = s.admin.fetches("failure").await;
    let admin = &s.admin;
    wait_until("a failed refresh on a garbage JWKS", || async move {
        admin.fetches("failure").await > failures_before
    })
    .await;
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "carol")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.admin.readyz().await.0, 200);

    // Slow: a refresh that hangs does not hold requests up.
    idp.set_jwks(jwks(&[&k1]));
    idp.hold_next_jwks();
    idp.wait_held().await;
    let started = std::time::Instant::now();
    let (status, body) = call(&s.client, &s.url, &k1.token(&idp.issuer(), "dave")).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a request waited {:?} on a hanging JWKS refresh",
        started.elapsed()
    );
    idp.release();
    s.gw.shutdown().await;
}
