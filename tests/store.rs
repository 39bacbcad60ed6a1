//! Shared state: the same behaviour on the memory store and on a real Redis;
//! two gateway processes sharing one Redis; Redis going away and coming back.

mod common;

use base64::Engine;
use common::{
    boolean, file, inline, list, n, path, s, start_gateway, store_connected, Config, Pki, Process,
    RedisCluster, RedisServer, Route, TomlValue, Upstream,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

struct Keys {
    signing: EncodingKey,
    jwks_path: std::path::PathBuf,
}

fn keys(pki: &Pki) -> Keys {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = pair.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": b64(&raw[1..33]), "y": b64(&raw[33..])}]});
    let jwks_path = pki.path("store-jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    Keys {
        signing: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
        jwks_path,
    }
}

fn now() -> u64 {
    sealgate::authn::unix_now()
}

fn token(k: &Keys, sub: &str, jti: &str, iat: u64) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    let c = json!({"iss": "https://issuer.test", "aud": "api", "sub": sub, "jti": jti, "iat": iat, "exp": now() + 600});
    jsonwebtoken::encode(&h, &c, &k.signing).unwrap()
}

/// The admin API on (token in a file), `store` as the `[store]` table (none
/// when empty), and one route per store-backed feature.
fn config(pki: &Pki, k: &Keys, up: &Upstream, store: &[(&str, TomlValue)]) -> Config {
    let token_file = pki.path("admin.token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cfg = Config::new(pki).set("admin.token", file(&token_file));
    if !store.is_empty() {
        cfg = cfg.table("store", store);
    }
    let rate =
        |per: &str, burst: i64| inline(&[("per", s(per)), ("rate", s("1/m")), ("burst", n(burst))]);
    cfg.upstream("app", &up.url())
        .authenticator(
            "es",
            "jwt",
            &[
                ("issuer", s("https://issuer.test")),
                ("audiences", list(&["api"])),
                ("algorithms", list(&["ES256"])),
                ("keys", file(&k.jwks_path)),
            ],
        )
        .route(Route::new("api", "/api", "app").auth(&["es"]))
        .route(
            Route::new("once", "/once", "app")
                .auth(&["es"])
                .extra(&[("single_use", boolean(true))]),
        )
        .route(
            Route::new("limited", "/limited", "app")
                .auth(&["es"])
                .extra(&[("rate_limit", rate("subject", 3))]),
        )
        .route(
            Route::new("open", "/open", "app")
                .auth(&["es"])
                .extra(&[("on_store_error", s("allow"))]),
        )
        .route(
            Route::new("shared", "/shared", "app")
                .anonymous()
                .extra(&[("rate_limit", rate("ip", 4))]),
        )
}

/// `[store]` for Redis at `url`, then `more` keys.
fn redis_store(url: &str, more: &[(&'static str, TomlValue)]) -> Vec<(&'static str, TomlValue)> {
    let mut store = vec![("kind", s("redis")), ("url", s(url))];
    store.extend_from_slice(more);
    store
}

struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Client {
    fn new(pki: &Pki, main: std::net::SocketAddr, admin: std::net::SocketAddr) -> Client {
        Client {
            http: pki.client(main, false),
            base: format!("https://localhost:{}", main.port()),
            admin: format!("http://{admin}"),
        }
    }

    async fn call(&self, path: &str, token: Option<&str>) -> (u16, String, Option<String>) {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let reason = body["type"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("urn:sealgate:problem:")
            .to_string();
        (status, reason, retry)
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        query: &str,
        body: Option<Value>,
        token: &str,
    ) -> (u16, Value) {
        let mut rb = reqwest::Client::new()
            .request(method, format!("{}/admin/revocations{query}", self.admin))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The behaviour every store must show.
async fn behaviour(store: &[(&str, TomlValue)]) {
    let pki = Pki::new();
    let k = keys(&pki);
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&config(&pki, &k, &up, store)).await;
    store_connected(&gw).await;
    let c = Client::new(&pki, gw.main_addr, gw.admin_addr);
    let ready = reqwest::get(format!("{}/readyz", c.admin)).await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());

    // Revocation by jti survives the verified-token cache.
    let alice = token(&k, "alice", "a1", now());
    assert_eq!(c.call("/api/x", Some(&alice)).await.0, 201);
    assert_eq!(c.call("/api/x", Some(&alice)).await.0, 201);
    let revoke = json!({"jti": "a1", "exp": now() + 600});
    assert_eq!(
        c.admin(
            reqwest::Method::POST,
            "",
            Some(revoke.clone()),
            "wrong-token-wrong-token"
        )
        .await
        .0,
        401
    );
    assert_eq!(
        c.admin(reqwest::Method::POST, "", Some(revoke), ADMIN_TOKEN)
            .await
            .0,
        201
    );
    assert_eq!(c.call("/api/x", Some(&alice)).await.1, "revoked");
    let (status, list) = c.admin(reqwest::Method::GET, "", None, ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    assert!(
        list["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["jti"] == "a1"),
        "{list}"
    );
    assert_eq!(
        c.admin(reqwest::Method::DELETE, "?jti=a1", None, ADMIN_TOKEN)
            .await
            .0,
        204
    );
    assert_eq!(c.call("/api/x", Some(&alice)).await.0, 201);

    // Revocation by subject: tokens issued up to the cut-off are refused, later ones pass.
    let bob_old = token(&k, "bob", "b1", now());
    assert_eq!(c.call("/api/x", Some(&bob_old)).await.0, 201);
    let cut = now();
    assert_eq!(
        c.admin(
            reqwest::Method::POST,
            "",
            Some(json!({"sub": "bob", "issued_before": cut})),
            ADMIN_TOKEN
        )
        .await
        .0,
        201
    );
    assert_eq!(c.call("/api/x", Some(&bob_old)).await.1, "revoked");
    let bob_new = token(&k, "bob", "b2", cut + 1);
    assert_eq!(c.call("/api/x", Some(&bob_new)).await.0, 201);

    // Single use.
    let once = token(&k, "carol", "once-1", now());
    assert_eq!(c.call("/once/x", Some(&once)).await.0, 201);
    assert_eq!(c.call("/once/x", Some(&once)).await.1, "replayed");
    assert_eq!(
        c.call("/api/x", Some(&once)).await.0,
        201,
        "single use is per route"
    );

    // Rate limit per subject: the burst, then 429 with Retry-After.
    let dave = token(&k, "dave", "d1", now());
    for _ in 0..3 {
        assert_eq!(c.call("/limited/x", Some(&dave)).await.0, 201);
    }
    let (status, reason, retry) = c.call("/limited/x", Some(&dave)).await;
    assert_eq!((status, reason.as_str()), (429, "rate_limited"));
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    let erin = token(&k, "erin", "e1", now());
    assert_eq!(
        c.call("/limited/x", Some(&erin)).await.0,
        201,
        "another subject has its own budget"
    );

    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.contains("sealgate_store_duration_seconds_count{op=\"batch\"}"),
        "{m}"
    );
    assert!(
        m.contains("sealgate_rate_limited_total{limit=\"route\",route=\"limited\"} 1"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn memory_store_behaviour() {
    behaviour(&[("kind", s("memory"))]).await;
}

#[tokio::test]
async fn redis_store_behaviour() {
    let redis = RedisServer::start();
    behaviour(&redis_store(&redis.url(), &[("key_prefix", s("t1:"))])).await;
}

/// rediss:// against a TLS-only redis-server whose certificate a private CA
/// signed (`store.ca`): the same behaviour suite.
#[tokio::test]
async fn rediss_store_with_a_private_ca() {
    let redis_pki = Pki::new();
    let redis = RedisServer::start_tls(
        &redis_pki.path("gateway.crt"),
        &redis_pki.path("gateway.key"),
    );
    behaviour(&redis_store(
        &format!("rediss://localhost:{}", redis.port),
        &[
            ("ca", path(redis_pki.path("ca.pem"))),
            ("key_prefix", s("t2:")),
        ],
    ))
    .await;
}

/// redis+cluster:// against a private three-master Redis Cluster: the same
/// behaviour suite (the per-request pipeline spans slots on several nodes;
/// revocations are listed from their index set, not SCAN).
#[tokio::test]
async fn redis_cluster_store_behaviour() {
    let cluster = RedisCluster::start();
    behaviour(&redis_store(&cluster.url(), &[("key_prefix", s("t3:"))])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_redis() {
    let redis = RedisServer::start();
    let pki = Pki::new();
    let k = keys(&pki);
    let up = Upstream::start().await;
    let path = pki.path("gateway.toml");
    config(&pki, &k, &up, &redis_store(&redis.url(), &[])).write(&path);
    let (mut a, mut b) = (Process::spawn(&path), Process::spawn(&path));
    a.wait_store_connected();
    b.wait_store_connected();
    let (ca, cb) = (
        Client::new(&pki, a.main_addr, a.admin_addr),
        Client::new(&pki, b.main_addr, b.admin_addr),
    );

    // A revocation posted to A rejects the token on B within one second.
    let t = token(&k, "alice", "r1", now());
    assert_eq!(cb.call("/api/x", Some(&t)).await.0, 201);
    let posted = Instant::now();
    assert_eq!(
        ca.admin(
            reqwest::Method::POST,
            "",
            Some(json!({"jti": "r1", "exp": now() + 600})),
            ADMIN_TOKEN
        )
        .await
        .0,
        201
    );
    loop {
        if cb.call("/api/x", Some(&t)).await.1 == "revoked" {
            break;
        }
        assert!(
            posted.elapsed() < Duration::from_secs(1),
            "B still accepts a token revoked on A"
        );
    }

    // A single-use token used on A is refused on B.
    let once = token(&k, "bob", "s1", now());
    assert_eq!(ca.call("/once/x", Some(&once)).await.0, 201);
    assert_eq!(cb.call("/once/x", Some(&once)).await.1, "replayed");

    // The rate limit is shared: 10 requests alternating A and B, burst 4 at 1/m.
    let mut allowed = 0;
    for i in 0..10 {
        let c = if i % 2 == 0 { &ca } else { &cb };
        match c.call("/shared/x", None).await.0 {
            201 => allowed += 1,
            429 => {}
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(allowed, 4, "replicas did not share the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_follows_on_store_error_and_recovers() {
    let mut redis = RedisServer::start();
    let pki = Pki::new();
    let k = keys(&pki);
    let up = Upstream::start().await;
    let store = redis_store(&redis.url(), &[("command_timeout", s("300ms"))]);
    let (gw, _d) = start_gateway(&config(&pki, &k, &up, &store)).await;
    store_connected(&gw).await;
    let c = Client::new(&pki, gw.main_addr, gw.admin_addr);
    let t = token(&k, "alice", "o1", now());
    assert_eq!(c.call("/api/x", Some(&t)).await.0, 201);

    redis.kill();
    let (status, reason, _) = c.call("/api/x", Some(&t)).await;
    assert_eq!((status, reason.as_str()), (503, "store_unavailable"));
    assert_eq!(
        c.call("/open/x", Some(&t)).await.0,
        201,
        "on_store_error = allow must serve"
    );
    let ready = reqwest::get(format!("{}/readyz", c.admin)).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready
        .text()
        .await
        .unwrap()
        .contains("store (redis): unavailable"));
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.contains("sealgate_store_errors_total{op=\"batch\"}"),
        "{m}"
    );

    redis.restart();
    let mut recovered = false;
    for _ in 0..300 {
        if c.call("/api/x", Some(&t)).await.0 == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        recovered,
        "the gateway did not recover after Redis returned"
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", c.admin))
            .await
            .unwrap()
            .status(),
        200
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_client() {
    let pki = Pki::new();
    let k = keys(&pki);
    let up = Upstream::start().await;
    let cfg = config(&pki, &k, &up, &[]).set(
        "limits.failed_auth",
        inline(&[("rate", s("1/m")), ("burst", n(5))]),
    );
    let (gw, _d) = start_gateway(&cfg).await;
    let c = Client::new(&pki, gw.main_addr, gw.admin_addr);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(c.call("/api/x", Some("not.a.token")).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
    // Blocked even with a valid token, until the limit refills.
    let (status, reason, retry) = c
        .call("/api/x", Some(&token(&k, "alice", "f1", now())))
        .await;
    assert_eq!(
        (status, reason.as_str()),
        (429, "too_many_failed_authentications")
    );
    assert!(retry.is_some());
    assert!(up.requests().is_empty());
    gw.shutdown().await;
}

#[tokio::test]
async fn admin_api_is_off_without_a_token() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .route(Route::without_prefix("r", "app").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let resp = reqwest::Client::new()
        .post(format!("http://{}/admin/revocations", gw.admin_addr))
        .json(&json!({"sub": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    gw.shutdown().await;
}

/// A TCP relay in front of Redis that delays every answer by `delay_ms`.
struct Relay {
    addr: std::net::SocketAddr,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    async fn start(redis: std::net::SocketAddr) -> Relay {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            delay_ms: Default::default(),
        };
        let delay = relay.delay_ms.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(redis).await else {
                    continue;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                let delay = delay.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let ms = delay.load(std::sync::atomic::Ordering::Relaxed);
                        if ms > 0 {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        relay
    }
}

/// Requests to `path` until `stop`: (201s, 503 store_unavailable, anything else).
fn store_load(
    c: std::sync::Arc<Client>,
    path: &'static str,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64, Vec<String>)> {
    tokio::spawn(async move {
        let (mut ok, mut unavailable, mut other) = (0, 0, Vec::new());
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match c.call(path, Some(&token)).await {
                (201, ..) => ok += 1,
                (503, reason, _) if reason == "store_unavailable" => unavailable += 1,
                (status, reason, _) => other.push(format!("{path}: {status} {reason}")),
            }
        }
        (ok, unavailable, other)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_latency_spikes_and_restarts_under_load() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut redis = RedisServer::start();
    let redis_addr: std::net::SocketAddr =
        redis.url().trim_start_matches("redis://").parse().unwrap();
    let relay = Relay::start(redis_addr).await;
    let pki = Pki::new();
    let k = keys(&pki);
    let up = Upstream::start().await;
    let store = redis_store(
        &format!("redis://{}", relay.addr),
        &[("command_timeout", s("300ms"))],
    );
    let (gw, _d) = start_gateway(&config(&pki, &k, &up, &store)).await;
    store_connected(&gw).await;
    let c = Arc::new(Client::new(&pki, gw.main_addr, gw.admin_addr));
    let t = token(&k, "alice", "spike", now());
    let stop = Arc::new(AtomicBool::new(false));
    let api = store_load(c.clone(), "/api/x", t.clone(), stop.clone());
    let open = store_load(c.clone(), "/open/x", t.clone(), stop.clone());
    let until_ok = || async {
        for _ in 0..500 {
            if c.call("/api/x", Some(&t)).await.0 == 201 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("store-backed requests did not recover");
    };
    until_ok().await;

    // A latency spike past command_timeout: store-backed requests get their
    // precise 503, the on_store_error = "allow" route keeps serving.
    relay.delay_ms.store(1_000, Ordering::Relaxed);
    let (status, reason, _) = c.call("/api/x", Some(&t)).await;
    assert_eq!((status, reason.as_str()), (503, "store_unavailable"));
    assert_eq!(c.call("/open/x", Some(&t)).await.0, 201);
    relay.delay_ms.store(0, Ordering::Relaxed);
    until_ok().await;

    // Redis killed and restarted under the same load.
    redis.kill();
    let (status, reason, _) = c.call("/api/x", Some(&t)).await;
    assert_eq!((status, reason.as_str()), (503, "store_unavailable"));
    redis.restart();
    until_ok().await;

    stop.store(true, Ordering::Relaxed);
    let (api_ok, api_unavailable, api_other) = api.await.unwrap();
    let (open_ok, _, open_other) = open.await.unwrap();
    assert!(api_other.is_empty(), "{api_other:?}");
    assert!(open_other.is_empty(), "{open_other:?}");
    assert!(
        api_ok > 0 && api_unavailable > 0,
        "{api_ok} served, {api_unavailable} refused"
    );
    assert!(open_ok > 0);
    gw.shutdown().await;
}
