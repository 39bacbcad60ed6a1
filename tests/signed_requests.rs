//! Signed requests end to end, over real TLS, signed by independent
//! implementations (Python http-message-signatures and oauthlib, through
//! tests/fixtures/signed/sign.py): RFC 9421 with every algorithm and a
//! Content-Digest checked as the body streams, OAuth 1.0a from header, query
//! and form body, replay and downgrade refusals, a response signature that an
//! independent verifier accepts, and the credentials file's sealed secrets.

mod common;

use common::{
    boolean, file, list, s, start_gateway, Config, Pki, Process, RedisServer, Route, Upstream,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/vectors/rfc9421-keys"
);

/// Runs the independent signer (or verifier) on one job.
fn independent(job: Value) -> Value {
    common::python_job("tests/fixtures/signed/sign.py", &job)
}

/// `sealgate credentials ...` with the KEK in SEALGATE_KEK; (exit code, stdout, stderr).
fn cli(args: &[&str], kek: &str, stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .arg("credentials")
        .args(args)
        .env("SEALGATE_KEK", kek)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

fn new_kek() -> String {
    let (code, out, _) = cli(&["new-kek"], "", None);
    assert_eq!(code, 0);
    out.trim().to_string()
}

fn add(file: &Path, kek: &str, extra: &[&str], stdin: Option<&str>) -> String {
    let f = file.to_str().unwrap();
    let mut args = vec!["add", "--file", f, "--kek", "env:SEALGATE_KEK"];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(&args, kek, stdin);
    assert_eq!(code, 0, "credentials add {extra:?}: {err}");
    out.trim().to_string()
}

/// RFC 9421 Appendix B, with the B.1 keys as JWKs.
fn rfc9421_vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/rfc9421-appendix-b.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
}

struct Keys {
    hmac_secret: String,
    kek: String,
    file: PathBuf,
}

/// An RFC 9421 credentials file: an HMAC partner (generated secret) and one
/// partner per public-key algorithm, with the RFC 9421 B.1 keys.
fn signature_credentials(pki: &Pki) -> Keys {
    let kek = new_kek();
    let path = pki.path("signers.toml");
    let hmac_secret = add(
        &path,
        &kek,
        &[
            "--id",
            "hmac-partner",
            "--alg",
            "hmac-sha256",
            "--scopes",
            "orders:read",
            "--claim",
            "tenant=acme",
        ],
        None,
    );
    for (id, alg, key) in [
        ("ed-partner", "ed25519", "test-key-ed25519.pub.pem"),
        (
            "ec-partner",
            "ecdsa-p256-sha256",
            "test-key-ecc-p256.pub.pem",
        ),
        ("pss-partner", "rsa-pss-sha512", "test-key-rsa-pss.pub.pem"),
        ("rsa-partner", "rsa-v1_5-sha256", "test-key-rsa.pub.pem"),
    ] {
        let key = format!("{VECTORS}/{key}");
        add(
            &path,
            &kek,
            &[
                "--id",
                id,
                "--alg",
                alg,
                "--scopes",
                "orders:read",
                "--public-key",
                &key,
            ],
            None,
        );
    }
    Keys {
        hmac_secret,
        kek,
        file: path,
    }
}

fn kek_file(pki: &Pki, kek: &str) -> PathBuf {
    let p = pki.path("kek");
    std::fs::write(&p, kek).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn signature_config(pki: &Pki, up: &Upstream, keys: &Keys) -> Config {
    let kek = kek_file(pki, &keys.kek);
    Config::new(pki)
        .upstream("app", &up.url())
        .authenticator(
            "partners",
            "http-signature",
            &[
                ("credentials", s(keys.file.to_str().unwrap())),
                ("kek", file(&kek)),
            ],
        )
        .authenticator(
            "buffered",
            "http-signature",
            &[
                ("credentials", s(keys.file.to_str().unwrap())),
                ("kek", file(&kek)),
                ("verify_body", s("buffer")),
                ("require_nonce", boolean(true)),
                ("sign_responses", boolean(true)),
            ],
        )
        .route(
            Route::new("orders", "/orders", "app")
                .auth(&["partners"])
                .extra(&[("require.scopes", list(&["orders:read"]))]),
        )
        .route(Route::new("strict", "/strict", "app").auth(&["buffered"]))
        .table(
            "identity",
            &[
                ("claims", common::inline(&[("tenant", s("x-auth-tenant"))])),
                ("assertion.key", file(pki.path("assertion.pem"))),
                ("assertion.dev_generate", boolean(true)),
            ],
        )
}

const COMPONENTS: [&str; 5] = ["@method", "@authority", "@path", "@query", "content-digest"];

fn job(
    port: u16,
    path: &str,
    keyid: &str,
    alg: &str,
    keys: &Keys,
    nonce: &str,
    body: &str,
) -> Value {
    let mut j = json!({
        "proto": "rfc9421", "method": "POST",
        "url": format!("https://localhost:{port}{path}"),
        "headers": {"content-type": "application/json"},
        "body": body, "keyid": keyid, "alg": alg, "nonce": nonce,
        "components": COMPONENTS,
    });
    match alg {
        "hmac-sha256" => j["secret_b64"] = json!(keys.hmac_secret),
        "ed25519" => j["private_pem"] = json!(pem("test-key-ed25519.priv.pem")),
        "ecdsa-p256-sha256" => j["private_pem"] = json!(pem("test-key-ecc-p256.priv.pem")),
        "rsa-pss-sha512" => j["private_pem"] = json!(pem("test-key-rsa-pss.priv.pem")),
        _ => j["private_pem"] = json!(pem("test-key-rsa.priv.pem")),
    }
    j
}

/// Sends a request with the signer's headers and `body`: (status, problem type suffix, response).
async fn send(
    c: &reqwest::Client,
    port: u16,
    path: &str,
    signed: &Value,
    body: &str,
) -> (u16, String, reqwest::Response) {
    let url = format!("https://localhost:{port}{path}");
    post(c, &url, &signed["headers"], Some(body)).await
}

/// POSTs with the signer's headers: (status, WWW-Authenticate, response).
async fn post(
    c: &reqwest::Client,
    url: &str,
    headers: &Value,
    body: Option<&str>,
) -> (u16, String, reqwest::Response) {
    let mut req = c.post(url);
    for (k, v) in headers.as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, www, r)
}

async fn reason(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap_or(Value::Null);
    v["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("urn:sealgate:problem:")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9421_signatures_from_an_independent_signer_verify_and_bad_ones_are_refused() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let keys = signature_credentials(&pki);
    let (gw, _d) = start_gateway(&signature_config(&pki, &up, &keys)).await;
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);
    let body = r#"{"order": 42}"#;

    for (i, (id, alg)) in [
        ("hmac-partner", "hmac-sha256"),
        ("ed-partner", "ed25519"),
        ("ec-partner", "ecdsa-p256-sha256"),
        ("pss-partner", "rsa-pss-sha512"),
        ("rsa-partner", "rsa-v1_5-sha256"),
    ]
    .iter()
    .enumerate()
    {
        let signed = independent(job(
            port,
            "/orders?page=2",
            id,
            alg,
            &keys,
            &format!("n-{i}"),
            body,
        ));
        let (status, _, r) = send(&c, port, "/orders?page=2", &signed, body).await;
        assert_eq!(status, 201, "{alg}: {}", reason(r).await);
        let seen = up.last();
        assert_eq!(seen.headers["x-auth-subject"], *id, "{alg}");
        assert!(
            seen.headers.get("signature").is_none()
                && seen.headers.get("signature-input").is_none()
        );
        assert!(
            seen.complete && seen.body == body.as_bytes(),
            "{alg}: the body arrives intact"
        );
        if *alg == "hmac-sha256" {
            assert_eq!(
                seen.headers["x-auth-tenant"], "acme",
                "configured claims are forwarded"
            );
        }
        assert!(
            seen.headers.get("x-sealgate-assertion").is_some(),
            "{alg}: the signed assertion is forwarded"
        );
    }

    let refused =
        |name: &'static str, want_status: u16, want: &'static str| (name, want_status, want);
    let cases = [
        // The same signed request twice: its nonce was used.
        refused("replay", 401, "replayed"),
        refused("stale", 401, "stale"),
        refused("unknown key", 401, "unknown_kid"),
        refused("downgrade", 401, "alg_not_allowed"),
        refused("uncovered query", 401, "missing_component"),
        refused("altered path", 401, "bad_signature"),
    ];
    for (name, want_status, want) in cases {
        let before = up.requests().len();
        let mut j = job(
            port,
            "/orders?page=2",
            "hmac-partner",
            "hmac-sha256",
            &keys,
            &format!("case-{name}"),
            body,
        );
        let mut path = "/orders?page=2";
        match name {
            "replay" => {
                let signed = independent(j.clone());
                let (status, _, _) = send(&c, port, path, &signed, body).await;
                assert_eq!(status, 201);
            }
            "stale" => j["created_offset"] = json!(-1000),
            "unknown key" => j["keyid"] = json!("nobody"),
            // Signed with HMAC under the Ed25519 partner's id (its key is public!).
            "downgrade" => j["keyid"] = json!("ed-partner"),
            "uncovered query" => {
                j["components"] = json!(["@method", "@authority", "@path", "content-digest"])
            }
            _ => path = "/orders?page=3",
        }
        let signed = independent(j);
        let (status, www, r) = send(&c, port, path, &signed, body).await;
        assert_eq!(
            (status, reason(r).await.as_str()),
            (want_status, want),
            "{name}"
        );
        assert!(www.starts_with("Signature realm="), "{name}: {www}");
        let after = up.requests().len() - usize::from(name == "replay");
        assert_eq!(
            after, before,
            "{name}: a refused request never reaches the upstream"
        );
    }

    // A tampered body: 400, and the upstream never gets a complete body.
    let signed = independent(job(
        port,
        "/orders",
        "hmac-partner",
        "hmac-sha256",
        &keys,
        "tamper",
        body,
    ));
    let (status, _, r) = send(&c, port, "/orders", &signed, r#"{"order": 43}"#).await;
    assert_eq!((status, reason(r).await.as_str()), (400, "digest_mismatch"));
    assert!(
        !up.requests()
            .iter()
            .any(|r| r.complete && r.body == br#"{"order": 43}"#),
        "a tampered body never arrives whole"
    );

    // Buffered verification: the upstream sees nothing at all.
    let before = up.requests().len();
    let signed = independent(job(
        port,
        "/strict",
        "ed-partner",
        "ed25519",
        &keys,
        "strict-1",
        body,
    ));
    let (status, _, r) = send(&c, port, "/strict", &signed, r#"{"order": 44}"#).await;
    assert_eq!((status, reason(r).await.as_str()), (400, "digest_mismatch"));
    assert_eq!(up.requests().len(), before);
    // The same route without a nonce: required there.
    let mut j = job(port, "/strict", "ed-partner", "ed25519", &keys, "x", body);
    j.as_object_mut().unwrap().remove("nonce");
    let (status, _, r) = send(&c, port, "/strict", &independent(j), body).await;
    assert_eq!(
        (status, reason(r).await.as_str()),
        (401, "missing_component")
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_signature_verifies_with_an_independent_verifier() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let keys = signature_credentials(&pki);
    let (gw, _d) = start_gateway(&signature_config(&pki, &up, &keys)).await;
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);
    let body = r#"{"order": 7}"#;
    let signed = independent(job(
        port,
        "/strict",
        "ec-partner",
        "ecdsa-p256-sha256",
        &keys,
        "resp-1",
        body,
    ));
    let (status, _, r) = send(&c, port, "/strict", &signed, body).await;
    assert_eq!(status, 201);
    let mut headers = serde_json::Map::new();
    for (k, v) in r.headers() {
        headers.insert(k.as_str().to_string(), json!(v.to_str().unwrap()));
    }
    let answer = r.text().await.unwrap();
    let jwks: Value = reqwest::get(format!("http://{}/.well-known/jwks.json", gw.admin_addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut request_headers = signed["headers"].clone();
    request_headers["content-length"] = json!(body.len().to_string());
    let verify = |answer: &str| {
        independent(json!({
            "proto": "verify-response", "status": 201, "headers": headers, "body": answer,
            "jwks": jwks, "alg": "ed25519",
            "request": {"method": "POST", "url": format!("https://localhost:{port}/strict"), "headers": request_headers},
            "require": ["@status", "content-digest", "\"signature\";req;key=\"sig1\""],
        }))
    };
    let ok = verify(&answer);
    assert_eq!(ok["ok"], true, "{ok}");
    let altered = verify("changed");
    assert_eq!(altered["ok"], false, "an altered body must not verify");
    gw.shutdown().await;
}

fn oauth_config(pki: &Pki, up: &Upstream, creds: &Path, kek: &str, redis: Option<&str>) -> Config {
    let kek = kek_file(pki, kek);
    let mut cfg = Config::new(pki);
    if let Some(url) = redis {
        cfg = cfg.table("store", &[("kind", s("redis")), ("url", s(url))]);
    }
    cfg.upstream("app", &up.url())
        .authenticator(
            "legacy",
            "oauth1",
            &[
                ("credentials", s(creds.to_str().unwrap())),
                ("kek", file(&kek)),
                ("realm", s("partners")),
            ],
        )
        .route(Route::new("legacy", "/legacy", "app").auth(&["legacy"]))
}

/// An OAuth 1.0a credentials file: an HMAC consumer (secret imported from
/// stdin, as a partner's existing one would be) and an RSA consumer.
fn oauth_credentials(pki: &Pki) -> (PathBuf, String) {
    let kek = new_kek();
    let path = pki.path("consumers.toml");
    add(
        &path,
        &kek,
        &[
            "--id",
            "consumer-1",
            "--alg",
            "HMAC-SHA1,HMAC-SHA256",
            "--name",
            "Acme",
            "--secret-stdin",
        ],
        Some("kd94hf93k423kf44-partner-secret\n"),
    );
    let key = format!("{VECTORS}/test-key-rsa.pub.pem");
    add(
        &path,
        &kek,
        &[
            "--id",
            "consumer-rsa",
            "--alg",
            "RSA-SHA256,RSA-SHA1",
            "--public-key",
            &key,
        ],
        None,
    );
    (path, kek)
}

fn oauth_job(port: u16, path: &str, method_name: &str, placement: &str) -> Value {
    let mut j = json!({
        "proto": "oauth1", "method": "POST",
        "url": format!("https://localhost:{port}{path}"),
        "consumer_key": "consumer-1", "secret": "kd94hf93k423kf44-partner-secret",
        "method_name": method_name, "placement": placement, "realm": "partners",
    });
    if method_name.starts_with("RSA") {
        j["consumer_key"] = json!("consumer-rsa");
        j["private_pem"] = json!(pem("test-key-rsa.priv.pem"));
    }
    j
}

async fn send_oauth(c: &reqwest::Client, signed: &Value) -> (u16, String, String) {
    let url = signed["url"].as_str().unwrap();
    let (status, www, r) = post(c, url, &signed["headers"], signed["body"].as_str()).await;
    (status, www, reason(r).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_requests_from_oauthlib_verify_from_header_query_and_form_body() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (creds, kek) = oauth_credentials(&pki);
    let (gw, _d) = start_gateway(&oauth_config(&pki, &up, &creds, &kek, None)).await;
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);

    for (method, placement) in [
        ("HMAC-SHA1", "header"),
        ("HMAC-SHA256", "query"),
        ("RSA-SHA256", "header"),
        ("RSA-SHA1", "query"),
    ] {
        let signed = independent(oauth_job(
            port,
            "/legacy/items?color=blue&size=m",
            method,
            placement,
        ));
        let (status, _, why) = send_oauth(&c, &signed).await;
        assert_eq!(status, 201, "{method} in {placement}: {why}");
        let seen = up.last();
        let expected = if method.starts_with("RSA") {
            "consumer-rsa"
        } else {
            "consumer-1"
        };
        assert_eq!(seen.headers["x-auth-subject"], expected);
        assert!(
            !seen.uri.contains("oauth_"),
            "{method}: oauth_* query parameters are removed: {}",
            seen.uri
        );
        assert!(seen.uri.contains("color=blue&size=m"), "{}", seen.uri);
        assert!(seen.headers.get("authorization").is_none());
    }

    // Form body: verified from the body, which arrives unchanged.
    let mut j = oauth_job(port, "/legacy/form", "HMAC-SHA1", "body");
    j["body"] = json!("amount=10&currency=EUR&note=caf%C3%A9+au+lait");
    j["headers"] = json!({"Content-Type": "application/x-www-form-urlencoded"});
    let signed = independent(j);
    let (status, _, why) = send_oauth(&c, &signed).await;
    assert_eq!(status, 201, "form body: {why}");
    assert_eq!(
        up.last().body,
        signed["body"].as_str().unwrap().as_bytes(),
        "the form body arrives intact"
    );

    // Before authentication at most 1 MiB of a form is read: larger is 413.
    let big = format!("x={}", "a".repeat(1 << 20));
    let r = c
        .post(format!("https://localhost:{port}/legacy/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), reason(r).await.as_str()),
        (413, "body_too_large")
    );

    // oauthlib adds oauth_body_hash (SHA-1) over a JSON body; a changed body is refused with 400.
    let mut j = oauth_job(port, "/legacy/json", "HMAC-SHA256", "header");
    j["body"] = json!(r#"{"amount": 10}"#);
    j["headers"] = json!({"Content-Type": "application/json"});
    let signed = independent(j);
    let (status, _, why) = send_oauth(&c, &signed).await;
    assert_eq!(status, 201, "body hash: {why} {signed}");
    let mut j = oauth_job(port, "/legacy/json", "HMAC-SHA256", "header");
    j["body"] = json!(r#"{"amount": 10}"#);
    j["headers"] = json!({"Content-Type": "application/json"});
    let mut tampered = independent(j);
    tampered["body"] = json!(r#"{"amount": 99}"#);
    let (status, _, why) = send_oauth(&c, &tampered).await;
    assert_eq!((status, why.as_str()), (400, "digest_mismatch"));

    // Refusals: replayed nonce, stale timestamp, unknown consumer, PLAINTEXT.
    let signed = independent(oauth_job(port, "/legacy/a", "HMAC-SHA1", "header"));
    assert_eq!(send_oauth(&c, &signed).await.0, 201);
    let before = up.requests().len();
    let (status, www, why) = send_oauth(&c, &signed).await;
    assert_eq!((status, why.as_str()), (401, "replayed"));
    assert_eq!(
        www,
        "OAuth realm=\"partners\", oauth_problem=\"nonce_used\""
    );
    let mut j = oauth_job(port, "/legacy/a", "HMAC-SHA1", "header");
    j["timestamp"] = json!(1_000_000_000);
    let (status, www, why) = send_oauth(&c, &independent(j)).await;
    assert_eq!((status, why.as_str()), (401, "stale"));
    assert!(www.contains("timestamp_refused"), "{www}");
    let mut j = oauth_job(port, "/legacy/a", "HMAC-SHA1", "header");
    j["consumer_key"] = json!("nobody");
    assert_eq!(send_oauth(&c, &independent(j)).await.2, "unknown_kid");
    let mut j = oauth_job(port, "/legacy/a", "PLAINTEXT", "header");
    j["method_name"] = json!("PLAINTEXT");
    assert_eq!(send_oauth(&c, &independent(j)).await.2, "alg_not_allowed");
    // HMAC-SHA1 with the RSA consumer's id: the consumer's own methods decide.
    let mut j = oauth_job(port, "/legacy/a", "HMAC-SHA1", "header");
    j["consumer_key"] = json!("consumer-rsa");
    assert_eq!(send_oauth(&c, &independent(j)).await.2, "alg_not_allowed");
    assert_eq!(
        up.requests().len(),
        before,
        "no refused request reaches the upstream"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_used_on_one_replica_is_refused_on_another() {
    let redis = RedisServer::start();
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (creds, kek) = oauth_credentials(&pki);
    let path = pki.path("gateway.toml");
    oauth_config(&pki, &up, &creds, &kek, Some(&redis.url())).write(&path);
    let (mut a, mut b) = (Process::spawn(&path), Process::spawn(&path));
    a.wait_store_connected();
    b.wait_store_connected();
    let signed_for = |port: u16| {
        let mut j = oauth_job(port, "/legacy/x", "HMAC-SHA256", "header");
        j["nonce"] = json!("shared-nonce-1");
        j["timestamp"] = json!(sealgate::authn::unix_now());
        independent(j)
    };
    // The same nonce and timestamp, signed for each replica's address.
    let ca = pki.client(a.main_addr, false);
    assert_eq!(
        send_oauth(&ca, &signed_for(a.main_addr.port())).await.0,
        201
    );
    let cb = pki.client(b.main_addr, false);
    let (status, _, why) = send_oauth(&cb, &signed_for(b.main_addr.port())).await;
    assert_eq!((status, why.as_str()), (401, "replayed"));
}

#[test]
fn the_credentials_file_never_holds_a_secret_and_bad_keks_are_named() {
    let pki = Pki::new();
    let kek = new_kek();
    let path = pki.path("creds.toml");
    let secret = add(&path, &kek, &["--id", "p1", "--alg", "hmac-sha256"], None);
    assert!(secret.len() >= 43, "a 256-bit secret, base64url");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&secret), "the secret is not in the file");
    let cfg = |kek_value: &str| {
        let kek_path = kek_file(&pki, kek_value);
        let c = Config::new(&pki)
            .upstream("app", "http://127.0.0.1:9")
            .authenticator(
                "s",
                "http-signature",
                &[
                    ("credentials", s(path.to_str().unwrap())),
                    ("kek", file(&kek_path)),
                ],
            )
            .route(Route::new("r", "/", "app").auth(&["s"]));
        let cfg_path = pki.path("check.toml");
        c.write(&cfg_path);
        let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["check", "--config"])
            .arg(&cfg_path)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    assert_eq!(cfg(&kek).0, 0, "{}", cfg(&kek).1);
    let (code, msg) = cfg(&new_kek());
    assert_eq!(code, 2);
    assert!(
        msg.contains("creds.toml") && msg.contains("not under the configured KEK"),
        "{msg}"
    );
    assert!(!msg.contains(&secret));

    // rekey: every credential keeps working under the new KEK, the old one fails.
    let new = new_kek();
    let f = path.to_str().unwrap();
    let (code, _, err) = cli(
        &[
            "rekey",
            "--file",
            f,
            "--kek",
            "env:SEALGATE_KEK",
            "--new-kek",
            "env:NEW_KEK_UNSET",
        ],
        &kek,
        None,
    );
    assert_eq!(code, 2, "an unset new KEK is an error: {err}");
    let new_path = kek_file(&pki, &new);
    let new_ref = format!("file:{}", new_path.display());
    let (code, _, err) = cli(
        &[
            "rekey",
            "--file",
            f,
            "--kek",
            "env:SEALGATE_KEK",
            "--new-kek",
            &new_ref,
        ],
        &kek,
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(cfg(&new).0, 0, "{}", cfg(&new).1);
    assert_eq!(cfg(&kek).0, 2);
    let (code, listed, _) = cli(
        &["list", "--file", f, "--kek", "env:SEALGATE_KEK"],
        &new,
        None,
    );
    assert_eq!(code, 0);
    assert!(listed.contains("p1") && !listed.contains(&secret));

    // A plaintext secret written by hand is refused, naming file and entry.
    std::fs::write(&path, "version = 1\n[[credential]]\nid = \"bad\"\nalgorithms = [\"hmac-sha256\"]\nsecret = \"hunter2hunter2hunter2\"\n").unwrap();
    let (code, msg) = cfg(&new);
    assert_eq!(code, 2);
    assert!(
        msg.contains("creds.toml") && msg.contains("plaintext") && msg.contains("\"bad\""),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"));
}

/// A plain-HTTP JWKS endpoint on loopback (allowed for 127.0.0.1 only).
async fn jwks_server(doc: String) -> std::net::SocketAddr {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let doc = bytes::Bytes::from(doc);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let doc = doc.clone();
                    async move {
                        let mut r = http::Response::new(Full::new(doc));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_keys_can_come_from_a_jwks() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let vectors = rfc9421_vectors();
    let mut jwk = vectors["keys"]["test-key-ed25519"]["jwk"].clone();
    jwk.as_object_mut().unwrap().remove("d");
    let idp = jwks_server(json!({ "keys": [jwk.clone()] }).to_string()).await;
    // A lone key without a kid must not answer to any keyid (it names the subject).
    jwk.as_object_mut().unwrap().remove("kid");
    let anonymous_idp = jwks_server(json!({ "keys": [jwk] }).to_string()).await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "jwks",
            "http-signature",
            &[("jwks_url", s(&format!("http://{idp}/jwks.json")))],
        )
        .authenticator(
            "nokid",
            "http-signature",
            &[("jwks_url", s(&format!("http://{anonymous_idp}/jwks.json")))],
        )
        .route(Route::new("orders", "/orders", "app").auth(&["jwks"]))
        .route(Route::new("nokid", "/nokid", "app").auth(&["nokid"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);
    let body = r#"{"order": 1}"#;
    let keys = Keys {
        hmac_secret: String::new(),
        kek: String::new(),
        file: PathBuf::new(),
    };
    let signed = independent(job(
        port,
        "/orders",
        "test-key-ed25519",
        "ed25519",
        &keys,
        "j1",
        body,
    ));
    let (status, _, r) = send(&c, port, "/orders", &signed, body).await;
    assert_eq!(status, 201, "{}", reason(r).await);
    assert_eq!(up.last().headers["x-auth-subject"], "test-key-ed25519");
    // An unknown kid (refetched once), and an algorithm the JWK does not fit.
    let signed = independent(job(
        port,
        "/orders",
        "other-key",
        "ed25519",
        &keys,
        "j2",
        body,
    ));
    let (status, _, r) = send(&c, port, "/orders", &signed, body).await;
    assert_eq!((status, reason(r).await.as_str()), (401, "unknown_kid"));
    let mut j = job(
        port,
        "/orders",
        "test-key-ed25519",
        "ecdsa-p256-sha256",
        &keys,
        "j3",
        body,
    );
    j["private_pem"] = json!(pem("test-key-ecc-p256.priv.pem"));
    let (status, _, r) = send(&c, port, "/orders", &independent(j), body).await;
    assert_eq!((status, reason(r).await.as_str()), (401, "alg_not_allowed"));
    let signed = independent(job(port, "/nokid", "admin", "ed25519", &keys, "j4", body));
    let (status, _, r) = send(&c, port, "/nokid", &signed, body).await;
    assert_eq!((status, reason(r).await.as_str()), (401, "unknown_kid"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_credentials_file_is_reloaded() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let keys = signature_credentials(&pki);
    let cfg = signature_config(&pki, &up, &keys).set("reload.poll_interval", s("50ms"));
    let (gw, _d) = start_gateway(&cfg).await;
    let mut reloads = gw.state.reloads.subscribe();
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);
    let body = r#"{"order": 9}"#;
    let fresh = |nonce: &str, secret: &str| {
        let k = Keys {
            hmac_secret: secret.to_string(),
            kek: String::new(),
            file: PathBuf::new(),
        };
        independent(job(
            port,
            "/orders",
            "late-partner",
            "hmac-sha256",
            &k,
            nonce,
            body,
        ))
    };
    let (status, _, r) = send(&c, port, "/orders", &fresh("r1", &keys.hmac_secret), body).await;
    assert_eq!((status, reason(r).await.as_str()), (401, "unknown_kid"));
    let secret = add(
        &keys.file,
        &keys.kek,
        &[
            "--id",
            "late-partner",
            "--alg",
            "hmac-sha256",
            "--scopes",
            "orders:read",
        ],
        None,
    );
    reloads.changed().await.unwrap();
    let (status, _, r) = send(&c, port, "/orders", &fresh("r2", &secret), body).await;
    assert_eq!(status, 201, "{}", reason(r).await);
    assert_eq!(up.last().headers["x-auth-subject"], "late-partner");

    // Rotation: the new secret works at once, the old one through the overlap.
    let f = keys.file.to_str().unwrap();
    let args = [
        "rotate",
        "--file",
        f,
        "--kek",
        "env:SEALGATE_KEK",
        "--id",
        "late-partner",
        "--overlap",
        "1h",
    ];
    let (code, rotated, err) = cli(&args, &keys.kek, None);
    assert_eq!(code, 0, "{err}");
    let rotated = rotated.trim().to_string();
    assert_ne!(rotated, secret);
    reloads.changed().await.unwrap();
    for (nonce, s) in [("r3", &rotated), ("r4", &secret)] {
        let (status, _, r) = send(&c, port, "/orders", &fresh(nonce, s), body).await;
        assert_eq!(status, 201, "{nonce}: {}", reason(r).await);
    }
    let (code, listed, _) = cli(
        &["list", "--file", f, "--kek", "env:SEALGATE_KEK"],
        &keys.kek,
        None,
    );
    assert_eq!(code, 0);
    assert!(
        listed.contains("late-partner") && listed.contains("2 secret(s)"),
        "{listed}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_rsa_consumers_can_come_from_a_jwks() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let vectors = rfc9421_vectors();
    let full = &vectors["keys"]["test-key-rsa"]["jwk"];
    let public = json!({"kty": "RSA", "kid": "test-key-rsa", "n": full["n"], "e": full["e"]});
    let idp = jwks_server(json!({ "keys": [public] }).to_string()).await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "legacy",
            "oauth1",
            &[("jwks_url", s(&format!("http://{idp}/jwks.json")))],
        )
        .route(Route::new("legacy", "/legacy", "app").auth(&["legacy"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let port = gw.main_addr.port();
    let c = pki.client(gw.main_addr, false);
    let mut j = oauth_job(port, "/legacy/x?a=1", "RSA-SHA256", "header");
    j["consumer_key"] = json!("test-key-rsa");
    let (status, _, why) = send_oauth(&c, &independent(j)).await;
    assert_eq!(status, 201, "{why}");
    assert_eq!(up.last().headers["x-auth-subject"], "test-key-rsa");
    // RSA-SHA1 is not in the default jwks_algorithms; HMAC never fits a public key.
    for method in ["RSA-SHA1", "HMAC-SHA256"] {
        let mut j = oauth_job(port, "/legacy/x", method, "header");
        j["consumer_key"] = json!("test-key-rsa");
        j["private_pem"] = json!(pem("test-key-rsa.priv.pem"));
        let (status, _, why) = send_oauth(&c, &independent(j)).await;
        assert_eq!((status, why.as_str()), (401, "alg_not_allowed"), "{method}");
    }
    gw.shutdown().await;
}
