//! Criterion micro-benchmarks of the hot path (`cargo bench --bench micro`).
//! Compare within one run: absolute times on a shared 2-core machine are noisy.
//!
//! Groups: routing; `jwt_cold` (full verification per algorithm, no cache);
//! `jwt_cached` (`JwtAuthenticator::verify` on a token it has verified before)
//! and `cached_parts` (what a cache hit is made of); `jwt_miss` (never-seen
//! tokens: verification plus the cache insert);
//! `jwt_invalid` (bad signature vs valid); `header_rewrite` (hop-by-hop removal,
//! identity stripping, X-Forwarded-*/Forwarded, verified identity headers);
//! `assertion_sign` (the signed identity assertion, EdDSA and ES256);
//! `crypto_parts` (aws-lc-rs verify/sign with keys parsed per call vs prepared once);
//! `provider_choice` (the same signature verified by aws-lc-rs, ring and the
//! RustCrypto crates: the evidence for aws-lc-rs as the binary's one provider);
//! `ohttp` (RFC 9458: opening a request sealed by the independent `ohttp` crate,
//! sealing the response, and that client's decapsulation of it); `ohttp_kem`
//! (opening a request and sealing a 1 KiB answer per KEM, side by side:
//! X25519, P-256, X-Wing, ML-KEM-768).
//! Tokens and public keys are the interop fixtures in tests/fixtures/jwt
//! (signed by PyJWT/jwcrypto, exp in 2100); assertion keys are made by rcgen.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use jsonwebtoken::Algorithm;
use sealgate::authn::jwt;
use sealgate::authn::jwt::keys::KeySet;
use sealgate::authn::jwt::settings::{JwtSettings, KeySource};
use sealgate::authn::jwt::{JwtAuthenticator, KeyRegistry};
use sealgate::authn::Principal;
use sealgate::forwarding::{self, Downstream};
use sealgate::identity::assertion::AssertionSigner;
use sealgate::identity::settings::{Assertion, Identity, PrivateKeySource};
use sealgate::identity::IdentityHeaders;
use sealgate::metrics::Metrics;
use sealgate::route::settings::{Route, RouteAuth, Sealed};
use sealgate::route::{normalize_path, RouteTable};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn route(name: &str, prefix: &str) -> Route {
    Route {
        name: name.into(),
        host: None,
        path_prefix: prefix.into(),
        methods: vec![],
        upstream: "u".into(),
        auth: RouteAuth::Anonymous,
        require_scopes: vec![],
        require_claims: vec![],
        sealed: Sealed::Off,
        max_request_body: 1 << 20,
        forward_credentials: false,
        allow_on_store_error: false,
        single_use: false,
        rate_limit: None,
        replay_window: None,
        upgrades: Default::default(),
    }
}

fn routing(c: &mut Criterion) {
    c.bench_function("normalize_path/plain", |b| {
        b.iter(|| normalize_path(black_box("/api/v1/orders/12345/items")))
    });
    c.bench_function("normalize_path/dots_and_escapes", |b| {
        b.iter(|| normalize_path(black_box("/api/./v1/%61rders/../orders/12345//items")))
    });
    let routes: Vec<Route> = (0..20)
        .map(|i| route(&format!("r{i}"), &format!("/svc{i}")))
        .collect();
    let metrics = Metrics::new().unwrap();
    let table = RouteTable::new(&routes, &HashMap::new(), &metrics);
    c.bench_function("route_match/20_routes_last", |b| {
        b.iter(|| {
            table.find(
                black_box("api.example.com"),
                black_box("/svc0/orders"),
                &http::Method::GET,
            )
        })
    });
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt")
}

/// (token, key file, HMAC?) for one algorithm of tests/fixtures/jwt/tokens.json.
fn fixture(alg: &str) -> (String, Vec<u8>, bool) {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("tokens.json")).unwrap()).unwrap();
    let entry = &doc[alg];
    let token = entry["token"].as_str().unwrap().to_string();
    let pem = entry["pem"].as_str().unwrap();
    let key = std::fs::read(fixtures().join(pem)).unwrap();
    (token, key, alg.starts_with("HS"))
}

const ISSUER: &str = "https://interop.example";
const AUDIENCE: &str = "sealgate-tests";

/// As tests/jwt.rs `settings()`, with the fixtures' audience and key material.
fn settings(algorithms: Vec<Algorithm>, material: &[u8], hmac: bool) -> JwtSettings {
    JwtSettings::with_defaults(
        ISSUER,
        vec![AUDIENCE.into()],
        algorithms,
        KeySource::Static {
            material: Arc::new(sealgate::config::secret::Secret::new(material.to_vec())),
            hmac,
        },
    )
}

struct Case {
    token: String,
    keys: Arc<KeySet>,
    settings: JwtSettings,
}

fn case(alg_name: &str) -> Case {
    let alg = jwt::keys::algorithm(alg_name).unwrap();
    let (token, key, hmac) = fixture(alg_name);
    let keys = Arc::new(KeySet::from_config_bytes(&key, hmac, &[alg]).unwrap());
    let settings = settings(vec![alg], &key, hmac);
    Case {
        token,
        keys,
        settings,
    }
}

fn authenticator(c: &Case, metrics: &Metrics) -> JwtAuthenticator {
    JwtAuthenticator::build("bench", &c.settings, &KeyRegistry::default(), metrics).unwrap()
}

/// `verify` never awaits for static keys, so it completes on the first poll:
/// no runtime overhead in the measurement. Falls back to a runtime otherwise.
fn verify_now(a: &JwtAuthenticator, token: &str, now: u64) -> Result<Principal, String> {
    match a.verify_token(token, now).now_or_never() {
        Some(r) => r.map_err(|e| format!("{e:?}")),
        None => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(a.verify_token(token, now))
            .map_err(|e| format!("{e:?}")),
    }
}

/// The token with one signature character changed (still valid base64url, still
/// the right length): the signature check runs and fails.
fn bad_signature(token: &str) -> String {
    let sig_at = token.rfind('.').unwrap() + 1;
    let i = sig_at + (token.len() - sig_at) / 2;
    let mut b = token.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

const ALGS: [&str; 4] = ["ES256", "RS256", "EdDSA", "HS256"];

fn jwt_cold(c: &mut Criterion) {
    let now = sealgate::authn::unix_now();
    let mut g = c.benchmark_group("jwt_cold");
    for alg in ALGS {
        let k = case(alg);
        jwt::verify(&k.token, &k.keys, &k.settings, now).expect("fixture token verifies");
        g.bench_function(alg, |b| {
            b.iter(|| jwt::verify(black_box(&k.token), &k.keys, &k.settings, now).unwrap())
        });
    }
    g.finish();
}

fn jwt_cached(c: &mut Criterion) {
    let now = sealgate::authn::unix_now();
    let metrics = Metrics::new().unwrap();
    let mut g = c.benchmark_group("jwt_cached");
    for alg in ALGS {
        let k = case(alg);
        let a = authenticator(&k, &metrics);
        verify_now(&a, &k.token, now).expect("fixture token verifies");
        g.bench_function(alg, |b| {
            b.iter(|| verify_now(&a, black_box(&k.token), now).unwrap())
        });
    }
    g.finish();
}

fn jwt_invalid(c: &mut Criterion) {
    let now = sealgate::authn::unix_now();
    let metrics = Metrics::new().unwrap();
    let mut g = c.benchmark_group("jwt_invalid");
    for alg in ["ES256", "EdDSA"] {
        let k = case(alg);
        let bad = bad_signature(&k.token);
        assert_eq!(
            jwt::verify(&bad, &k.keys, &k.settings, now).unwrap_err(),
            sealgate::authn::AuthFailure::BadSignature
        );
        let a = authenticator(&k, &metrics);
        verify_now(&a, &k.token, now).unwrap();
        g.bench_function(format!("{alg}/valid_cold"), |b| {
            b.iter(|| jwt::verify(black_box(&k.token), &k.keys, &k.settings, now).unwrap())
        });
        g.bench_function(format!("{alg}/bad_signature_cold"), |b| {
            b.iter(|| jwt::verify(black_box(&bad), &k.keys, &k.settings, now).unwrap_err())
        });
        // Through the authenticator, repeated: valid from the verified-token cache,
        // the bad signature from the rejection cache.
        g.bench_function(format!("{alg}/valid_authenticator"), |b| {
            b.iter(|| verify_now(&a, black_box(&k.token), now).unwrap())
        });
        g.bench_function(format!("{alg}/bad_signature_authenticator"), |b| {
            b.iter(|| verify_now(&a, black_box(&bad), now).unwrap_err())
        });
    }
    // Rejected before any signature work.
    let k = case("ES256");
    g.bench_function("malformed", |b| {
        b.iter(|| jwt::verify(black_box("not.a-token"), &k.keys, &k.settings, now).unwrap_err())
    });
    g.finish();
}

fn identity_config(assertion: Option<Assertion>) -> Identity {
    Identity {
        subject_header: HeaderName::from_static("x-auth-subject"),
        issuer_header: HeaderName::from_static("x-auth-issuer"),
        claims: vec![
            ("email".into(), HeaderName::from_static("x-auth-email")),
            ("scope".into(), HeaderName::from_static("x-auth-scopes")),
        ],
        max_header_bytes: 8192,
        assertion_header: HeaderName::from_static("x-sealgate-assertion"),
        assertion,
        client_cert_header: HeaderName::from_static("x-forwarded-client-cert"),
        forward_client_cert: false,
        strip_query: vec!["access_token".into()],
        strip_also: vec![],
        keep: vec![],
    }
}

/// What a browser-ish client sends through a gateway, plus spoofing attempts.
fn realistic_headers(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "api.example.com"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
        ("accept", "application/json, text/plain, */*"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en-US,en;q=0.9"),
        ("cookie", "session=abc123; theme=dark; _ga=GA1.2.1234567890.1700000000"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-auth-subject", "admin"),
        ("x_auth_email", "root@example.com"),
        ("connection", "keep-alive, x-custom-hop"),
        ("x-custom-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("x-request-id", "req-0123456789abcdef"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("content-type", "application/json"),
    ] {
        h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn header_rewrite(c: &mut Criterion) {
    let now = sealgate::authn::unix_now();
    let k = case("ES256");
    let metrics = Metrics::new().unwrap();
    let a = authenticator(&k, &metrics);
    let principal = verify_now(&a, &k.token, now).unwrap();
    let identity = identity_config(None);
    let strip = IdentityHeaders::new(&identity);
    let input = realistic_headers(&k.token);
    let peer = forwarding::PeerForwarding::new("203.0.113.7".parse().unwrap());
    let down = Downstream {
        peer: &peer,
        peer_trusted: false,
        host: "api.example.com",
    };
    let mut g = c.benchmark_group("header_rewrite");
    g.bench_function("baseline_noop", |b| {
        b.iter_batched(|| input.clone(), |h| h, BatchSize::SmallInput)
    });
    g.bench_function("strip_and_forwarded", |b| {
        b.iter_batched(
            || input.clone(),
            |mut h| {
                forwarding::strip_hop_by_hop(&mut h);
                strip.strip(&mut h, false);
                forwarding::set_forwarded(&mut h, &down);
                h
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("strip_forwarded_identity", |b| {
        b.iter_batched(
            || input.clone(),
            |mut h| {
                forwarding::strip_hop_by_hop(&mut h);
                strip.strip(&mut h, false);
                forwarding::set_forwarded(&mut h, &down);
                sealgate::identity::set_verified(&mut h, &identity, &principal).unwrap();
                h
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn assertion_sign(c: &mut Criterion) {
    let now = sealgate::authn::unix_now();
    let k = case("ES256");
    let metrics = Metrics::new().unwrap();
    let a = authenticator(&k, &metrics);
    let principal = verify_now(&a, &k.token, now).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let selected = identity_config(None).claims;
    let mut g = c.benchmark_group("assertion_sign");
    for (name, alg) in [
        ("EdDSA", &rcgen::PKCS_ED25519),
        ("ES256", &rcgen::PKCS_ECDSA_P256_SHA256),
    ] {
        let path = dir.path().join(format!("{name}.pem"));
        std::fs::write(
            &path,
            rcgen::KeyPair::generate_for(alg).unwrap().serialize_pem(),
        )
        .unwrap();
        let signer = AssertionSigner::new(&Assertion {
            key: PrivateKeySource::Secret(sealgate::config::secret::SecretRef::File(path)),
            ttl: Duration::from_secs(60),
            issuer: "sealgate".into(),
            publish_also: vec![],
        })
        .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                signer
                    .sign(black_box(&principal), "upstream", &selected, now)
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// What one cache hit is made of (see `JwtAuthenticator::verify`): the SHA-256
/// cache key over the token, the moka lookup, the hit counter.
fn cached_parts(c: &mut Criterion) {
    let k = case("ES256");
    let metrics = Metrics::new().unwrap();
    let mut g = c.benchmark_group("cached_parts");
    g.bench_function("sha256_cache_key", |b| {
        b.iter(|| {
            let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            ctx.update(b"bench");
            ctx.update(&[0]);
            ctx.update(black_box(k.token.as_bytes()));
            ctx.finish()
        })
    });
    let cache: moka::sync::Cache<[u8; 32], Arc<u64>> =
        moka::sync::Cache::builder().max_capacity(100_000).build();
    cache.insert([7u8; 32], Arc::new(1));
    g.bench_function("moka_get_hit", |b| {
        b.iter(|| cache.get(black_box(&[7u8; 32])).unwrap())
    });
    g.bench_function("metrics_counter_with_labels", |b| {
        b.iter(|| {
            metrics
                .token_cache
                .with_label_values(&[black_box("bench"), "hit"])
                .inc()
        })
    });
    g.finish();
}

/// The cache-miss path of `JwtAuthenticator::verify` with tokens it has never
/// seen (verify + insert into the verified-token cache), against `jwt_cold`.
/// HS256 keeps the signature cheap so the cache's own cost shows; a fresh
/// authenticator (empty cache) replaces the old one outside the timed part
/// every `N` tokens, so no token is ever a hit.
fn jwt_miss(c: &mut Criterion) {
    const N: usize = 20_000;
    let now = sealgate::authn::unix_now();
    let k = case("HS256");
    let secret = std::fs::read(fixtures().join("hmac.secret")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_secret(&secret);
    let header = jsonwebtoken::Header::new(Algorithm::HS256);
    let tokens: Vec<String> = (0..N)
        .map(|i| {
            let claims = serde_json::json!({
                "iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-{i}"), "scope": "read",
                "iat": now, "nbf": now, "exp": now + 86400, "jti": format!("{i:032x}"),
            });
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        })
        .collect();
    let metrics = Metrics::new().unwrap();
    let mut g = c.benchmark_group("jwt_miss");
    g.bench_function("HS256_cold_verify_only", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % N;
            jwt::verify(black_box(&tokens[i]), &k.keys, &k.settings, now).unwrap()
        })
    });
    g.bench_function("HS256_authenticator_never_seen", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let a = authenticator(&k, &metrics);
                let n = (iters - done).min(N as u64) as usize;
                let t = std::time::Instant::now();
                for token in &tokens[..n] {
                    black_box(verify_now(&a, token, now).unwrap());
                }
                total += t.elapsed();
                done += n as u64;
            }
            total
        })
    });
    g.finish();
}

/// The crypto under `jwt_cold` and `assertion_sign`, done the way jsonwebtoken
/// does it per call (parse the public key / load the PKCS#8 private key every
/// time) and with the key prepared once. The difference is what caching parsed
/// keys in `KeySet`/`AssertionSigner` would save per request.
fn crypto_parts(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, UnparsedPublicKey,
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
    };
    let rng = SystemRandom::new();
    // A JWS signing input of typical size (header.payload, ~300 bytes).
    let msg = case("ES256")
        .token
        .rsplit_once('.')
        .unwrap()
        .0
        .as_bytes()
        .to_vec();
    let ec_doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_doc.as_ref()).unwrap();
    let ec_pub = ec.public_key().as_ref().to_vec();
    let ec_sig = ec.sign(&rng, &msg).unwrap().as_ref().to_vec();
    let ed_doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed = Ed25519KeyPair::from_pkcs8(ed_doc.as_ref()).unwrap();
    let ed_pub = ed.public_key().as_ref().to_vec();
    let ed_sig = ed.sign(&msg).as_ref().to_vec();
    let ec_parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &ec_pub).unwrap();
    let ed_parsed = ParsedPublicKey::new(&ED25519, &ed_pub).unwrap();

    let mut g = c.benchmark_group("crypto_parts");
    g.bench_function("ES256_verify_unparsed_key", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &ec_pub)
                .verify(black_box(&msg), &ec_sig)
                .unwrap()
        })
    });
    g.bench_function("ES256_verify_parsed_key", |b| {
        b.iter(|| ec_parsed.verify_sig(black_box(&msg), &ec_sig).unwrap())
    });
    g.bench_function("EdDSA_verify_unparsed_key", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ED25519, &ed_pub)
                .verify(black_box(&msg), &ed_sig)
                .unwrap()
        })
    });
    g.bench_function("EdDSA_verify_parsed_key", |b| {
        b.iter(|| ed_parsed.verify_sig(black_box(&msg), &ed_sig).unwrap())
    });
    g.bench_function("ES256_sign_load_pkcs8_each_time", |b| {
        b.iter(|| {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_doc.as_ref())
                .unwrap()
                .sign(&rng, black_box(&msg))
                .unwrap()
        })
    });
    g.bench_function("ES256_sign_prepared_key", |b| {
        b.iter(|| ec.sign(&rng, black_box(&msg)).unwrap())
    });
    g.bench_function("EdDSA_sign_load_pkcs8_each_time", |b| {
        b.iter(|| {
            Ed25519KeyPair::from_pkcs8(ed_doc.as_ref())
                .unwrap()
                .sign(black_box(&msg))
        })
    });
    g.bench_function("EdDSA_sign_prepared_key", |b| {
        b.iter(|| ed.sign(black_box(&msg)))
    });
    // The floor under every sealed OHTTP request: one X25519 agreement with
    // the gateway's key (a fresh ephemeral key per request is the protocol).
    let x_sk = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::X25519).unwrap();
    let x_peer = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::X25519)
        .unwrap()
        .compute_public_key()
        .unwrap()
        .as_ref()
        .to_vec();
    g.bench_function("X25519_agree", |b| {
        b.iter(|| {
            let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(
                &aws_lc_rs::agreement::X25519,
                black_box(&x_peer),
            );
            aws_lc_rs::agreement::agree(&x_sk, peer, (), |dh| Ok(dh[0])).unwrap()
        })
    });
    g.finish();
}

/// Oblivious HTTP: the gateway's per-request crypto, with envelopes made by the
/// independent `ohttp` crate (X25519, HKDF-SHA256), AES-128-GCM and ChaCha20-Poly1305.
fn ohttp(c: &mut Criterion) {
    use sealgate::envelope::crypto::{
        self as env, GatewayKey, AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305, KEM_X25519,
    };
    let mut g = c.benchmark_group("ohttp");
    // A small GET with a bearer token, as Binary HTTP (known length).
    let token = case("ES256").token;
    let mut msg = bhttp::Message::request(
        b"GET".to_vec(),
        b"https".to_vec(),
        b"api.example.com".to_vec(),
        b"/orders/42".to_vec(),
    );
    msg.put_header("authorization", format!("Bearer {token}"));
    let mut request = Vec::new();
    msg.write_bhttp(bhttp::Mode::KnownLength, &mut request)
        .unwrap();
    let response = vec![b'x'; 1024];
    for (name, aead) in [
        ("aes128gcm", AEAD_AES_128_GCM),
        ("chacha20poly1305", AEAD_CHACHA20_POLY1305),
    ] {
        let sk = GatewayKey::generate_private(KEM_X25519).unwrap();
        let key = GatewayKey::from_private(1, KEM_X25519, &sk, vec![aead]).unwrap();
        let list = env::config_list(std::iter::once(&key));
        let (envelope, client) = ohttp::ClientRequest::from_encoded_config_list(&list)
            .unwrap()
            .encapsulate(&request)
            .unwrap();
        g.bench_function(format!("open_request/x25519_{name}"), |b| {
            b.iter(|| env::open(std::iter::once(&key), black_box(&envelope)).unwrap())
        });
        let opened = env::open(std::iter::once(&key), &envelope).unwrap();
        assert_eq!(opened.request, request);
        g.bench_function(format!("seal_response_1KiB/{name}"), |b| {
            b.iter(|| opened.sealer.seal(black_box(&response)).unwrap())
        });
        // The client side, for scale: what a caller pays to read the answer.
        let sealed = opened.sealer.seal(&response).unwrap();
        assert_eq!(client.decapsulate(&sealed).unwrap(), response);
    }
    g.finish();
}

/// An RFC 9458 request to a P-256 key, sealed by the `hpke` crate's sender.
fn p256_envelope(key: &sealgate::envelope::crypto::GatewayKey, request: &[u8]) -> Vec<u8> {
    use hpke::{Deserializable, Serializable};
    type K = hpke::kem::DhP256HkdfSha256;
    use sealgate::envelope::crypto::{request_header, request_info, AEAD_AES_128_GCM, KEM_P256};
    let mut header = request_header(key.id, KEM_P256, AEAD_AES_128_GCM).to_vec();
    let info = request_info(&header);
    let pk = <K as hpke::Kem>::PublicKey::from_bytes(&key.pk).unwrap();
    let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
    let (enc, mut ctx) = hpke::setup_sender::<hpke::aead::AesGcm128, hpke::kdf::HkdfSha256, K, _>(
        &hpke::OpModeS::Base,
        &pk,
        &info,
        &mut rng,
    )
    .unwrap();
    let ct = ctx.seal(request, b"").unwrap();
    header.extend_from_slice(&enc.to_bytes());
    header.extend_from_slice(&ct);
    header
}

/// Opening a sealed request and sealing a 1 KiB answer, per KEM, with
/// AES-128-GCM: the post-quantum KEMs' cost beside the DH ones.
fn ohttp_kem(c: &mut Criterion) {
    use sealgate::envelope::client;
    use sealgate::envelope::crypto::{
        self as env, GatewayKey, AEAD_AES_128_GCM, KEM_MLKEM768, KEM_P256, KEM_X25519, KEM_XWING,
    };
    let mut g = c.benchmark_group("ohttp_kem");
    let mut msg = bhttp::Message::request(
        b"GET".to_vec(),
        b"https".to_vec(),
        b"api.example.com".to_vec(),
        b"/orders/42".to_vec(),
    );
    msg.put_header("date", "Wed, 02 Dec 2026 12:00:00 GMT");
    let mut request = Vec::new();
    msg.write_bhttp(bhttp::Mode::KnownLength, &mut request)
        .unwrap();
    let response = vec![b'x'; 1024];
    for (name, kem) in [
        ("x25519", KEM_X25519),
        ("p256", KEM_P256),
        ("x-wing", KEM_XWING),
        ("ml-kem-768", KEM_MLKEM768),
    ] {
        let sk = GatewayKey::generate_private(kem).unwrap();
        let key = GatewayKey::from_private(1, kem, &sk, vec![AEAD_AES_128_GCM]).unwrap();
        let list = env::config_list(std::iter::once(&key));
        let envelope = match kem {
            KEM_X25519 => {
                ohttp::ClientRequest::from_encoded_config_list(&list)
                    .unwrap()
                    .encapsulate(&request)
                    .unwrap()
                    .0
            }
            KEM_P256 => p256_envelope(&key, &request),
            _ => {
                client::encapsulate(&client::parse_list(&list)[0], &request)
                    .unwrap()
                    .0
            }
        };
        g.bench_function(format!("open_request/{name}"), |b| {
            b.iter(|| env::open(std::iter::once(&key), black_box(&envelope)).unwrap())
        });
        let opened = env::open(std::iter::once(&key), &envelope).unwrap();
        assert_eq!(opened.request, request);
        g.bench_function(format!("seal_response_1KiB/{name}"), |b| {
            b.iter(|| opened.sealer.seal(black_box(&response)).unwrap())
        });
    }
    g.finish();
}

/// The crypto provider choice (issue 7): one JWS signing input of typical size,
/// signed once by aws-lc-rs, verified by each candidate jsonwebtoken/rustls can
/// use: aws-lc-rs, ring, and the RustCrypto crates (p256, ed25519-dalek, rsa).
fn provider_choice(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED,
        ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    };
    let rng = SystemRandom::new();
    let msg = case("ES256")
        .token
        .rsplit_once('.')
        .unwrap()
        .0
        .as_bytes()
        .to_vec();
    let mut g = c.benchmark_group("provider_choice");
    // aws-lc-rs and ring share one API shape: verify through each, by name.
    fn both(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        alg: &str,
        (lc, rg): (
            &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
            &'static dyn ring::signature::VerificationAlgorithm,
        ),
        key: &[u8],
        msg: &[u8],
        sig: &[u8],
    ) {
        g.bench_function(format!("{alg}/aws-lc-rs"), |b| {
            b.iter(|| {
                aws_lc_rs::signature::UnparsedPublicKey::new(lc, key)
                    .verify(black_box(msg), sig)
                    .unwrap()
            })
        });
        g.bench_function(format!("{alg}/ring"), |b| {
            b.iter(|| {
                ring::signature::UnparsedPublicKey::new(rg, key)
                    .verify(black_box(msg), sig)
                    .unwrap()
            })
        });
    }

    let ec_doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_doc.as_ref()).unwrap();
    let ec_pub = ec.public_key().as_ref().to_vec();
    let ec_sig = ec.sign(&rng, &msg).unwrap().as_ref().to_vec();
    let rc_ec = p256::ecdsa::VerifyingKey::from_sec1_bytes(&ec_pub).unwrap();
    let rc_ec_sig = p256::ecdsa::Signature::from_slice(&ec_sig).unwrap();
    both(
        &mut g,
        "ES256",
        (
            &ECDSA_P256_SHA256_FIXED,
            &ring::signature::ECDSA_P256_SHA256_FIXED,
        ),
        &ec_pub,
        &msg,
        &ec_sig,
    );
    g.bench_function("ES256/rustcrypto-p256", |b| {
        use p256::ecdsa::signature::Verifier;
        b.iter(|| rc_ec.verify(black_box(&msg), &rc_ec_sig).unwrap())
    });

    let ed_doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed = Ed25519KeyPair::from_pkcs8(ed_doc.as_ref()).unwrap();
    let ed_pub: [u8; 32] = ed.public_key().as_ref().try_into().unwrap();
    let ed_sig: [u8; 64] = ed.sign(&msg).as_ref().try_into().unwrap();
    let dalek = ed25519_dalek::VerifyingKey::from_bytes(&ed_pub).unwrap();
    let dalek_sig = ed25519_dalek::Signature::from_bytes(&ed_sig);
    both(
        &mut g,
        "EdDSA",
        (&ED25519, &ring::signature::ED25519),
        &ed_pub,
        &msg,
        &ed_sig,
    );
    g.bench_function("EdDSA/ed25519-dalek", |b| {
        b.iter(|| dalek.verify_strict(black_box(&msg), &dalek_sig).unwrap())
    });

    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rsa_pub = rsa.public_key().as_ref().to_vec(); // PKCS#1 RSAPublicKey DER
    let mut rsa_sig = vec![0u8; rsa.public_modulus_len()];
    rsa.sign(&RSA_PKCS1_SHA256, &rng, &msg, &mut rsa_sig)
        .unwrap();
    let rc_rsa = {
        use rsa::pkcs1::DecodeRsaPublicKey;
        rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(
            rsa::RsaPublicKey::from_pkcs1_der(&rsa_pub).unwrap(),
        )
    };
    let rc_rsa_sig = rsa::pkcs1v15::Signature::try_from(rsa_sig.as_slice()).unwrap();
    both(
        &mut g,
        "RS256",
        (
            &RSA_PKCS1_2048_8192_SHA256,
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        &rsa_pub,
        &msg,
        &rsa_sig,
    );
    g.bench_function("RS256/rustcrypto-rsa", |b| {
        use rsa::signature::Verifier;
        b.iter(|| rc_rsa.verify(black_box(&msg), &rc_rsa_sig).unwrap())
    });
    g.finish();
}

/// DPoP (RFC 9449): one proof, end to end (parse, the JWK, the signature,
/// thumbprint, claims), against the bare ES256 verification it contains.
/// The proofs are RFC 9449's own (figures 2 and 13).
fn dpop(c: &mut Criterion) {
    use sealgate::authn::dpop::{proof, Dpop, DpopMode, DpopSettings};
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/vectors/dpop-examples.json")).unwrap();
    let algs = DpopSettings::default().algorithms;
    let fig2 = v["proof_figure_2"]["jwt"].as_str().unwrap().to_string();
    let r = &v["proof_figure_13_resource"];
    let (fig13, token) = (
        r["jwt"].as_str().unwrap(),
        r["access_token"].as_str().unwrap(),
    );
    let policy = Dpop::new(
        "bench",
        &DpopSettings {
            mode: DpopMode::Required,
            ..DpopSettings::default()
        },
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("dpop", fig13.parse().unwrap());
    headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
    let (method, uri) = (
        http::Method::GET,
        "/protectedresource".parse::<http::Uri>().unwrap(),
    );
    let bound = sealgate::authn::Binding::Dpop {
        jkt: v["jkt"].as_str().unwrap().to_string(),
    };
    let mut g = c.benchmark_group("dpop");
    g.bench_function("proof_parse_es256", |b| {
        b.iter(|| proof::parse(black_box(&fig2), &algs).unwrap())
    });
    g.bench_function("enforce_es256_bound_token", |b| {
        b.iter(|| {
            let at = sealgate::authn::Attempt::new(
                &method,
                &uri,
                "resource.example.org",
                &headers,
                1562262618,
            );
            policy.enforce(&at, black_box(token), Some(&bound)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    dpop,
    provider_choice,
    ohttp,
    ohttp_kem,
    routing,
    jwt_cold,
    jwt_cached,
    jwt_invalid,
    jwt_miss,
    cached_parts,
    crypto_parts,
    header_rewrite,
    assertion_sign
);
criterion_main!(benches);
