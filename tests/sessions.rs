//! The token endpoint (`[issuer]`): logins through an accounts service and
//! through a users file made by `sealgate users`, access tokens that work on
//! `kind = "issued"` routes and expire, rotating refresh tokens whose reuse
//! ends the whole session, revoke and logout, failed-login limits, RFC 8414
//! metadata and the JWKS, and credentials that appear in no log.

mod common;

use common::upstream::PASSWORD;
use common::{boolean, inline, s, start_gateway, Config, Pki, Process, Route, Upstream};
use serde_json::Value;
use std::net::SocketAddr;

/// An issuer verifying passwords at `up`'s `/verify`, tokens in `format`,
/// and a route `/api` taking them.
pub fn config(pki: &Pki, up: &Upstream, format: &str) -> Config {
    Config::new(pki)
        .upstream("accounts", &up.url())
        .upstream("app", &up.url())
        .table(
            "issuer",
            &[
                ("url", s("https://auth.example.test")),
                ("key", common::file(pki.path("issuer.pem"))),
                ("dev_generate", boolean(true)),
                ("access_token", inline(&[("format", s(format))])),
                (
                    "verifier",
                    inline(&[("upstream", s("accounts")), ("path", s("/verify"))]),
                ),
            ],
        )
        .authenticator("sessions", "issued", &[])
        .route(Route::new("api", "/api", "app").auth(&["sessions"]))
}

pub async fn post_form(
    c: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = c
        .post(format!("https://localhost:{}{path}", addr.port()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if path.ends_with("/token") {
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn login(
    c: &reqwest::Client,
    addr: SocketAddr,
    user: &str,
    password: &str,
) -> (u16, Value) {
    let form = [
        ("grant_type", "password"),
        ("username", user),
        ("password", password),
    ];
    post_form(c, addr, "/auth/token", &form).await
}

pub async fn refresh(c: &reqwest::Client, addr: SocketAddr, token: &str) -> (u16, Value) {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    post_form(c, addr, "/auth/token", &form).await
}

/// GET /api/x with `token`: the status and the problem's reason.
pub async fn call(c: &reqwest::Client, addr: SocketAddr, token: &str) -> (u16, String) {
    let r = c
        .get(format!("https://localhost:{}/api/x", addr.port()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let reason = body["type"].as_str().unwrap_or("");
    (
        status,
        reason
            .trim_start_matches("urn:sealgate:problem:")
            .to_string(),
    )
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_reuse_and_logout() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &up, "jwt")).await;
    let c = pki.client(gw.main_addr, false);
    let addr = gw.main_addr;

    let (status, body) = login(&c, addr, "alice", "wrong password").await;
    assert_eq!((status, str_of(&body, "error")), (400, "invalid_grant"));
    let (status, unknown) = login(&c, addr, "", PASSWORD).await;
    assert_eq!(
        (status, str_of(&unknown, "error")),
        (400, "invalid_request")
    );

    let (status, t) = login(&c, addr, "alice", PASSWORD).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (str_of(&t, "token_type"), t["expires_in"].as_u64()),
        ("Bearer", Some(600))
    );
    let access = str_of(&t, "access_token").to_string();
    let first_refresh = str_of(&t, "refresh_token").to_string();
    assert!(first_refresh.starts_with("sgrt_"));
    assert_eq!(call(&c, addr, &access).await.0, 201);
    let seen = up.last();
    assert_eq!(seen.headers["x-auth-subject"], "user:alice");
    assert!(seen.headers.get("authorization").is_none());
    // The password went to the accounts service and nowhere else.
    let with_password: Vec<_> = up
        .requests()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(PASSWORD))
        .map(|r| r.uri)
        .collect();
    assert!(
        with_password.iter().all(|u| u == "/verify"),
        "{with_password:?}"
    );

    // The token's claims: the verifier's, minus the registered ones it may not set.
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "https://auth.example.test");
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims["sid"].is_string());
    // It expires: verified at a later clock, the authenticator refuses it.
    let current = gw.state.gateway.load_full();
    let sessions = current.authenticators["sessions"].clone();
    let (method, uri, headers) = (http::Method::GET, "/api/x".parse::<http::Uri>().unwrap(), {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {access}").parse().unwrap());
        h
    });
    let later = sealgate::authn::unix_now() + 600 + 31;
    let at = sealgate::authn::Attempt::new(&method, &uri, "localhost", &headers, later);
    assert_eq!(
        sessions.verify(&at).await.err(),
        Some(sealgate::authn::AuthError::Rejected(
            sealgate::authn::AuthFailure::Expired
        ))
    );

    // Rotation: the old refresh token is spent; presenting it again is reuse,
    // which ends the session: the newest refresh token and the access tokens too.
    let (status, second) = refresh(&c, addr, &first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = str_of(&second, "refresh_token").to_string();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(call(&c, addr, str_of(&second, "access_token")).await.0, 201);
    let (status, reused) = refresh(&c, addr, &first_refresh).await;
    assert_eq!((status, str_of(&reused, "error")), (400, "invalid_grant"));
    assert_eq!(refresh(&c, addr, &second_refresh).await.0, 400);
    assert_eq!(call(&c, addr, &access).await, (401, "revoked".to_string()));
    assert_eq!(call(&c, addr, str_of(&second, "access_token")).await.0, 401);
    let metrics = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        metrics.contains(
            r#"sealgate_issuer_requests_total{endpoint="token",outcome="refresh_reused"} 1"#
        ),
        "{metrics}"
    );

    // "Remember me" (here as a JSON body) lasts 30 days instead of 12 hours.
    let r = c
        .post(format!("https://localhost:{}/auth/token", addr.port()))
        .json(&serde_json::json!({"grant_type": "password", "username": "rita", "password": PASSWORD, "remember": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let remembered: Value = r.json().await.unwrap();
    let lasts = |v: &Value| v["refresh_token_expires_in"].as_u64().unwrap();
    assert!(lasts(&remembered) > 29 * 86400, "{remembered}");
    assert!(lasts(&t) <= 12 * 3600, "{t}");

    // Logout ends the session; revoke (RFC 7009) ends another.
    let (_, t) = login(&c, addr, "bob", PASSWORD).await;
    let access = str_of(&t, "access_token").to_string();
    let r = c
        .post(format!("https://localhost:{}/auth/logout", addr.port()))
        .bearer_auth(&access)
        .form(&[("everywhere", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(call(&c, addr, &access).await, (401, "revoked".to_string()));
    assert_eq!(refresh(&c, addr, str_of(&t, "refresh_token")).await.0, 400);
    let (_, t) = login(&c, addr, "carol", PASSWORD).await;
    let (status, _) = post_form(
        &c,
        addr,
        "/auth/revoke",
        &[("token", str_of(&t, "refresh_token"))],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(refresh(&c, addr, str_of(&t, "refresh_token")).await.0, 400);
    let (status, _) = post_form(&c, addr, "/auth/revoke", &[("token", "not-a-token")]).await;
    assert_eq!(status, 200, "RFC 7009: unknown tokens are no error");
    let (status, body) = post_form(
        &c,
        addr,
        "/auth/token",
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, str_of(&body, "error")),
        (400, "unsupported_grant_type")
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn metadata_and_jwks_describe_the_issuer() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &up, "jwt")).await;
    let c = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let meta = get_json(
        &c,
        &format!("{base}/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(meta["issuer"], "https://auth.example.test");
    assert_eq!(
        meta["token_endpoint"],
        "https://auth.example.test/auth/token"
    );
    assert_eq!(
        meta["revocation_endpoint"],
        "https://auth.example.test/auth/revoke"
    );
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["password", "refresh_token"])
    );
    let jwks = get_json(&c, &format!("{base}/.well-known/jwks.json")).await;
    // An independent library verifies an access token against this JWKS.
    let (_, t) = login(&c, gw.main_addr, "dave", PASSWORD).await;
    let job = serde_json::json!({"jwks": jwks, "token": t["access_token"], "issuer": "https://auth.example.test"});
    let out = common::python_job("tests/fixtures/dpop/verify_token.py", &job);
    assert_eq!(out["sub"], "user:dave", "{out}");
    assert_eq!(out["typ"], "at+jwt");
    // The admin listener publishes the same keys (with the assertion's).
    let admin_jwks = format!("http://{}/.well-known/jwks.json", gw.admin_addr);
    let admin = get_json(&reqwest::Client::new(), &admin_jwks).await;
    assert_eq!(admin, jwks);
    // A login declared larger than 16 KiB is refused before its body is awaited.
    let head = b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n";
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        common::raw(&pki, gw.main_addr, head),
    )
    .await
    .expect("answered without waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_file_logins_with_limits_and_no_leaks() {
    let pki = Pki::new();
    let users = pki.path("users.toml");
    let add = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["users", "add", "--file"])
        .arg(&users)
        .args(["erin", "--scope", "read", "--claim", "team=ops"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"erin's passphrase\n")?;
            child.wait()
        })
        .unwrap();
    assert!(add.success());
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        text.contains("$argon2id$") && !text.contains("passphrase"),
        "{text}"
    );
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["users", "list", "--file"])
        .arg(&users)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout), "erin\terin\n");

    let up = Upstream::start().await;
    let cfg = config(&pki, &up, "opaque")
        .set(
            "issuer.verifier",
            inline(&[("users_file", common::path(&users))]),
        )
        .set(
            "issuer.failed_logins",
            inline(&[("per_user", s("1/h")), ("burst", common::n(2))]),
        )
        .set("log.level", s("debug"));
    let path = pki.path("gateway.toml");
    cfg.write(&path);
    let mut gw = Process::spawn(&path);
    let c = pki.client(gw.main_addr, false);
    let addr = gw.main_addr;
    let (status, t) = login(&c, addr, "erin", "erin's passphrase").await;
    assert_eq!(status, 200, "{t}");
    let access = str_of(&t, "access_token");
    assert!(access.starts_with("sgat_"), "opaque format");
    assert_eq!(call(&c, addr, access).await.0, 201);
    assert_eq!(up.last().headers["x-auth-subject"], "erin");
    // An unknown user and a wrong password get the same answer.
    let (s1, wrong) = login(&c, addr, "erin", "guess again").await;
    let (s2, nobody) = login(&c, addr, "nobody", "guess").await;
    assert_eq!((s1, s2), (400, 400));
    assert_eq!(wrong, nobody);
    // A third attempt on the username (burst 2) is locked, right password or not.
    let r = c
        .post(format!("https://localhost:{}/auth/token", addr.port()))
        .form(&[
            ("grant_type", "password"),
            ("username", " Erin"),
            ("password", "erin's passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the limit is on the normalized username");
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Per client IP, failures count whatever the username: the third locks the address.
    assert_eq!(login(&c, addr, "sam", "guess").await.0, 400);
    let (status, body) = login(&c, addr, "uma", "any").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("temporarily_unavailable"))
    );

    // Nothing the client sent as a credential is in the (debug-level) log.
    gw.signal("TERM");
    gw.wait_for(|v| v["message"] == "stopped");
    let log = gw
        .seen
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(log.contains("login"), "the log has the login events");
    for secret in ["erin's passphrase", "guess again", access] {
        assert!(!log.contains(secret), "{secret:?} leaked into the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_sessions_through_redis() {
    let redis = common::RedisServer::start();
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = pki.path("gateway.toml");
    config(&pki, &up, "opaque")
        .table("store", &[("kind", s("redis")), ("url", s(&redis.url()))])
        .set("issuer.dpop", s("optional"))
        .set("authenticators.sessions.dpop", s("optional"))
        .write(&path);
    let (mut a, mut b) = (Process::spawn(&path), Process::spawn(&path));
    a.wait_store_connected();
    b.wait_store_connected();
    let ca = pki.client(a.main_addr, false);
    let cb = pki.client(b.main_addr, false);

    // A session opened on one replica works on the other.
    let (_, t) = login(&ca, a.main_addr, "frank", PASSWORD).await;
    let access = str_of(&t, "access_token").to_string();
    assert_eq!(call(&cb, b.main_addr, &access).await.0, 201);

    // The same refresh token on both replicas at once: exactly one rotates it.
    let token = str_of(&t, "refresh_token").to_string();
    let (ra, rb) = tokio::join!(
        refresh(&ca, a.main_addr, &token),
        refresh(&cb, b.main_addr, &token)
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{ra:?} {rb:?}");
    // The loser presented a spent token: reuse, so the winner's session ends too.
    let winner = if ra.0 == 200 { &ra.1 } else { &rb.1 };
    assert_eq!(
        refresh(&ca, a.main_addr, str_of(winner, "refresh_token"))
            .await
            .0,
        400
    );

    // Revoked on one replica, refused on the other; logout likewise.
    let (_, t) = login(&ca, a.main_addr, "grace", PASSWORD).await;
    let (status, _) = post_form(
        &cb,
        b.main_addr,
        "/auth/revoke",
        &[("token", str_of(&t, "refresh_token"))],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        refresh(&ca, a.main_addr, str_of(&t, "refresh_token"))
            .await
            .0,
        400
    );
    let (_, t) = login(&ca, a.main_addr, "heidi", PASSWORD).await;
    let access = str_of(&t, "access_token").to_string();
    assert_eq!(call(&cb, b.main_addr, &access).await.0, 201);
    let r = ca
        .post(format!(
            "https://localhost:{}/auth/logout",
            a.main_addr.port()
        ))
        .bearer_auth(&access)
        .form(&[("everywhere", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        call(&cb, b.main_addr, &access).await,
        (401, "revoked".to_string())
    );

    // The store holds hashes only: no token, no password.
    let (_, live) = login(&ca, a.main_addr, "ivan", PASSWORD).await;
    let secrets = [
        str_of(&live, "access_token"),
        str_of(&live, "refresh_token"),
        PASSWORD,
    ];
    let keyspace = common::redis_server::keyspace(&redis.url());
    assert!(
        keyspace.iter().any(|(k, _)| k.contains("fam:")),
        "{keyspace:?}"
    );
    for (k, v) in &keyspace {
        for secret in secrets {
            // The refresh token's prefix names its family; its secret part must not appear.
            let tail = &secret[secret.len().saturating_sub(30)..];
            assert!(!k.contains(tail) && !v.contains(tail), "{k}: {v}");
        }
    }

    // A DPoP proof used on one replica is a replay on the other.
    let dpop = |htm: &str, htu: &str, token: Option<&str>| {
        let mut spec = serde_json::json!({"htm": htm, "htu": htu});
        if let Some(t) = token {
            spec["token"] = Value::from(t);
        }
        let out = common::python_job(
            "tests/fixtures/dpop/proof.py",
            &serde_json::json!({"kty": "EC", "proofs": [spec]}),
        );
        (
            out["key"].clone(),
            out["proofs"][0].as_str().unwrap().to_string(),
        )
    };
    let token_url = format!("https://localhost:{}/auth/token", a.main_addr.port());
    let (key, proof) = dpop("POST", &token_url, None);
    let r = ca
        .post(&token_url)
        .header("dpop", proof)
        .form(&[
            ("grant_type", "password"),
            ("username", "judy"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let t: Value = r.json().await.unwrap();
    let access = str_of(&t, "access_token").to_string();
    let job = serde_json::json!({"key": key, "proofs": [{"htm": "GET", "htu": "https://localhost/api/x", "token": access}]});
    let proof = common::python_job("tests/fixtures/dpop/proof.py", &job)["proofs"][0]
        .as_str()
        .unwrap()
        .to_string();
    let send = |c: &reqwest::Client, addr: SocketAddr| {
        c.get(format!("https://localhost:{}/api/x", addr.port()))
            .header("authorization", format!("DPoP {access}"))
            .header("host", "localhost")
            .header("dpop", proof.clone())
            .send()
    };
    // Both replicas see the same htu: the proof names the host without a port.
    let first = send(&ca, a.main_addr).await.unwrap().status().as_u16();
    let second = send(&cb, b.main_addr).await.unwrap();
    assert_eq!(first, 201);
    assert_eq!(second.status(), 401);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["type"], "urn:sealgate:problem:replayed");
}

/// A sealed form POST to the token endpoint, opened: (status, JSON body).
async fn sealed_token(
    c: &reqwest::Client,
    base: &str,
    keys: &[u8],
    form: &[(&str, &str)],
) -> (u16, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut m = bhttp::Message::request(
        b"POST".to_vec(),
        b"https".to_vec(),
        b"localhost".to_vec(),
        b"/auth/token".to_vec(),
    );
    m.put_header("content-type", "application/x-www-form-urlencoded");
    m.write_content(body.as_bytes());
    let inner = common::sealed::sealed(c, base, keys, m)
        .await
        .expect("a sealed answer");
    (
        inner.status,
        serde_json::from_slice(&inner.body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_login_and_refresh_stay_encrypted() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let key = common::sealed::key_file(&pki, 1);
    let cfg = config(&pki, &up, "jwt")
        .set("issuer.sealed", s("required"))
        .array_table(
            "envelope.keys",
            &[
                ("id", common::n(1)),
                ("kem", s("x25519")),
                ("private_key", common::file(&key)),
            ],
        );
    let (gw, _dir) = start_gateway(&cfg).await;
    let c = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let keys = common::sealed::keys_of(&c, &base).await;

    // In the clear, the endpoint refuses (issuer.sealed = "required").
    assert_eq!(login(&c, gw.main_addr, "kim", PASSWORD).await.0, 403);
    let login_form = [
        ("grant_type", "password"),
        ("username", "kim"),
        ("password", PASSWORD),
    ];
    let (status, t) = sealed_token(&c, &base, &keys, &login_form).await;
    assert_eq!(status, 200, "{t}");
    let (status, r) = sealed_token(
        &c,
        &base,
        &keys,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_of(&t, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        call(&c, gw.main_addr, str_of(&r, "access_token")).await.0,
        201
    );
    gw.shutdown().await;
}

/// A route that takes the endpoint's tokens and an IdP's: the unverified
/// `iss` picks the authenticator, in either order.
#[tokio::test]
async fn issued_and_idp_tokens_share_a_route() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let idp = common::idp::Idp::new(&pki);
    let now = sealgate::authn::unix_now();
    let corp = idp.mint(&serde_json::json!({"iss": "https://idp.test", "aud": "api", "sub": "corp-user", "exp": now + 600}));
    for order in [["sessions", "corp"], ["corp", "sessions"]] {
        let cfg = config(&pki, &up, "jwt")
            .authenticator(
                "corp",
                "jwt",
                &[
                    ("issuer", s("https://idp.test")),
                    ("audiences", common::list(&["api"])),
                    ("algorithms", common::list(&["EdDSA"])),
                    ("keys", common::file(&idp.public)),
                ],
            )
            .route(Route::new("both", "/both", "app").auth(&order));
        let (gw, _dir) = start_gateway(&cfg).await;
        let c = pki.client(gw.main_addr, false);
        let (_, t) = login(&c, gw.main_addr, "lena", PASSWORD).await;
        for (token, subject) in [
            (str_of(&t, "access_token"), "user:lena"),
            (corp.as_str(), "corp-user"),
        ] {
            let r = c
                .get(format!("https://localhost:{}/both/x", gw.main_addr.port()))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{order:?} {subject}");
            assert_eq!(up.last().headers["x-auth-subject"], subject);
        }
        gw.shutdown().await;
    }
}

/// The idle timeout and the absolute lifetime end a session, whatever its
/// use: the session record is aged in the store instead of waiting.
#[tokio::test]
async fn idle_and_expired_sessions_end() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &up, "jwt")).await;
    let c = pki.client(gw.main_addr, false);
    let store = gw.state.gateway.load().store.clone();
    let metrics = gw.state.metrics.clone();
    let now = sealgate::authn::unix_now();
    for (user, age) in [("ida", "idle"), ("exa", "expired")] {
        let (_, t) = login(&c, gw.main_addr, user, PASSWORD).await;
        let token = str_of(&t, "refresh_token").to_string();
        let fid = &token["sgrt_".len().."sgrt_".len() + 32];
        let (mut family, _) = store.family(fid, &metrics).await.unwrap().unwrap();
        match age {
            "idle" => family.last_used = now - 7 * 86400 - 1,
            _ => family.expires_at = now,
        }
        store.put_family(fid, &family, now, &metrics).await.unwrap();
        let (status, body) = refresh(&c, gw.main_addr, &token).await;
        assert_eq!(
            (status, str_of(&body, "error")),
            (400, "invalid_grant"),
            "{age}"
        );
    }
    let m = common::scrape_metrics(gw.admin_addr).await;
    for outcome in ["session_idle", "session_expired"] {
        assert!(
            m.contains(&format!(r#"outcome="{outcome}"}} 1"#)),
            "{outcome}: {m}"
        );
    }
    gw.shutdown().await;
}

/// Reuse is detected at any age: a token replaced 40 rotations ago still
/// ends the session, while a forged token that only names the session (its
/// id is in every access token) is refused and ends nothing.
#[tokio::test]
async fn reuse_of_an_old_refresh_token_ends_the_session_a_forged_one_does_not() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &up, "jwt")).await;
    let c = pki.client(gw.main_addr, false);
    let (_, t) = login(&c, gw.main_addr, "olga", PASSWORD).await;
    let first = str_of(&t, "refresh_token").to_string();
    let mut latest = first.clone();
    for _ in 0..40 {
        let (status, next) = refresh(&c, gw.main_addr, &latest).await;
        assert_eq!(status, 200, "{next}");
        latest = str_of(&next, "refresh_token").to_string();
    }
    // Same session, generation 3, a well-formed token (valid checksum) whose
    // generation MAC is made up.
    let fid = &first["sgrt_".len().."sgrt_".len() + 32];
    let prefix = format!("sgrt_{fid}_3_{}_", "0".repeat(32));
    let (forged, _, _) = sealgate::authn::api_key::generate(&prefix).unwrap();
    assert_eq!(refresh(&c, gw.main_addr, &forged).await.0, 400);
    let (status, still) = refresh(&c, gw.main_addr, &latest).await;
    assert_eq!(status, 200, "a forged token ends nothing: {still}");
    latest = str_of(&still, "refresh_token").to_string();

    let (status, _) = refresh(&c, gw.main_addr, &first).await;
    assert_eq!(status, 400);
    assert_eq!(
        refresh(&c, gw.main_addr, &latest).await.0,
        400,
        "the session ended"
    );
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(m.contains(r#"outcome="refresh_reused"} 1"#), "{m}");
    gw.shutdown().await;
}
