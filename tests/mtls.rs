//! mTLS: client certificates made here (a CA, SPIFFE and DNS leaves, a leaf of
//! another CA, an expired leaf, a revoked leaf in a CRL) against the real
//! gateway over real TLS, in optional and required mode; certificate-bound
//! JWTs (RFC 8705); and `x-forwarded-client-cert` written only by the gateway.

mod common;

use common::{
    array, boolean, file, list, path, s, start_gateway, Config, Pki, Route, TomlValue, Upstream,
};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        Ca {
            cert: p.self_signed(&key).unwrap(),
            key,
        }
    }

    /// A client leaf with `sans`, serial `serial`, optionally already expired.
    fn leaf(
        &self,
        sans: Vec<SanType>,
        serial: u64,
        expired: bool,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = sans;
        p.distinguished_name.push(DnType::CommonName, "client");
        p.serial_number = Some(SerialNumber::from(serial));
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            p.not_before = date_time_ymd(2020, 1, 1);
            p.not_after = date_time_ymd(2021, 1, 1);
        }
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
    }

    fn crl(&self, revoked: u64) -> String {
        let p = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(revoked),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: None,
                invalidity_date: None,
            }],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        p.signed_by(&self.cert, &self.key).unwrap().pem().unwrap()
    }
}

fn spiffe(id: &str) -> Vec<SanType> {
    vec![SanType::URI(id.try_into().unwrap())]
}

/// An HTTPS client presenting `identity` (or none).
fn client(
    pki: &Pki,
    addr: std::net::SocketAddr,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> reqwest::Client {
    let mut tls = pki.client_tls(&[b"http/1.1"], false);
    if let Some((chain, key)) = identity {
        let base = pki.client_tls(&[b"http/1.1"], false);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(pem_der(&pki.ca_pem)))
            .unwrap();
        tls = rustls::ClientConfig::builder_with_provider(sealgate::net::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        tls.alpn_protocols = base.alpn_protocols;
    }
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", addr)
        .no_proxy()
        .http1_only()
        .build()
        .unwrap()
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

struct Setup {
    pki: Pki,
    ca: Ca,
    up: Upstream,
    jwt_key: jsonwebtoken::EncodingKey,
}

async fn setup() -> Setup {
    let pki = Pki::new();
    let ca = Ca::new("workload CA");
    std::fs::write(pki.path("clients.pem"), ca.cert.pem()).unwrap();
    std::fs::write(pki.path("crl.pem"), ca.crl(666)).unwrap();
    let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    std::fs::write(pki.path("jwt.pub.pem"), k.public_key_pem()).unwrap();
    let jwt_key = jsonwebtoken::EncodingKey::from_ed_pem(k.serialize_pem().as_bytes()).unwrap();
    Setup {
        pki,
        ca,
        up: Upstream::start().await,
        jwt_key,
    }
}

fn config(st: &Setup, mode: &str) -> Config {
    let p = |n: &str| st.pki.path(n);
    Config::new(&st.pki)
        .set("listen.tls.client_ca", path(p("clients.pem")))
        .set("listen.tls.client_auth", s(mode))
        .set("listen.tls.crls", array(vec![path(p("crl.pem"))]))
        .upstream("app", &st.up.url())
        .set("identity.forward_client_cert", boolean(true))
        .authenticator(
            "workloads",
            "mtls",
            &[
                ("identity", s("san_uri")),
                ("allow", list(&["spiffe://prod.example/ns/*/sa/*"])),
            ],
        )
        .authenticator(
            "bound",
            "jwt",
            &[
                ("issuer", s("https://issuer.test")),
                ("audiences", list(&["api"])),
                ("algorithms", list(&["EdDSA"])),
                ("keys", file(p("jwt.pub.pem"))),
                ("certificate_bound", boolean(true)),
            ],
        )
        .route(Route::new("svc", "/svc", "app").auth(&["workloads"]))
        .route(Route::new("tok", "/tok", "app").auth(&["bound"]))
        .route(Route::new("open", "/open", "app").anonymous())
}

fn thumbprint(chain: &[CertificateDer<'_>]) -> String {
    use base64::Engine;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &chain[0]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

fn bound_token(s: &Setup, x5t: &str) -> String {
    let now = sealgate::authn::unix_now();
    let c = serde_json::json!({"iss": "https://issuer.test", "aud": "api", "sub": "alice", "exp": now + 600, "cnf": {"x5t#S256": x5t}});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &c,
        &s.jwt_key,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_mode_serves_certificates_and_tokens_on_one_listener() {
    let s = setup().await;
    let (gw, _d) = start_gateway(&config(&s, "optional")).await;
    let url = |p: &str| format!("https://localhost:{}{p}", gw.main_addr.port());

    // A SPIFFE workload: accepted, its ID is the subject; a spoofed XFCC is replaced.
    let good = s.ca.leaf(
        spiffe("spiffe://prod.example/ns/web/sa/frontend"),
        10,
        false,
    );
    let x5t = thumbprint(&good.0);
    let c = client(&s.pki, gw.main_addr, Some(good));
    let r = c
        .get(url("/svc/a"))
        .header("x-forwarded-client-cert", "Hash=spoofed")
        .header("x-auth-subject", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let seen = s.up.last();
    assert_eq!(
        seen.headers["x-auth-subject"],
        "spiffe://prod.example/ns/web/sa/frontend"
    );
    let xfcc = seen.headers["x-forwarded-client-cert"].to_str().unwrap();
    assert!(
        xfcc.starts_with("Hash=") && !xfcc.contains("spoofed"),
        "{xfcc}"
    );
    assert!(
        xfcc.contains("URI=\"spiffe://prod.example/ns/web/sa/frontend\""),
        "{xfcc}"
    );
    assert_eq!(
        seen.headers
            .get_all("x-forwarded-client-cert")
            .iter()
            .count(),
        1
    );

    // The token bound to this certificate works over this connection ...
    let t = bound_token(&s, &x5t);
    assert_eq!(
        c.get(url("/tok/a"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    // ... and not over a connection with another certificate, nor without one.
    let other = client(
        &s.pki,
        gw.main_addr,
        Some(s.ca.leaf(spiffe("spiffe://prod.example/ns/web/sa/other"), 11, false)),
    );
    let r = other
        .get(url("/tok/a"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let none = client(&s.pki, gw.main_addr, None);
    assert_eq!(
        none.get(url("/tok/a"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Without a certificate: the anonymous route works, the mTLS route says missing;
    // a client's XFCC never reaches the backend.
    let r = none
        .get(url("/open/x"))
        .header("x-forwarded-client-cert", "Hash=spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(s.up.last().headers.get("x-forwarded-client-cert").is_none());
    let r = none.get(url("/svc/a")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // A certificate outside the allowed SPIFFE paths, or a DNS-only one: refused.
    for sans in [
        spiffe("spiffe://prod.example/ns/web/x/sa/deep"),
        spiffe("spiffe://evil.example/ns/a/sa/b"),
        vec![SanType::DnsName("client.test".try_into().unwrap())],
    ] {
        let c = client(&s.pki, gw.main_addr, Some(s.ca.leaf(sans, 12, false)));
        let r = c.get(url("/svc/a")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["type"], "urn:sealgate:problem:certificate_not_allowed");
    }

    // Another CA, an expired leaf, a revoked leaf: the handshake fails, nothing is forwarded.
    let before = s.up.requests().len();
    let foreign = Ca::new("someone else").leaf(
        spiffe("spiffe://prod.example/ns/web/sa/frontend"),
        13,
        false,
    );
    let expired =
        s.ca.leaf(spiffe("spiffe://prod.example/ns/web/sa/frontend"), 14, true);
    let revoked = s.ca.leaf(
        spiffe("spiffe://prod.example/ns/web/sa/frontend"),
        666,
        false,
    );
    for id in [foreign, expired, revoked] {
        let c = client(&s.pki, gw.main_addr, Some(id));
        assert!(
            c.get(url("/svc/a")).send().await.is_err(),
            "a bad client certificate was accepted"
        );
    }
    assert_eq!(s.up.requests().len(), before);
    let metrics = common::scrape_metrics(gw.admin_addr).await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("sealgate_auth_failures_total{") && l.contains("certificate_not_allowed")
        })
        .unwrap_or_default();
    assert!(line.ends_with(" 3"), "{line:?}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_mode_refuses_connections_without_a_certificate() {
    let s = setup().await;
    let (gw, _d) = start_gateway(&config(&s, "required")).await;
    let url = format!("https://localhost:{}/svc/a", gw.main_addr.port());
    assert!(client(&s.pki, gw.main_addr, None)
        .get(&url)
        .send()
        .await
        .is_err());
    let good = client(
        &s.pki,
        gw.main_addr,
        Some(s.ca.leaf(spiffe("spiffe://prod.example/ns/a/sa/b"), 20, false)),
    );
    assert_eq!(good.get(&url).send().await.unwrap().status(), 201);
    assert!(s.up.requests().len() == 1);
    gw.shutdown().await;
}

#[test]
fn mtls_needs_client_certificates_and_its_own_keys() {
    let pki = Pki::new();
    // The authenticator `w` of `kind` with `entries`, on a route of its own.
    let check = |kind: &str, entries: &[(&str, TomlValue)]| {
        let path = pki.path("check.toml");
        Config::new(&pki)
            .authenticator("w", kind, entries)
            .route(Route::new("r", "/", "e").auth(&["w"]))
            .echo_upstream("e")
            .write(&path);
        sealgate::settings::load(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = check("mtls", &[("allow", list(&["**"]))]);
    assert!(
        e.contains("authenticators.w") && e.contains("client_auth"),
        "{e}"
    );
    let e = check(
        "mtls",
        &[("allow", list(&["**"])), ("issuer", s("https://x"))],
    );
    assert!(
        e.contains("authenticators.w")
            && e.contains("unknown field `issuer`")
            && e.contains("allow"),
        "{e}"
    );
    let e = check("saml", &[]);
    assert!(
        e.contains("authenticators.w") && e.contains("jwt") && e.contains("api-key"),
        "{e}"
    );
}
