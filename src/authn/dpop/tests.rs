//! RFC 9449's own examples (tests/fixtures/vectors/dpop-examples.json) and
//! the refusals RFC 9449 §4.3 lists.

use super::*;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/vectors/dpop-examples.json"
    ))
    .unwrap()
}

fn policy(mode: DpopMode) -> Dpop {
    let s = DpopSettings {
        mode,
        ..DpopSettings::default()
    };
    Dpop::new("test", &s).unwrap()
}

#[test]
fn rfc9449_thumbprints() {
    let v = vectors();
    let jwk = v["rfc7638_section_3_1"]["jwk"].as_object().unwrap();
    assert_eq!(
        thumbprint(jwk).unwrap(),
        v["rfc7638_section_3_1"]["thumbprint_sha256_b64url"]
    );
    let fig4 = v["proof_figure_2"]["decoded_figure_4"]["header"]["jwk"]
        .as_object()
        .unwrap();
    assert_eq!(thumbprint(fig4).unwrap(), v["jkt"]);
    let r = &v["proof_figure_13_resource"];
    assert_eq!(
        access_token_hash(r["access_token"].as_str().unwrap()),
        r["ath"]
    );
}

#[test]
fn rfc9449_token_request_proof_verifies() {
    let v = vectors();
    let jws = v["proof_figure_2"]["jwt"].as_str().unwrap();
    let p = proof::parse(jws, &DpopSettings::default().algorithms).unwrap();
    assert_eq!(p.jkt, v["jkt"]);
    assert_eq!((p.htm.as_str(), p.iat), ("POST", 1562262616));
    let mut headers = HeaderMap::new();
    headers.insert("dpop", jws.parse().unwrap());
    let (post, target) = (Method::POST, "/token".parse::<Uri>().unwrap());
    let d = policy(DpopMode::Required);
    let at = Attempt::new(&post, &target, "server.example.com", &headers, 1562262620);
    assert_eq!(d.proof(&at, None).unwrap().unwrap().jkt, v["jkt"]);
    let late = Attempt::new(
        &post,
        &target,
        "server.example.com",
        &headers,
        1562262616 + 61,
    );
    assert_eq!(d.proof(&late, None), Err(AuthFailure::DpopStale));
    let get = Method::GET;
    let at = Attempt::new(&get, &target, "server.example.com", &headers, 1562262620);
    assert_eq!(d.proof(&at, None), Err(AuthFailure::DpopWrongMethod));
    let other: Uri = "/token2".parse().unwrap();
    let at = Attempt::new(&post, &other, "server.example.com", &headers, 1562262620);
    assert_eq!(d.proof(&at, None), Err(AuthFailure::DpopWrongUrl));
    // One flipped signature character.
    let mut bad = jws.to_string().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        proof::parse(
            std::str::from_utf8(&bad).unwrap(),
            &[jsonwebtoken::Algorithm::ES256]
        ),
        Err(AuthFailure::DpopInvalid)
    );
    assert_eq!(
        proof::parse(jws, &[jsonwebtoken::Algorithm::EdDSA]),
        Err(AuthFailure::DpopAlgNotAllowed)
    );
}

#[test]
fn rfc9449_resource_proof_binds_the_access_token() {
    let v = vectors();
    let r = &v["proof_figure_13_resource"];
    let token = r["access_token"].as_str().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("dpop", r["jwt"].as_str().unwrap().parse().unwrap());
    headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
    let (get, target) = (Method::GET, "/protectedresource".parse::<Uri>().unwrap());
    let at = Attempt::new(&get, &target, "resource.example.org", &headers, 1562262618);
    let bound = Binding::Dpop {
        jkt: v["jkt"].as_str().unwrap().to_string(),
    };
    let d = policy(DpopMode::Optional);
    let (key, _) = d.enforce(&at, token, Some(&bound)).unwrap().unwrap();
    assert!(key.ends_with(":e1j3V_bKic8-LAEB"), "{key}");
    assert_eq!(
        d.enforce(&at, "another-token", Some(&bound)),
        Err(AuthFailure::DpopWrongAth)
    );
    let stranger = Binding::Dpop {
        jkt: "x".repeat(43),
    };
    assert_eq!(
        d.enforce(&at, token, Some(&stranger)),
        Err(AuthFailure::DpopKeyMismatch)
    );
    assert_eq!(
        policy(DpopMode::Off).enforce(&at, token, Some(&bound)),
        Err(AuthFailure::UnsupportedBinding)
    );
    // The bound token as a plain bearer token: refused, proof or not.
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let at = Attempt::new(&get, &target, "resource.example.org", &headers, 1562262618);
    assert_eq!(
        d.enforce(&at, token, Some(&bound)),
        Err(AuthFailure::DpopBoundAsBearer)
    );
    // An unbound bearer token: fine when optional, refused when required.
    assert_eq!(d.enforce(&at, token, None), Ok(None));
    assert_eq!(
        policy(DpopMode::Required).enforce(&at, token, None),
        Err(AuthFailure::DpopNotBound)
    );
}

#[test]
fn private_keys_and_symmetric_algorithms_are_refused() {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let v = vectors();
    let mut header = v["proof_figure_2"]["decoded_figure_4"]["header"].clone();
    let payload = b64(&v["proof_figure_2"]["decoded_figure_4"]["payload"]);
    header["jwk"]["d"] = Value::from("private");
    let algs = DpopSettings::default().algorithms;
    let jws = format!("{}.{payload}.c2ln", b64(&header));
    assert_eq!(proof::parse(&jws, &algs), Err(AuthFailure::DpopPrivateKey));
    for alg in ["none", "HS256"] {
        let mut h = v["proof_figure_2"]["decoded_figure_4"]["header"].clone();
        h["alg"] = Value::from(alg);
        let jws = format!("{}.{payload}.c2ln", b64(&h));
        assert_eq!(
            proof::parse(&jws, &algs),
            Err(AuthFailure::DpopAlgNotAllowed),
            "{alg}"
        );
    }
    let mut h = v["proof_figure_2"]["decoded_figure_4"]["header"].clone();
    h["typ"] = Value::from("JWT");
    let jws = format!("{}.{payload}.c2ln", b64(&h));
    assert_eq!(proof::parse(&jws, &algs), Err(AuthFailure::DpopInvalid));
}
