//! DPoP (RFC 9449) end to end, with proofs made by an independent
//! implementation (jwcrypto, `tests/fixtures/dpop/proof.py`): a login binds
//! the tokens to the client's key, bound tokens need a fresh proof by that key
//! for this method and URI, and every way to cheat is refused with its reason.

mod common;

use common::upstream::PASSWORD;
use common::{inline, python_job, s, start_gateway, Config, Pki, Route, Upstream};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The client's key (a private JWK) and its RFC 7638 thumbprint, per jwcrypto.
struct Client {
    key: Value,
    jkt: String,
}

impl Client {
    fn new(kty: &str) -> Client {
        let out = python_job("tests/fixtures/dpop/proof.py", &json!({"kty": kty}));
        Client {
            key: out["key"].clone(),
            jkt: out["jkt"].as_str().unwrap().to_string(),
        }
    }

    /// One proof; `extra` adds `token` (-> ath), `nonce`, `variant`, `jti`.
    fn proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let mut spec = json!({"htm": htm, "htu": htu});
        if let (Some(obj), Value::Object(more)) = (spec.as_object_mut(), extra) {
            obj.extend(more);
        }
        let out = python_job(
            "tests/fixtures/dpop/proof.py",
            &json!({"key": self.key, "proofs": [spec]}),
        );
        out["proofs"][0].as_str().unwrap().to_string()
    }
}

fn config(pki: &Pki, up: &Upstream) -> Config {
    Config::new(pki)
        .upstream("accounts", &up.url())
        .upstream("app", &up.url())
        .table(
            "issuer",
            &[
                ("key", common::file(pki.path("issuer.pem"))),
                ("dev_generate", common::boolean(true)),
                ("dpop", s("optional")),
                ("verifier", inline(&[("upstream", s("accounts"))])),
            ],
        )
        .authenticator("sessions", "issued", &[("dpop", s("required"))])
        .authenticator(
            "nonced",
            "issued",
            &[(
                "dpop",
                inline(&[("mode", s("required")), ("nonce", common::boolean(true))]),
            )],
        )
        .route(Route::new("api", "/api", "app").auth(&["sessions"]))
        .route(Route::new("strict", "/nonce", "app").auth(&["nonced"]))
}

struct Answer {
    status: u16,
    reason: String,
    challenge: String,
    nonce: Option<String>,
}

async fn get(c: &reqwest::Client, url: &str, auth: &str, proof: Option<&str>) -> Answer {
    let mut req = c.get(url).header("authorization", auth);
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    let r = req.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (status, challenge, nonce) = (
        r.status().as_u16(),
        header("www-authenticate").unwrap_or_default(),
        header("dpop-nonce"),
    );
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let reason = body["type"].as_str().unwrap_or("");
    Answer {
        status,
        reason: reason
            .trim_start_matches("urn:sealgate:problem:")
            .to_string(),
        challenge,
        nonce,
    }
}

async fn token_request(
    c: &reqwest::Client,
    addr: SocketAddr,
    form: &[(&str, &str)],
    proof: &str,
) -> (u16, Value) {
    let r = c
        .post(format!("https://localhost:{}/auth/token", addr.port()))
        .header("dpop", proof)
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_tokens_need_a_fresh_proof_by_their_key() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &up)).await;
    let c = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let (token_url, api) = (format!("{base}/auth/token"), format!("{base}/api/orders"));
    let alice = Client::new("EC");

    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let (status, t) = token_request(
        &c,
        gw.main_addr,
        &login,
        &alice.proof("POST", &token_url, json!({})),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap().to_string();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["cnf"]["jkt"],
        alice.jkt.as_str(),
        "bound to jwcrypto's thumbprint"
    );
    let auth = format!("DPoP {access}");

    let good = alice.proof("GET", &api, json!({"token": access}));
    let a = get(&c, &api, &auth, Some(&good)).await;
    assert_eq!(a.status, 201, "{}", a.reason);
    let seen = up.last();
    assert!(seen.headers.get("dpop").is_none() && seen.headers.get("authorization").is_none());
    assert_eq!(seen.headers["x-auth-subject"], "user:alice");

    let refusals = [
        (
            "replayed proof",
            auth.clone(),
            Some(good.clone()),
            "replayed",
        ),
        (
            "stolen token as a bearer token",
            format!("Bearer {access}"),
            Some(alice.proof("GET", &api, json!({"token": access}))),
            "dpop_bound_token_as_bearer",
        ),
        ("no proof", auth.clone(), None, "dpop_proof_missing"),
        (
            "proof for another method",
            auth.clone(),
            Some(alice.proof("POST", &api, json!({"token": access}))),
            "dpop_wrong_method",
        ),
        (
            "proof for another URL",
            auth.clone(),
            Some(alice.proof(
                "GET",
                &format!("{base}/api/other"),
                json!({"token": access}),
            )),
            "dpop_wrong_url",
        ),
        (
            "private key in the proof",
            auth.clone(),
            Some(alice.proof(
                "GET",
                &api,
                json!({"token": access, "variant": "private_key"}),
            )),
            "dpop_private_key",
        ),
        (
            "alg none",
            auth.clone(),
            Some(alice.proof("GET", &api, json!({"token": access, "variant": "none"}))),
            "dpop_alg_not_allowed",
        ),
        (
            "HMAC proof",
            auth.clone(),
            Some(alice.proof("GET", &api, json!({"token": access, "variant": "hmac"}))),
            "dpop_alg_not_allowed",
        ),
        (
            "proof by another key",
            auth.clone(),
            Some(Client::new("OKP").proof("GET", &api, json!({"token": access}))),
            "dpop_key_mismatch",
        ),
        (
            "proof for another token",
            auth.clone(),
            Some(alice.proof("GET", &api, json!({"token": "other"}))),
            "dpop_wrong_ath",
        ),
    ];
    for (what, auth, proof, reason) in refusals {
        let a = get(&c, &api, &auth, proof.as_deref()).await;
        assert_eq!((a.status, a.reason.as_str()), (401, reason), "{what}");
        assert!(a.challenge.contains("DPoP "), "{what}: {}", a.challenge);
        assert!(
            a.challenge.contains("algs=\"ES256"),
            "{what}: {}",
            a.challenge
        );
    }
    let a = get(&c, &api, &auth, None).await;
    assert!(
        a.challenge.contains("error=\"invalid_dpop_proof\""),
        "{}",
        a.challenge
    );

    // The refresh token is bound too: another key's proof is refused and
    // spends nothing; the right key's proof rotates it.
    let refresh = t["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let mallory = Client::new("RSA").proof("POST", &token_url, json!({}));
    let (status, body) = token_request(&c, gw.main_addr, &form, &mallory).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token_request(
        &c,
        gw.main_addr,
        &form,
        &alice.proof("POST", &token_url, json!({})),
    )
    .await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("DPoP")),
        "{body}"
    );

    // Server nonces: the first try is told the nonce, the second uses it.
    let strict = format!("{base}/nonce/x");
    let a = get(
        &c,
        &strict,
        &auth,
        Some(&alice.proof("GET", &strict, json!({"token": access}))),
    )
    .await;
    assert_eq!((a.status, a.reason.as_str()), (401, "dpop_nonce_required"));
    assert!(
        a.challenge.contains("error=\"use_dpop_nonce\""),
        "{}",
        a.challenge
    );
    let nonce = a.nonce.expect("DPoP-Nonce header");
    let retry = alice.proof("GET", &strict, json!({"token": access, "nonce": nonce}));
    assert_eq!(get(&c, &strict, &auth, Some(&retry)).await.status, 201);
    let forged = alice.proof(
        "GET",
        &strict,
        json!({"token": access, "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    );
    assert_eq!(
        get(&c, &strict, &auth, Some(&forged)).await.reason,
        "dpop_nonce_required"
    );
    gw.shutdown().await;
}

/// The same policy on a `jwt` authenticator: an IdP's token bound with `cnf.jkt`.
#[tokio::test]
async fn jwt_authenticators_check_proofs_too() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let idp = common::idp::Idp::new(&pki);
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "idp",
            "jwt",
            &[
                ("issuer", s("https://idp.test")),
                ("audiences", common::list(&["api"])),
                ("algorithms", common::list(&["EdDSA"])),
                ("keys", common::file(&idp.public)),
                ("dpop", s("optional")),
            ],
        )
        .route(Route::new("api", "/api", "app").auth(&["idp"]));
    let (gw, _dir) = start_gateway(&cfg).await;
    let c = pki.client(gw.main_addr, false);
    let api = format!("https://localhost:{}/api/x", gw.main_addr.port());
    let bob = Client::new("EC");
    let now = sealgate::authn::unix_now();
    let claims = json!({"iss": "https://idp.test", "aud": "api", "sub": "bob", "iat": now, "exp": now + 600, "cnf": {"jkt": bob.jkt}});
    let token = idp.mint(&claims);
    let proof = bob.proof("GET", &api, json!({"token": token}));
    assert_eq!(
        get(&c, &api, &format!("DPoP {token}"), Some(&proof))
            .await
            .status,
        201
    );
    let a = get(&c, &api, &format!("Bearer {token}"), None).await;
    assert_eq!(
        (a.status, a.reason.as_str()),
        (401, "dpop_bound_token_as_bearer")
    );
    // Optional: an unbound bearer token still works; as a DPoP token it does not.
    let unbound = json!({"iss": "https://idp.test", "aud": "api", "sub": "bob", "iat": now, "exp": now + 600});
    let plain = idp.mint(&unbound);
    assert_eq!(
        get(&c, &api, &format!("Bearer {plain}"), None).await.status,
        201
    );
    let proof = bob.proof("GET", &api, json!({"token": plain}));
    let a = get(&c, &api, &format!("DPoP {plain}"), Some(&proof)).await;
    assert_eq!(a.reason, "dpop_token_not_bound");
    gw.shutdown().await;
}
