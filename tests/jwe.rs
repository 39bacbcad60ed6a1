//! Encrypted tokens (RFC 7516) end to end: JWEs made by an independent
//! library (jwcrypto, `tests/fixtures/jwe/make.py`) for every allowed
//! key-management and content-encryption pair open and verify; refusals
//! look alike to the client and are counted by their precise reason.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{
    array, boolean, file, inline, list, python_job, s, scrape_metrics, start_gateway, Config, Pki,
    Route, TomlValue, Upstream,
};
use serde_json::{json, Value};
use std::path::Path;

const MAKE: &str = "tests/fixtures/jwe/make.py";

struct Keys {
    doc: Value,
}

impl Keys {
    fn new(dir: &Path) -> Keys {
        let doc = python_job(MAKE, &json!({"keygen": true}));
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).unwrap();
        };
        write("jwe.jwks.json", &doc["jwks"].to_string());
        write("jwe-p256.pem", doc["p256_pem"].as_str().unwrap());
        write("signer.pub.pem", doc["signer_pub_pem"].as_str().unwrap());
        write(
            "other.pub.pem",
            doc["other_signer_pub_pem"].as_str().unwrap(),
        );
        Keys { doc }
    }

    fn key(&self, kid: &str) -> Value {
        self.doc["jwks"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    }

    /// Tokens for `cases`, signed inside by `signer` ("signer" or "other_signer").
    fn tokens(&self, signer: &str, claims: &Value, cases: Vec<Value>) -> Vec<String> {
        let job = json!({"signer": self.doc[signer], "claims": claims, "cases": cases});
        python_job(MAKE, &job)["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }
}

fn claims(sub: &str) -> Value {
    let now = sealgate::authn::unix_now();
    json!({"iss": "https://idp.test", "aud": "api", "sub": sub, "exp": now + 600, "iat": now})
}

fn authenticator<'a>(dir: &Path, extra: &[(&'a str, TomlValue)]) -> Vec<(&'a str, TomlValue)> {
    let mut a = vec![
        ("issuer", s("https://idp.test")),
        ("audiences", list(&["api"])),
        ("algorithms", list(&["ES256"])),
        ("keys", file(dir.join("signer.pub.pem"))),
        (
            "decryption_keys",
            array(vec![
                inline(&[("key", file(dir.join("jwe.jwks.json")))]),
                inline(&[
                    ("kid", s("pem-p256")),
                    ("key", file(dir.join("jwe-p256.pem"))),
                ]),
            ]),
        ),
    ];
    for (k, v) in extra {
        a.push((k, v.clone()));
    }
    a
}

async fn call(client: &reqwest::Client, url: &str, token: &str) -> (u16, String) {
    let resp = client
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let reason = body["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("urn:sealgate:problem:");
    (status, reason.to_string())
}

fn metric(text: &str, reason: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.starts_with("sealgate_auth_failures_total{")
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn jwes_from_jwcrypto_open_for_every_allowed_pair() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator("idp", "jwt", &authenticator(dir.path(), &[]))
        .route(Route::new("api", "/api", "app").auth(&["idp"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/api/x", gw.main_addr.port());
    let mut cases = Vec::new();
    for enc in ["A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"] {
        let dir_key = match enc {
            "A128GCM" => "oct-16",
            "A256CBC-HS512" => "oct-64",
            _ => "oct-32",
        };
        cases.push(json!({"key": keys.key(dir_key), "kid": dir_key, "alg": "dir", "enc": enc}));
        cases
            .push(json!({"key": keys.key("oct-16"), "kid": "oct-16", "alg": "A128KW", "enc": enc}));
        cases
            .push(json!({"key": keys.key("oct-32"), "kid": "oct-32", "alg": "A256KW", "enc": enc}));
        for kid in ["p256", "p384", "x25519"] {
            for alg in ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"] {
                cases.push(json!({"key": keys.key(kid), "kid": kid, "alg": alg, "enc": enc}));
            }
        }
        cases
            .push(json!({"key": keys.key("rsa"), "kid": "rsa", "alg": "RSA-OAEP-256", "enc": enc}));
        // The PEM key, without a kid in the token: chosen as the one that fits.
        let pem = keys.doc["p256_pem_public"].clone();
        cases.push(json!({"key": pem, "alg": "ECDH-ES", "enc": enc}));
    }
    let count = cases.len();
    let tokens = keys.tokens("signer", &claims("alice"), cases.clone());
    for (token, case) in tokens.iter().zip(&cases) {
        let (status, reason) = call(&client, &url, token).await;
        if status != 201 {
            let m = scrape_metrics(gw.admin_addr).await;
            let why: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with("sealgate_auth_failures_total{"))
                .collect();
            panic!(
                "{} {} {} refused: {reason} {why:?}",
                case["alg"], case["enc"], case["kid"]
            );
        }
        let seen = up.last();
        assert_eq!(seen.headers["x-auth-subject"], "alice");
        assert!(!seen.headers.contains_key("authorization"));
    }
    assert_eq!(count, 4 * 14);
    // A repeated token is served from the verified-token cache.
    let before = scrape_metrics(gw.admin_addr).await;
    assert_eq!(call(&client, &url, &tokens[0]).await.0, 201);
    let after = scrape_metrics(gw.admin_addr).await;
    let hits = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("sealgate_token_cache_total{") && l.contains("result=\"hit\""))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(hits(&after), hits(&before) + 1.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_jwes_are_refused_alike_and_counted_by_reason() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let up = Upstream::start().await;
    let limited = [
        (
            "key_management",
            list(&["ECDH-ES", "ECDH-ES+A128KW", "dir"]),
        ),
        ("max_token_size", s("4096")),
    ];
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator("idp", "jwt", &authenticator(dir.path(), &limited))
        .authenticator(
            "sym",
            "jwt",
            &authenticator(dir.path(), &[("allow_unsigned_encrypted", boolean(true))]),
        )
        .authenticator(
            "partner",
            "jwt",
            &authenticator(
                dir.path(),
                &[("keys", file(dir.path().join("other.pub.pem")))],
            ),
        )
        .route(Route::new("api", "/api", "app").auth(&["idp"]))
        .route(Route::new("sym", "/sym", "app").auth(&["sym"]))
        .route(Route::new("partner", "/partner", "app").auth(&["partner"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let api = format!("{base}/api/x");
    let p256 = keys.key("p256");
    let c = |alg: &str, key: &Value, kid: &str| json!({"key": key, "kid": kid, "alg": alg, "enc": "A256GCM"});
    let unsigned = json!({"key": keys.key("oct-32"), "kid": "oct-32", "alg": "dir", "enc": "A256GCM", "nested": false});
    let unsigned_ec =
        json!({"key": p256, "kid": "p256", "alg": "ECDH-ES", "enc": "A256GCM", "nested": false});
    let good = keys.tokens(
        "signer",
        &claims("alice"),
        vec![c("ECDH-ES", &p256, "p256"), c("ECDH-ES", &p256, "p256")],
    );
    let made = keys.tokens(
        "signer",
        &claims("alice"),
        vec![
            c("RSA-OAEP-256", &keys.key("rsa"), "rsa"),
            json!({"key": keys.key("rsa"), "kid": "rsa", "alg": "RSA1_5", "enc": "A128GCM"}),
            json!({"key": p256, "kid": "p256", "alg": "ECDH-ES", "enc": "A256GCM", "zip": "DEF"}),
            c("ECDH-ES", &p256, "nobody"),
            unsigned.clone(),
            unsigned_ec.clone(),
        ],
    );
    let foreign = keys.tokens(
        "other_signer",
        &claims("mallory"),
        vec![c("ECDH-ES", &p256, "p256")],
    );
    let parts = |t: &str| t.split('.').map(str::to_string).collect::<Vec<_>>();
    // A flipped tag bit; the ciphertext of one token spliced into another.
    let mut tampered = parts(&good[0]);
    let mut tag = URL_SAFE_NO_PAD.decode(&tampered[4]).unwrap();
    tag[0] ^= 1;
    tampered[4] = URL_SAFE_NO_PAD.encode(tag);
    let mut spliced = parts(&good[0]);
    spliced[3] = parts(&good[1])[3].clone();
    // An ephemeral key off the curve (the header is checked before the tag).
    let mut off_curve = parts(&good[0]);
    let mut h: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&off_curve[0]).unwrap()).unwrap();
    h["epk"]["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    off_curve[0] = URL_SAFE_NO_PAD.encode(h.to_string());
    let oversize = format!("{}.{}", good[0], "A".repeat(5000));
    let refusals: Vec<(&str, String, &str)> = vec![
        (
            "alg outside the allow-list",
            made[0].clone(),
            "jwe_alg_not_allowed",
        ),
        ("RSA1_5", made[1].clone(), "jwe_alg_not_allowed"),
        ("zip", made[2].clone(), "jwe_zip"),
        ("unknown kid", made[3].clone(), "jwe_unknown_key"),
        (
            "unsigned where not allowed",
            made[4].clone(),
            "jwe_unsigned",
        ),
        ("tampered tag", tampered.join("."), "jwe_decryption"),
        ("spliced ciphertext", spliced.join("."), "jwe_decryption"),
        (
            "off-curve epk",
            off_curve.join("."),
            "jwe_bad_ephemeral_key",
        ),
    ];
    for (what, token, reason) in &refusals {
        let (status, public) = call(&client, &api, token).await;
        assert_eq!(
            (status, public.as_str()),
            (401, "undecryptable_token"),
            "{what}"
        );
        let m = scrape_metrics(gw.admin_addr).await;
        assert!(metric(&m, reason) >= 1, "{what}: {reason} not counted");
    }
    // Refusals after decryption say what they are: the inner JWS is checked
    // as always, with this authenticator's keys (another's do not do).
    assert_eq!(
        call(&client, &api, &foreign[0]).await,
        (401, "bad_signature".to_string())
    );
    assert_eq!(
        call(&client, &api, &oversize).await,
        (401, "token_too_large".to_string())
    );
    let m = scrape_metrics(gw.admin_addr).await;
    assert_eq!(
        (metric(&m, "bad_signature"), metric(&m, "token_too_large")),
        (1, 1)
    );
    assert!(
        up.requests().is_empty(),
        "nothing refused reached the upstream"
    );
    assert_eq!(
        call(&client, &format!("{base}/partner/x"), &foreign[0])
            .await
            .0,
        201
    );
    assert_eq!(up.last().headers["x-auth-subject"], "mallory");
    assert_eq!(call(&client, &api, &good[0]).await.0, 201);
    // Unsigned claims: only where allowed, and only with a symmetric key.
    let sym = format!("{base}/sym/x");
    assert_eq!(call(&client, &sym, &made[4]).await.0, 201);
    assert_eq!(
        call(&client, &sym, &made[5]).await,
        (401, "undecryptable_token".to_string())
    );
    gw.shutdown().await;
}

/// `issuer.access_token.encrypt`: the token endpoint's access tokens are
/// nested JWEs that the `issued` authenticator opens, that jwcrypto opens
/// with the same key, and whose key the gateway publishes (`use: enc`).
#[tokio::test]
async fn issued_access_tokens_can_be_encrypted() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let up = Upstream::start().await;
    let encrypt = inline(&[("key", file(dir.path().join("jwe-p256.pem")))]);
    let cfg = Config::new(&pki)
        .upstream("accounts", &up.url())
        .upstream("app", &up.url())
        .table(
            "issuer",
            &[
                ("url", s("https://auth.example.test")),
                ("key", file(pki.path("issuer.pem"))),
                ("dev_generate", boolean(true)),
                ("access_token", inline(&[("encrypt", encrypt)])),
                (
                    "verifier",
                    inline(&[("upstream", s("accounts")), ("path", s("/verify"))]),
                ),
            ],
        )
        .authenticator("sessions", "issued", &[])
        .route(Route::new("api", "/api", "app").auth(&["sessions"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let form = [
        ("grant_type", "password"),
        ("username", "dave"),
        ("password", common::upstream::PASSWORD),
    ];
    let t: Value = client
        .post(format!("{base}/auth/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 5, "a compact JWE: {access}");
    assert_eq!(call(&client, &format!("{base}/api/x"), access).await.0, 201);
    assert_eq!(up.last().headers["x-auth-subject"], "user:dave");
    let jwks: Value = client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = json!({"key": keys.doc["p256_pem"], "jwks": jwks, "token": access, "issuer": "https://auth.example.test"});
    let opened = python_job("tests/fixtures/jwe/open.py", &job);
    assert_eq!(opened["claims"]["sub"], "user:dave", "{opened}");
    assert_eq!(opened["inner"]["typ"], "at+jwt");
    assert_eq!(
        (
            opened["header"]["alg"].as_str(),
            opened["header"]["enc"].as_str(),
            opened["header"]["cty"].as_str()
        ),
        (Some("ECDH-ES"), Some("A256GCM"), Some("JWT"))
    );
    // The published encryption key: its kid is the RFC 7638 thumbprint jwcrypto computes.
    let enc: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == "enc")
        .collect();
    assert_eq!(enc.len(), 1, "{jwks}");
    assert_eq!(enc[0]["kid"], opened["thumbprint"]);
    assert_eq!(enc[0]["kid"], opened["header"]["kid"]);
    assert!(enc[0].get("d").is_none());
    gw.shutdown().await;
}

/// `sealgate token verify` explains a JWE: the key and algorithms that opened
/// it, the inner header, then the usual checks; claims of a token that did
/// not verify are never printed.
#[tokio::test]
async fn token_verify_explains_a_jwe() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator("idp", "jwt", &authenticator(dir.path(), &[]))
        .route(Route::new("api", "/api", "app").auth(&["idp"]));
    let path = dir.path().join("gateway.toml");
    cfg.write(&path);
    let p384 = keys.key("p384");
    let case = json!({"key": p384, "kid": "p384", "alg": "ECDH-ES+A256KW", "enc": "A128CBC-HS256"});
    let good = keys.tokens("signer", &claims("alice"), vec![case.clone()]);
    let foreign = keys.tokens("other_signer", &claims("secret-subject"), vec![case]);
    let run = |token: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["token", "verify", "--route", "api", token, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, text) = run(&good[0]);
    assert!(ok, "{text}");
    for want in [
        "shape: JWE (encrypted): alg=\"ECDH-ES+A256KW\" enc=\"A128CBC-HS256\" kid=\"p384\"",
        "decryption: ok (authenticator idp, key p384, ECDH-ES+A256KW + A128CBC-HS256, nested JWS)",
        "inner header: alg=\"ES256\"",
        "verification: ok (authenticator idp, kind jwt, subject \"alice\"",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    let (ok, text) = run(&foreign[0]);
    assert!(!ok);
    assert!(
        text.contains("verification: FAILED: bad_signature"),
        "{text}"
    );
    assert!(!text.contains("secret-subject"), "{text}");
    let mut tampered: Vec<String> = good[0].split('.').map(str::to_string).collect();
    tampered[3] = URL_SAFE_NO_PAD.encode(b"not the ciphertext at all........");
    let (_, text) = run(&tampered.join("."));
    assert!(
        text.contains("decryption: FAILED (authenticator idp): jwe_decryption"),
        "{text}"
    );
}
