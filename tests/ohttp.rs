//! Oblivious HTTP end to end, with the independent `ohttp` crate as the client.

mod common;

use common::sealed::{encapsulate, key_file, keys_of, post, sealed};
use common::{boolean, file, list, n, s, start_gateway, Config, Pki, Route, Upstream};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn signer(pki: &Pki) -> (EncodingKey, std::path::PathBuf) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let public = pki.path("ed.pub.pem");
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    (
        EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).unwrap(),
        public,
    )
}

fn token(key: &EncodingKey) -> String {
    let now = sealgate::authn::unix_now();
    let claims = json!({"iss": "https://issuer.test", "aud": "api", "sub": "alice", "iat": now, "exp": now + 600});
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, key).unwrap()
}

/// Three routes (sealed only, either, plain) and one `[[envelope.keys]]` entry
/// per `(id, private key file, state)` in `keys`.
fn config(
    pki: &Pki,
    up: &Upstream,
    public: &std::path::Path,
    keys: &[(u8, &std::path::Path, &str)],
) -> Config {
    let mut cfg = Config::new(pki)
        .upstream("app", &up.url())
        .authenticator(
            "ed",
            "jwt",
            &[
                ("issuer", s("https://issuer.test")),
                ("audiences", list(&["api"])),
                ("algorithms", list(&["EdDSA"])),
                ("keys", file(public)),
            ],
        )
        .route(
            Route::new("sealed", "/sealed", "app")
                .auth(&["ed"])
                .extra(&[("sealed", s("required")), ("replay_window", s("60s"))]),
        )
        .route(
            Route::new("either", "/either", "app")
                .auth(&["ed"])
                .extra(&[("sealed", s("optional"))]),
        )
        .route(Route::new("plain", "/plain", "app").anonymous())
        .set("reload.watch", boolean(false));
    for (id, path, state) in keys {
        cfg = cfg.array_table(
            "envelope.keys",
            &[
                ("id", n((*id).into())),
                ("kem", s("x25519")),
                ("private_key", file(path)),
                ("state", s(state)),
            ],
        );
    }
    cfg
}

/// A gateway with one active X25519 key, a client, and the published key list.
struct OneKey {
    _pki: Pki,
    up: Upstream,
    sign: EncodingKey,
    gw: sealgate::app::Running,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
    base: String,
    keys: Vec<u8>,
}

async fn one_key_gateway() -> OneKey {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (sign, public) = signer(&pki);
    let k1 = key_file(&pki, 1);
    let toml = config(&pki, &up, &public, &[(1, &k1, "active")]);
    let (gw, dir) = start_gateway(&toml).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let keys = keys_of(&client, &base).await;
    OneKey {
        _pki: pki,
        up,
        sign,
        gw,
        _dir: dir,
        client,
        base,
        keys,
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: &[u8]) -> bhttp::Message {
    let mut m = bhttp::Message::request(
        method.into(),
        b"https".to_vec(),
        b"localhost".to_vec(),
        path.into(),
    );
    if let Some(t) = token {
        m.put_header("authorization", format!("Bearer {t}"));
    }
    m.put_header(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    m.put_header("x-auth-subject", "mallory");
    m.write_content(body);
    m
}

#[tokio::test]
async fn sealed_requests_reach_the_upstream_and_answers_come_back_sealed() {
    let OneKey {
        up,
        sign,
        gw,
        client,
        base,
        keys,
        ..
    } = one_key_gateway().await;
    let t = token(&sign);

    let get = sealed(
        &client,
        &base,
        &keys,
        request("GET", "/sealed/items?x=1", Some(&t), b""),
    )
    .await
    .unwrap();
    assert_eq!(get.status, 201);
    assert_eq!(get.body, b"ok");
    assert!(get
        .headers
        .iter()
        .any(|(k, v)| k == "x-upstream" && v == "yes"));
    let seen = up.last();
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str()),
        ("GET", "/sealed/items?x=1")
    );
    assert_eq!(
        seen.headers["x-auth-subject"], "alice",
        "identity is stripped and replaced inside envelopes too"
    );
    assert!(!seen.headers.contains_key("authorization"));

    const SECRET: &[u8] = b"the-plaintext-body-never-seen-on-the-wire";
    let post_body = sealed(
        &client,
        &base,
        &keys,
        request("POST", "/sealed/orders", Some(&t), SECRET),
    )
    .await
    .unwrap();
    assert_eq!(post_body.status, 201);
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, SECRET.len() as u64);

    // What travels to the gateway is ciphertext only.
    let (envelope, _) = encapsulate(&keys, request("POST", "/sealed/orders", Some(&t), SECRET));
    assert!(!envelope.windows(SECRET.len()).any(|w| w == SECRET));
    assert!(!envelope.windows(t.len()).any(|w| w == t.as_bytes()));

    // Failures after opening are sealed: an invalid inner token is a sealed 401.
    let bad = sealed(
        &client,
        &base,
        &keys,
        request("GET", "/sealed/items", Some("e30.e30.AAAA"), b""),
    )
    .await
    .unwrap();
    assert_eq!(bad.status, 401);
    assert!(bad
        .headers
        .iter()
        .any(|(k, v)| k == "www-authenticate" && v.contains("invalid_token")));
    // An inner request to a route that does not take sealed requests is refused inside the envelope.
    let off = sealed(&client, &base, &keys, request("GET", "/plain/x", None, b""))
        .await
        .unwrap();
    assert_eq!(off.status, 403);
    // A plaintext request to a sealed-only route is refused.
    let plain = client
        .get(format!("{base}/sealed/items"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 403);
    let p: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(p["type"], "urn:sealgate:problem:sealed_required");
    // Optional routes take both.
    assert_eq!(
        client
            .get(format!("{base}/either/x"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        sealed(
            &client,
            &base,
            &keys,
            request("GET", "/either/x", Some(&t), b"")
        )
        .await
        .unwrap()
        .status,
        201
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn broken_envelopes_are_refused_in_the_clear_and_reach_nothing() {
    let OneKey {
        up,
        sign,
        gw,
        client,
        base,
        keys,
        ..
    } = one_key_gateway().await;
    let (good, _) = encapsulate(&keys, request("GET", "/sealed/x", Some(&token(&sign)), b""));

    let mut unknown = good.clone();
    unknown[0] = 77;
    let resp = post(&client, &base, unknown).await;
    assert_eq!(resp.status(), 400);
    let p: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(p["type"], sealgate::envelope::KEY_PROBLEM_TYPE);

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let mut random = vec![1u8, 0, 0x20, 0, 1, 0, 1];
    random.extend((0..200u32).map(|i| (i * 7919 % 251) as u8));
    for bad in [
        good[..good.len() / 2].to_vec(),
        flipped,
        random,
        vec![],
        vec![1],
    ] {
        let resp = post(&client, &base, bad).await;
        assert_eq!(resp.status(), 400);
    }
    let resp = client
        .post(format!("{base}/.well-known/ohttp-gateway"))
        .header("content-type", "message/ohttp-req")
        .body(vec![0u8; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(
        up.requests().is_empty(),
        "a broken envelope reached the upstream"
    );
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(
        m.contains("sealgate_envelope_failures_total{reason=\"unknown_key\"} 1"),
        "{m}"
    );
    gw.shutdown().await;
}

/// An envelope declared larger than `envelope.max_size` is refused before a
/// byte of it is awaited: a client that never sends the body holds nothing.
#[tokio::test]
async fn declared_oversized_envelopes_are_refused_at_once() {
    let OneKey { gw, _pki: pki, .. } = one_key_gateway().await;
    let request = b"POST /.well-known/ohttp-gateway HTTP/1.1\r\nHost: localhost\r\nContent-Type: message/ohttp-req\r\nContent-Length: 100000000\r\n\r\n";
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        common::raw(&pki, gw.main_addr, request),
    )
    .await
    .expect("answered without waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    gw.shutdown().await;
}

/// The Binary HTTP content is the body: an inner `content-length` that
/// disagrees, or a `transfer-encoding`, is a sealed 400 that reaches nothing.
#[tokio::test]
async fn inner_framing_must_agree_with_the_content() {
    let OneKey {
        up,
        sign,
        gw,
        client,
        base,
        keys,
        ..
    } = one_key_gateway().await;
    let with = |name: &str, value: &str| {
        let mut m = request("POST", "/either/x", Some(&token(&sign)), b"abc");
        m.put_header(name, value);
        m
    };
    for (name, value) in [
        ("content-length", "10"),
        ("content-length", "2"),
        ("transfer-encoding", "chunked"),
    ] {
        let inner = sealed(&client, &base, &keys, with(name, value))
            .await
            .unwrap();
        assert_eq!(inner.status, 400, "{name}: {value}");
    }
    assert!(up.requests().is_empty(), "{:?}", up.requests());
    let inner = sealed(&client, &base, &keys, with("content-length", "3"))
        .await
        .unwrap();
    assert_eq!(inner.status, 201);
    assert_eq!(up.last().body, b"abc");
    gw.shutdown().await;
}

#[tokio::test]
async fn replayed_envelopes_are_refused_sealed() {
    let OneKey {
        up,
        sign,
        gw,
        client,
        base,
        keys,
        ..
    } = one_key_gateway().await;
    let (envelope, opener) = encapsulate(
        &keys,
        request("POST", "/sealed/pay", Some(&token(&sign)), b"once"),
    );
    let first = post(&client, &base, envelope.clone()).await;
    assert_eq!(first.status(), 200);
    let opened = opener.decapsulate(&first.bytes().await.unwrap()).unwrap();
    let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&opened[..])).unwrap();
    assert_eq!(msg.control().status().unwrap().code(), 201);
    // The same bytes again: answered (sealed, so only the client can read it), never forwarded.
    let again = post(&client, &base, envelope).await;
    assert_eq!(again.status(), 200);
    assert_eq!(up.requests().len(), 1, "the replay reached the upstream");
    // A stale Date is refused too.
    let mut stale = bhttp::Message::request(
        b"GET".to_vec(),
        b"https".to_vec(),
        b"localhost".to_vec(),
        b"/sealed/x".to_vec(),
    );
    stale.put_header("authorization", format!("Bearer {}", token(&sign)));
    stale.put_header("date", "Wed, 21 Oct 2015 07:28:00 GMT");
    let inner = sealed(&client, &base, &keys, stale).await.unwrap();
    assert_eq!(inner.status, 400);
    gw.shutdown().await;
}

#[tokio::test]
async fn key_rotation_through_reload() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (sign, public) = signer(&pki);
    let (k1, k2) = (key_file(&pki, 1), key_file(&pki, 2));
    let (gw, dir) = start_gateway(&config(&pki, &up, &public, &[(1, &k1, "active")])).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let old_keys = keys_of(&client, &base).await;
    let file = dir.path().join("gateway.toml");

    // Key 2 becomes active; key 1 is retiring: still accepted, no longer published.
    config(
        &pki,
        &up,
        &public,
        &[(1, &k1, "retiring"), (2, &k2, "active")],
    )
    .write(&file);
    gw.reload().unwrap();
    let new_keys = keys_of(&client, &base).await;
    assert_eq!(new_keys[2], 2, "only key 2 is published");
    assert_eq!(
        u16::from_be_bytes([new_keys[0], new_keys[1]]) as usize + 2,
        new_keys.len()
    );
    let t = token(&sign);
    assert_eq!(
        sealed(
            &client,
            &base,
            &old_keys,
            request("GET", "/sealed/a", Some(&t), b"")
        )
        .await
        .unwrap()
        .status,
        201
    );
    assert_eq!(
        sealed(
            &client,
            &base,
            &new_keys,
            request("GET", "/sealed/b", Some(&t), b"")
        )
        .await
        .unwrap()
        .status,
        201
    );

    // Key 1 removed: a request sealed to it gets the key-configuration problem.
    config(&pki, &up, &public, &[(2, &k2, "active")]).write(&file);
    gw.reload().unwrap();
    let err = sealed(
        &client,
        &base,
        &old_keys,
        request("GET", "/sealed/c", Some(&t), b""),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.0, 400);
    assert!(err.1.contains(sealgate::envelope::KEY_PROBLEM_TYPE));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_and_the_ohttp_request_command() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (sign, public) = signer(&pki);
    let bin = env!("CARGO_BIN_EXE_sealgate");
    let out = std::process::Command::new(bin)
        .args(["keygen", "ohttp", "--key-id", "7", "--out"])
        .arg(pki.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("key configuration (hex): 070020"),
        "{printed}"
    );
    let key = pki.path("ohttp-7.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (gw, _d) = start_gateway(&config(&pki, &up, &public, &[(7, &key, "active")])).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let t = token(&sign);
    let run = std::process::Command::new(bin)
        .args([
            "ohttp",
            "request",
            "-i",
            "--keys",
            &format!("{base}/.well-known/ohttp-gateway"),
            "--cacert",
        ])
        .arg(pki.path("ca.pem"))
        .args([
            "-H",
            &format!("Authorization: Bearer {t}"),
            "-d",
            "sealed hello",
        ])
        .arg(format!("{base}/sealed/cli"))
        .output();
    let run = tokio::task::spawn_blocking(move || run)
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("HTTP 201"), "{stdout}");
    assert!(stdout.ends_with("ok"), "{stdout}");
    let seen = up.last();
    assert_eq!(
        (seen.method.as_str(), seen.uri.as_str(), seen.body_len),
        ("POST", "/sealed/cli", 12)
    );
    assert_eq!(seen.headers["x-auth-subject"], "alice");

    // --emit writes freshly sealed envelopes for load generators; each opens.
    let file = pki.path("envelopes.txt");
    let emitted = std::process::Command::new(bin)
        .args([
            "ohttp",
            "request",
            "--keys",
            &format!("{base}/.well-known/ohttp-gateway"),
            "--cacert",
        ])
        .arg(pki.path("ca.pem"))
        .args(["--emit"])
        .arg(&file)
        .args(["--count", "3", "-H", &format!("Authorization: Bearer {t}")])
        .arg(format!("{base}/sealed/emitted"))
        .output()
        .unwrap();
    assert!(
        emitted.status.success(),
        "{}",
        String::from_utf8_lossy(&emitted.stderr)
    );
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0] != lines[1] && lines[1] != lines[2],
        "envelopes repeat"
    );
    let client = pki.client(gw.main_addr, false);
    let before = up.requests().len();
    for line in &lines {
        let resp = post(&client, &base, hex::decode(line).unwrap()).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "message/ohttp-res");
    }
    assert_eq!(up.requests().len(), before + 3);
    assert_eq!(up.last().uri, "/sealed/emitted");
    gw.shutdown().await;
}
