//! Bearer JWT authentication end to end: tokens minted by independent JOSE
//! libraries, the RFC 7515/8037 examples, the attack matrix, identity headers
//! and the signed assertion, scope and claim rules.

mod common;

use base64::Engine;
use common::{
    boolean, file, inline, list, s, start_gateway, Config, Pki, Route, TomlValue, Upstream,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use sealgate::authn::jwt::{self, keys::KeySet};
use sealgate::authn::AuthFailure;
use serde_json::{json, Value};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

/// The keys of a `jwt` authenticator for `https://issuer.test`, audience `api`.
fn issuer_test(algorithm: &str, keys: TomlValue) -> Vec<(&'static str, TomlValue)> {
    vec![
        ("issuer", s("https://issuer.test")),
        ("audiences", list(&["api"])),
        ("algorithms", list(&[algorithm])),
        ("keys", keys),
    ]
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn now() -> u64 {
    sealgate::authn::unix_now()
}

/// A compact JWS with any header and payload text, signed with `key`.
fn craft(header: &Value, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.as_bytes())
    );
    let sig = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, alg).unwrap();
    format!("{signing_input}.{sig}")
}

fn claims(extra: Value) -> String {
    let mut c = json!({"iss": "https://issuer.test", "aud": "api", "sub": "alice", "exp": now() + 600, "iat": now(), "scope": "read"});
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    c.to_string()
}

/// An ES256 key pair: (signing key, JWKS with kid "k1").
fn es256_key() -> (EncodingKey, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = pair.public_key_raw();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "x": b64(&raw[1..33]), "y": b64(&raw[33..])}]});
    (
        EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
        jwks.to_string(),
    )
}

async fn status_and_reason(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> (u16, String, String) {
    let resp = client
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let reason = body["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("urn:sealgate:problem:")
        .to_string();
    (status, reason, www)
}

#[tokio::test]
async fn tokens_from_independent_libraries_verify() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let asym = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ];
    let interop = |algorithms: &[&str], keys: &str| {
        vec![
            ("issuer", s("https://interop.example")),
            ("audiences", list(&["sealgate-tests"])),
            ("algorithms", list(algorithms)),
            ("keys", file(format!("{FIX}/{keys}"))),
        ]
    };
    let mut at = interop(&["ES256"], "jwks.json");
    at.push(("typ", s("at+jwt")));
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator("jwks", "jwt", &interop(&asym, "jwks.json"))
        .authenticator(
            "hmac",
            "jwt",
            &interop(&["HS256", "HS384", "HS512"], "hmac.secret"),
        )
        .authenticator("pem", "jwt", &interop(&["ES256"], "ec-p256.pub.pem"))
        .authenticator("at", "jwt", &at)
        .route(Route::new("asym", "/asym", "app").auth(&["jwks"]))
        .route(Route::new("hmac", "/hmac", "app").auth(&["hmac"]))
        .route(Route::new("pem", "/pem", "app").auth(&["pem"]))
        .route(Route::new("at", "/at", "app").auth(&["at"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let tokens: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIX}/tokens.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for (name, t) in tokens.as_object().unwrap() {
        let route = match name.as_str() {
            "no_kid" => "pem",
            "at_jwt" => "at",
            n if n.starts_with("HS") => "hmac",
            _ => "asym",
        };
        let token = t["token"].as_str().unwrap();
        let (status, reason, _) =
            status_and_reason(&client, &format!("{base}/{route}/x"), token).await;
        assert_eq!(
            status, 201,
            "{name} ({}) was refused: {reason}",
            t["library"]
        );
        let seen = up.last();
        let sub = serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()["sub"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(seen.headers["x-auth-subject"], sub.as_str(), "{name}");
        assert!(!seen.headers.contains_key("authorization"));
        checked += 1;
    }
    assert_eq!(checked, 14);
    // A plain JWT is refused where at+jwt is required (RFC 9068).
    let es = tokens["ES256"]["token"].as_str().unwrap();
    assert_eq!(
        status_and_reason(&client, &format!("{base}/at/x"), es)
            .await
            .1,
        "wrong_type"
    );
    gw.shutdown().await;
}

/// Settings for calling `jwt::verify` directly: it takes the key set as an
/// argument, so the key source here is never read.
fn settings(
    issuer: &str,
    algorithms: Vec<Algorithm>,
) -> sealgate::authn::jwt::settings::JwtSettings {
    sealgate::authn::jwt::settings::JwtSettings::with_defaults(
        issuer,
        vec!["any".into()],
        algorithms,
        sealgate::authn::jwt::settings::KeySource::Jwks(
            "https://unused.example/jwks".parse().unwrap(),
        ),
    )
}

/// The RFC examples carry no `aud` (and two have non-JSON payloads), so a valid
/// signature shows as the first claims-stage failure; one flipped signature bit
/// must turn it into bad_signature.
#[test]
fn rfc7515_and_rfc8037_examples() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/vectors/jws-examples.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let cases = [
        ("RFC7515-A.1", Algorithm::HS256, AuthFailure::WrongAudience),
        ("RFC7515-A.2", Algorithm::RS256, AuthFailure::WrongAudience),
        ("RFC7515-A.3", Algorithm::ES256, AuthFailure::WrongAudience),
        ("RFC8037-A.4", Algorithm::EdDSA, AuthFailure::Malformed),
    ];
    for (name, alg, after_signature) in cases {
        let ex = &doc["examples"][name];
        let jwk = ex["jwk"].clone();
        let mut public = jwk.clone();
        public.as_object_mut().unwrap().remove("d");
        let set = KeySet::from_jwks(
            json!({"keys": [public]}).to_string().as_bytes(),
            alg == Algorithm::HS256,
        )
        .unwrap();
        let s = settings("joe", vec![alg]);
        let compact = ex["compact"].as_str().unwrap();
        assert_eq!(
            jwt::verify(compact, &set, &s, 1_300_819_370).err(),
            Some(after_signature),
            "{name}"
        );
        let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(compact.rsplit('.').next().unwrap())
            .unwrap();
        sig[0] ^= 1;
        let flipped = format!("{}.{}", ex["signing_input"].as_str().unwrap(), b64(&sig));
        assert_eq!(
            jwt::verify(&flipped, &set, &s, 1_300_819_370).err(),
            Some(AuthFailure::BadSignature),
            "{name}"
        );
    }
    // ES512 (A.4) is outside the supported set: refused before any key is used.
    let a4 = doc["examples"]["RFC7515-A.4"]["compact"].as_str().unwrap();
    let s = settings("joe", vec![Algorithm::ES256]);
    assert_eq!(
        jwt::verify(a4, &KeySet::default(), &s, 0).err(),
        Some(AuthFailure::AlgNotAllowed)
    );
}

#[tokio::test]
async fn attack_matrix_is_refused_with_the_right_reason() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (key, jwks) = es256_key();
    std::fs::write(pki.path("jwks.json"), &jwks).unwrap();
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "es",
            "jwt",
            &issuer_test("ES256", file(pki.path("jwks.json"))),
        )
        .authenticator(
            "rsa",
            "jwt",
            &issuer_test("RS256", file(format!("{FIX}/rsa.pub.pem"))),
        )
        .route(Route::new("es", "/", "app").auth(&["es"]))
        .route(Route::new("rsa", "/rsa", "app").auth(&["rsa"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let es_header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
    let good = craft(&es_header, &claims(json!({})), &key, Algorithm::ES256);
    let (h, p, s) = {
        let v: Vec<&str> = good.split('.').collect();
        (v[0].to_string(), v[1].to_string(), v[2].to_string())
    };
    assert_eq!(
        status_and_reason(&client, &format!("{base}/x"), &good)
            .await
            .0,
        201,
        "the valid token must pass"
    );
    let before = up.requests().len();

    let (attacker, attacker_jwks) = es256_key();
    let attacker_jwk: Value =
        serde_json::from_str::<Value>(&attacker_jwks).unwrap()["keys"][0].clone();
    let rsa_pem = std::fs::read(format!("{FIX}/rsa.pub.pem")).unwrap();
    let mut cases: Vec<(&str, String, &str, &str)> = Vec::new();
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": none, "kid": "k1"}).to_string().as_bytes());
        cases.push((
            "alg none, signed",
            format!("{header}.{p}.{s}"),
            "/x",
            "alg_not_allowed",
        ));
        cases.push((
            "alg none, unsigned",
            format!("{header}.{p}."),
            "/x",
            "malformed",
        ));
    }
    let hs = craft(
        &json!({"alg": "HS256"}),
        &claims(json!({})),
        &EncodingKey::from_secret(&rsa_pem),
        Algorithm::HS256,
    );
    cases.push((
        "HS256 with the RSA public key as secret",
        hs,
        "/rsa/x",
        "alg_not_allowed",
    ));
    for kid in ["../../../../etc/passwd", "' OR '1'='1", "k1\u{0}", ""] {
        let t = craft(
            &json!({"alg": "ES256", "kid": kid}),
            &claims(json!({})),
            &key,
            Algorithm::ES256,
        );
        cases.push(("hostile kid", t, "/x", "unknown_kid"));
    }
    for (field, value) in [
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("jwk", attacker_jwk),
    ] {
        let mut header = json!({"alg": "ES256", "kid": "k1"});
        header[field] = value;
        let t = craft(&header, &claims(json!({})), &attacker, Algorithm::ES256);
        cases.push(("key named by the token", t, "/x", "untrusted_header"));
    }
    let crit = craft(
        &json!({"alg": "ES256", "kid": "k1", "crit": ["exp"], "exp": 1}),
        &claims(json!({})),
        &key,
        Algorithm::ES256,
    );
    cases.push(("unknown crit", crit, "/x", "unsupported_crit"));
    cases.push((
        "ECDSA r=s=0 (CVE-2022-21449)",
        format!("{h}.{p}.{}", b64(&[0u8; 64])),
        "/x",
        "bad_signature",
    ));
    let sign = |c: Value| craft(&es_header, &claims(c), &key, Algorithm::ES256);
    cases.push((
        "expired",
        sign(json!({"exp": now() - 3600})),
        "/x",
        "expired",
    ));
    cases.push((
        "nbf in the future",
        sign(json!({"nbf": now() + 3600})),
        "/x",
        "not_yet_valid",
    ));
    cases.push((
        "wrong issuer",
        sign(json!({"iss": "https://evil.example"})),
        "/x",
        "wrong_issuer",
    ));
    cases.push((
        "wrong audience",
        sign(json!({"aud": ["other"]})),
        "/x",
        "wrong_audience",
    ));
    cases.push((
        "aud array with a non-string member",
        sign(json!({"aud": ["api", 7]})),
        "/x",
        "malformed",
    ));
    cases.push((
        "no exp",
        craft(
            &es_header,
            &json!({"iss": "https://issuer.test", "aud": "api", "sub": "a"}).to_string(),
            &key,
            Algorithm::ES256,
        ),
        "/x",
        "missing_claim",
    ));
    let admin_payload = b64(claims(json!({"sub": "admin"})).as_bytes());
    cases.push((
        "tampered payload",
        format!("{h}.{admin_payload}.{s}"),
        "/x",
        "bad_signature",
    ));
    cases.push(("signature stripped", format!("{h}.{p}."), "/x", "malformed"));
    cases.push(("two parts", format!("{h}.{p}"), "/x", "malformed"));
    cases.push((
        "truncated",
        good[..good.len() - 4].to_string(),
        "/x",
        "bad_signature",
    ));
    cases.push((
        "oversized",
        sign(json!({"pad": "x".repeat(17 * 1024)})),
        "/x",
        "token_too_large",
    ));
    cases.push((
        "non-JSON header",
        format!("{}.{p}.{s}", b64(b"not json")),
        "/x",
        "malformed",
    ));
    let dup = format!(
        "{{\"iss\":\"https://issuer.test\",\"aud\":\"api\",\"sub\":\"alice\",\"sub\":\"admin\",\"exp\":{}}}",
        now() + 600
    );
    cases.push((
        "duplicate claims",
        craft(&es_header, &dup, &key, Algorithm::ES256),
        "/x",
        "malformed",
    ));
    cases.push(("JWE-shaped", format!("{h}.{p}.{s}.a.b"), "/x", "malformed"));

    let token_cache = &gw.state.metrics.token_cache;
    let rejected_hits = || token_cache.with_label_values(&["es", "rejected_hit"]).get();
    let mut remembered = 0;
    for (what, token, path, reason) in &cases {
        // Twice: the second refusal may come from the rejection cache and must
        // be the same refusal, counted the same way.
        for attempt in 0..2 {
            let hits_before = rejected_hits();
            let (status, got, www) =
                status_and_reason(&client, &format!("{base}{path}"), token).await;
            assert_eq!(
                (status, got.as_str()),
                (401, *reason),
                "{what} (#{attempt})"
            );
            assert!(www.contains("error=\"invalid_token\""), "{what}: {www}");
            assert!(
                !www.contains(&token[..token.len().min(20)]) || token.len() < 20,
                "{what}: token echoed"
            );
            let remembered_reason = matches!(
                *reason,
                "bad_signature"
                    | "expired"
                    | "wrong_issuer"
                    | "wrong_audience"
                    | "wrong_type"
                    | "missing_claim"
                    | "lifetime_too_long"
            );
            if attempt == 1 && remembered_reason {
                assert_eq!(rejected_hits(), hits_before + 1, "{what}: not remembered");
                remembered += 1;
            }
            if !remembered_reason {
                assert_eq!(
                    rejected_hits(),
                    hits_before,
                    "{what}: must not be remembered"
                );
            }
        }
    }
    assert!(
        remembered >= 5,
        "only {remembered} refusals were remembered"
    );
    assert_eq!(
        up.requests().len(),
        before,
        "a rejected token reached the upstream"
    );
    let failures = gw
        .state
        .metrics
        .auth_failures
        .with_label_values(&["es", "untrusted_header"])
        .get();
    assert_eq!(failures, 6, "each refusal is counted, cached or not");
    gw.shutdown().await;
}

fn python() -> String {
    std::env::var("SEALGATE_TEST_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python").to_string()
    })
}

#[tokio::test]
async fn backend_gets_verified_identity_and_an_assertion_others_can_verify() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (key, jwks) = es256_key();
    std::fs::write(pki.path("jwks.json"), &jwks).unwrap();
    let cfg = Config::new(&pki)
        .upstream("orders", &up.url())
        .authenticator(
            "es",
            "jwt",
            &issuer_test("ES256", file(pki.path("jwks.json"))),
        )
        .route(Route::new("read", "/", "orders").auth(&["es"]))
        .route(
            Route::new("admin", "/admin", "orders")
                .auth(&["es"])
                .extra(&[("require.scopes", list(&["admin", "write"]))]),
        )
        .route(
            Route::new("staff", "/staff", "orders")
                .auth(&["es"])
                .extra(&[(
                    "require.claims",
                    inline(&[
                        ("email", inline(&[("glob", s("*@example.com"))])),
                        ("groups", inline(&[("contains", s("staff"))])),
                    ]),
                )]),
        )
        .table(
            "identity",
            &[
                (
                    "claims",
                    inline(&[("email", s("x-auth-email")), ("groups", s("x-auth-groups"))]),
                ),
                ("assertion.key", file(pki.path("assertion.pem"))),
                ("assertion.dev_generate", boolean(true)),
            ],
        );
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, true);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let token = craft(
        &json!({"alg": "ES256", "kid": "k1"}),
        &claims(json!({"email": "alice@example.com", "groups": ["staff", "dev"]})),
        &key,
        Algorithm::ES256,
    );
    let resp = client
        .get(format!("{base}/orders"))
        .bearer_auth(&token)
        .header("X-Auth-Subject", "mallory")
        .header("x_auth_subject", "mallory")
        .header("X-SEALGATE-ASSERTION", "forged")
        .header("x-auth-email", "mallory@evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let h = up.last().headers;
    assert!(!h.contains_key("authorization"));
    assert!(!h.contains_key("x_auth_subject"));
    assert_eq!(h.get_all("x-auth-subject").iter().count(), 1);
    assert_eq!(h["x-auth-subject"], "alice");
    assert_eq!(h["x-auth-issuer"], "https://issuer.test");
    assert_eq!(h["x-auth-email"], "alice@example.com");
    assert_eq!(h["x-auth-groups"], "staff,dev");
    let assertion = h["x-sealgate-assertion"].to_str().unwrap().to_string();
    assert_ne!(assertion, "forged");

    // Verified by an independent JOSE implementation against the published JWKS.
    let admin = reqwest::Client::new();
    let jwks = admin
        .get(format!("http://{}/.well-known/jwks.json", gw.admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = r#"
import json, sys
from jwcrypto import jwk, jwt
keys = jwk.JWKSet.from_json(sys.argv[1])
t = jwt.JWT(jwt=sys.argv[2], key=keys, check_claims={"iss": "sealgate", "aud": "orders", "sub": "alice"})
c = json.loads(t.claims)
print(json.dumps({"orig_iss": c["orig_iss"], "email": c["email"], "ttl": c["exp"] - c["iat"]}))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script, &jwks, &assertion])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python with jwcrypto is needed ({}): {e}; run ./scripts/test.sh",
                python()
            )
        });
    assert!(
        out.status.success(),
        "jwcrypto refused the assertion: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        verified,
        json!({"orig_iss": "https://issuer.test", "email": "alice@example.com", "ttl": 60})
    );

    // Scope rules: 403 with the RFC 6750 scope attribute.
    let resp = client
        .get(format!("{base}/admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"sealgate\", error=\"insufficient_scope\", error_description=\"the token lacks a scope this route requires\", scope=\"admin write\""
    );
    // Claim rules: a matching token passes, another is refused.
    assert_eq!(
        client
            .get(format!("{base}/staff"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let outsider = craft(
        &json!({"alg": "ES256", "kid": "k1"}),
        &claims(json!({"email": "eve@example.com.evil", "groups": ["staff"]})),
        &key,
        Algorithm::ES256,
    );
    let resp = client
        .get(format!("{base}/staff"))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:sealgate:problem:claim_mismatch");

    // The second use of the same token is a cache hit.
    let m = &gw.state.metrics.token_cache;
    assert!(m.with_label_values(&["es", "hit"]).get() >= 2);
    assert_eq!(m.with_label_values(&["es", "miss"]).get(), 2);
    gw.shutdown().await;
}

#[test]
fn check_refuses_a_literal_hmac_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    Config::empty()
        .set("listen.tls.dev_self_signed", boolean(true))
        .echo_upstream("a")
        .authenticator(
            "h",
            "jwt",
            &[
                ("issuer", s("i")),
                ("audiences", list(&["a"])),
                ("algorithms", list(&["HS256"])),
                ("keys", s("correct-horse-battery-staple-0123456789")),
            ],
        )
        .route(Route::without_prefix("r", "a").auth(&["h"]))
        .write(&path);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("authenticators.h.keys: secrets are not written in the file"),
        "{err}"
    );
    assert!(
        !err.contains("correct-horse"),
        "the literal secret was echoed: {err}"
    );
}

#[tokio::test]
async fn cookie_tokens_and_lifetime_limits() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (key, jwks) = es256_key();
    std::fs::write(pki.path("jwks.json"), &jwks).unwrap();
    let mut web = issuer_test("ES256", file(pki.path("jwks.json")));
    web.extend([("token_cookie", s("session")), ("max_lifetime", s("1h"))]);
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator("web", "jwt", &web)
        .route(Route::new("web", "/", "app").auth(&["web"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/page", gw.main_addr.port());
    let header = json!({"alg": "ES256", "kid": "k1"});
    let ok = craft(&header, &claims(json!({})), &key, Algorithm::ES256);
    let resp = client
        .get(&url)
        .header("cookie", format!("theme=dark; session={ok}; lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let seen = up.last().headers;
    assert_eq!(
        seen["cookie"], "theme=dark; lang=en",
        "the token cookie must not reach the backend"
    );
    assert_eq!(seen["x-auth-subject"], "alice");
    // The bearer header is not this authenticator's source.
    assert_eq!(status_and_reason(&client, &url, &ok).await.1, "missing");
    let long = craft(
        &header,
        &claims(json!({"iat": now(), "exp": now() + 7200})),
        &key,
        Algorithm::ES256,
    );
    let resp = client
        .get(&url)
        .header("cookie", format!("session={long}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["type"], "urn:sealgate:problem:lifetime_too_long");
    gw.shutdown().await;
}

/// `sealgate keygen ed25519` keys load in OpenSSL-based tools: python-cryptography
/// (OpenSSL 3) reads the private key and checks that it matches the public one.
#[test]
fn keygen_ed25519_keys_load_in_python_cryptography() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["keygen", "ed25519", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = r#"
import sys
from cryptography.hazmat.primitives import serialization
priv = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
pub = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
raw = lambda k: k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
assert raw(priv.public_key()) == raw(pub)
print("ok")
"#;
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir.path().join("ed25519.key"))
        .arg(dir.path().join("ed25519.pub.pem"))
        .output()
        .unwrap_or_else(|e| panic!("python with cryptography is needed ({}): {e}", python()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
