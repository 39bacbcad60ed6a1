//! API keys: created through the admin API on one replica and used on another
//! (shared Redis), revoked and refused everywhere within a second, never
//! stored in plaintext; a mistyped key is refused without a store lookup; the
//! CLI and `token verify` know them too.

mod common;

use common::{file, list, s, start_gateway, Config, Pki, Process, RedisServer, Route, Upstream};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

/// The admin API on (token in a file), a shared Redis store at `redis_url`
/// (else the default), and one route taking API keys.
fn config(pki: &Pki, up: &Upstream, redis_url: Option<&str>) -> Config {
    let token_file = pki.path("admin.token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cfg = Config::new(pki).set("admin.token", file(&token_file));
    if let Some(url) = redis_url {
        cfg = cfg.table("store", &[("kind", s("redis")), ("url", s(url))]);
    }
    cfg.upstream("app", &up.url())
        .authenticator("keys", "api-key", &[])
        .route(
            Route::new("api", "/api", "app")
                .auth(&["keys"])
                .extra(&[("require.scopes", list(&["orders:read"]))]),
        )
}

async fn create(admin: std::net::SocketAddr, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{admin}/admin/api-keys"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn call(c: &reqwest::Client, addr: std::net::SocketAddr, key: &str) -> (u16, String) {
    let r = c
        .get(format!("https://localhost:{}/api/x", addr.port()))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["type"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("urn:sealgate:problem:")
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_on_one_replica_work_and_die_on_another() {
    let redis = RedisServer::start();
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = pki.path("gateway.toml");
    config(&pki, &up, Some(&redis.url())).write(&path);
    let (mut a, mut b) = (Process::spawn(&path), Process::spawn(&path));
    a.wait_store_connected();
    b.wait_store_connected();

    let (status, made) = create(a.admin_addr, json!({"authenticator": "keys", "subject": "billing-job", "scopes": ["orders:read"], "ttl": "1h", "description": "nightly"})).await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("sgk_"));

    let cb = pki.client(b.main_addr, false);
    assert_eq!(call(&cb, b.main_addr, &key).await.0, 201);
    let seen = up.last();
    assert_eq!(seen.headers["x-auth-subject"], "billing-job");
    assert!(seen.headers.get("authorization").is_none());

    // Listing shows the record, never the key.
    let list = reqwest::Client::new()
        .get(format!("http://{}/admin/api-keys", a.admin_addr))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&id) && list.contains("billing-job") && !list.contains(&key[4..]),
        "{list}"
    );

    // The keyspace holds no key material: not the key, not its secret part.
    let keys = common::redis_server::keyspace(&redis.url());
    assert!(!keys.is_empty());
    for (k, dump) in &keys {
        assert!(
            !k.contains(&key[4..30]) && !dump.contains(&key[4..30]),
            "{k}: {dump}"
        );
    }

    // A wrong scope on another key is a 403.
    let (_, other) = create(
        a.admin_addr,
        json!({"authenticator": "keys", "subject": "reader"}),
    )
    .await;
    assert_eq!(
        call(&cb, b.main_addr, other["key"].as_str().unwrap()).await,
        (403, "insufficient_scope".into())
    );

    // Revoked on A: refused on B within a second.
    let r = reqwest::Client::new()
        .delete(format!("http://{}/admin/api-keys/{id}", a.admin_addr))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let revoked = Instant::now();
    loop {
        if call(&cb, b.main_addr, &key).await == (401, "unknown_key".into()) {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_millis(1100),
            "B still accepts a key revoked on A"
        );
    }

    // The CLI writes to the same store; its key is the only line on stdout.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args([
            "api-key",
            "create",
            "--config",
            path.to_str().unwrap(),
            "--authenticator",
            "keys",
            "--subject",
            "cli-made",
            "--scopes",
            "orders:read",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(call(&cb, b.main_addr, stdout.trim()).await.0, 201);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["api-key", "list", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains("cli-made") && !listed.contains(stdout.trim()),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_key_is_refused_without_a_store_lookup() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _d) = start_gateway(&config(&pki, &up, None)).await;
    let (_, made) = create(
        gw.admin_addr,
        json!({"authenticator": "keys", "subject": "svc", "scopes": ["orders:read"]}),
    )
    .await;
    let key = made["key"].as_str().unwrap().to_string();
    let c = pki.client(gw.main_addr, true);
    assert_eq!(call(&c, gw.main_addr, &key).await.0, 201);

    // The admin token is read as on the main listener: any case of "Bearer",
    // and never from one of two Authorization headers.
    let admin = |auth: &[&str]| {
        let mut rb = reqwest::Client::new().get(format!("http://{}/admin/api-keys", gw.admin_addr));
        for a in auth {
            rb = rb.header("authorization", *a);
        }
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(admin(&[&format!("bearer {ADMIN_TOKEN}")]).await, 200);
    assert_eq!(
        admin(&[&format!("Bearer {ADMIN_TOKEN}"), "Bearer other"]).await,
        401
    );
    assert_eq!(admin(&[&format!("Basic {ADMIN_TOKEN}")]).await, 401);

    let gets = |m: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("sealgate_store_duration_seconds_count{") && l.contains("op=\"get\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(|n| n.parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    let before = gets(&common::scrape_metrics(gw.admin_addr).await);
    let mut typo = key.clone().into_bytes();
    typo[12] = if typo[12] == b'Q' { b'R' } else { b'Q' };
    let typo = String::from_utf8(typo).unwrap();
    assert_eq!(
        call(&c, gw.main_addr, &typo).await,
        (401, "bad_checksum".into())
    );
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert_eq!(gets(&m), before, "a mistyped key cost a store lookup");
    assert!(
        m.lines()
            .any(|l| l.starts_with("sealgate_auth_failures_total{")
                && l.contains("bad_checksum")
                && l.ends_with(" 1")),
        "{m}"
    );
    // A well-formed key that was never issued costs one lookup and is unknown.
    let (never, _, _) = sealgate::authn::api_key::generate("sgk_").unwrap();
    assert_eq!(
        call(&c, gw.main_addr, &never).await,
        (401, "unknown_key".into())
    );
    assert_eq!(up.requests().len(), 1);

    // `token verify` explains a key like a token.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args([
            "token",
            "verify",
            "--config",
            _d.path().join("gateway.toml").to_str().unwrap(),
            "--route",
            "api",
            &typo,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad_checksum"), "{text}");
    gw.shutdown().await;
}
