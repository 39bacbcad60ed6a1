use super::algs::{ContentAlg, JweFault, KeyAlg};
use super::keys::{self, Curve, DecryptionKey};
use super::*;

fn oct(len: usize, kid: &str) -> DecryptionKey {
    let k = URL_SAFE_NO_PAD.encode(vec![9u8; len]);
    let jwk = format!(r#"{{"kty":"oct","k":"{k}","kid":"{kid}"}}"#);
    keys::parse(jwk.as_bytes(), None).unwrap().remove(0)
}

fn ec(curve: Curve) -> DecryptionKey {
    let pem = keys::generate_pem(curve).unwrap();
    keys::parse(pem.as_bytes(), None).unwrap().remove(0)
}

fn decryptor(keys: Vec<DecryptionKey>) -> Decryptor {
    Decryptor {
        keys,
        algs: KeyAlg::ALL.to_vec(),
        encs: ContentAlg::ALL.to_vec(),
    }
}

#[test]
fn every_supported_pair_round_trips() {
    for enc in ContentAlg::ALL {
        let mut cases = vec![
            (KeyAlg::Dir, oct(enc.key_len(), "d")),
            (KeyAlg::A128Kw, oct(16, "k1")),
            (KeyAlg::A256Kw, oct(32, "k2")),
        ];
        for curve in [Curve::P256, Curve::P384, Curve::X25519] {
            for alg in [KeyAlg::EcdhEs, KeyAlg::EcdhEsA128Kw, KeyAlg::EcdhEsA256Kw] {
                cases.push((alg, ec(curve)));
            }
        }
        for (alg, key) in cases {
            let token = encrypt(b"{\"a\":1}", &key, alg, enc, Some("JWT")).unwrap();
            let d = decryptor(vec![key]);
            let opened = d.decrypt(&token, 1000).unwrap();
            assert_eq!(&opened.plaintext[..], b"{\"a\":1}", "{alg:?} {enc:?}");
            assert!(opened.nested);
            assert_eq!((opened.alg, opened.enc), (alg, enc));
        }
    }
}

/// RFC 7516 Appendix A.3.7, the complete A128KW + A128CBC-HS256 token.
#[test]
fn rfc7516_appendix_a3_opens() {
    let kek = keys::parse(br#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#, None).unwrap();
    let token = "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.AxY8DCtDaGlsbGljb3RoZQ.KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04DJvceFICbCVQ";
    let opened = decryptor(kek).decrypt(token, 1000).unwrap();
    assert_eq!(&opened.plaintext[..], b"Live long and prosper.");
    assert!(!opened.nested);
}

#[test]
fn refusals_name_their_fault() {
    let key = ec(Curve::P256);
    let token = encrypt(b"x", &key, KeyAlg::EcdhEs, ContentAlg::A256Gcm, None).unwrap();
    let d = decryptor(vec![key]);
    let parts: Vec<&str> = token.split('.').collect();
    let with_header = |h: serde_json::Value| {
        let mut p = parts.clone();
        let h = URL_SAFE_NO_PAD.encode(h.to_string());
        p[0] = &h;
        d.decrypt(&p.join("."), 1000).err()
    };
    let mut h: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    h["x"] = 1.into();
    assert_eq!(
        with_header(h.clone()),
        Some(JweFault::Decryption),
        "the header is the AAD"
    );
    h.as_object_mut().unwrap().remove("x");
    h["zip"] = "DEF".into();
    assert_eq!(with_header(h.clone()), Some(JweFault::Compressed));
    h.as_object_mut().unwrap().remove("zip");
    h["jku"] = "https://evil".into();
    assert_eq!(with_header(h.clone()), Some(JweFault::UntrustedHeader));
    h.as_object_mut().unwrap().remove("jku");
    h["alg"] = "RSA1_5".into();
    assert_eq!(with_header(h.clone()), Some(JweFault::AlgNotAllowed));
    h["alg"] = "ECDH-ES".into();
    h["kid"] = "other".into();
    assert_eq!(with_header(h.clone()), Some(JweFault::UnknownKey));
    h.as_object_mut().unwrap().remove("kid");
    h["epk"]["crv"] = "P-384".into();
    // Without a kid, only keys on the ephemeral key's curve are candidates.
    assert_eq!(with_header(h.clone()), Some(JweFault::UnknownKey));
    h["kid"] = d.keys[0].kid.clone().into();
    assert_eq!(with_header(h.clone()), Some(JweFault::BadEphemeralKey));
    let mut tampered = parts.clone();
    let tag = URL_SAFE_NO_PAD.encode([0u8; 16]);
    tampered[4] = &tag;
    assert_eq!(
        d.decrypt(&tampered.join("."), 1000).err(),
        Some(JweFault::Decryption)
    );
    assert_eq!(d.decrypt(&token, 0).err(), Some(JweFault::TooLarge));
    assert_eq!(d.decrypt("a.b.c", 1000).err(), Some(JweFault::Malformed));
}

#[test]
fn a_wrapped_key_that_does_not_unwrap_fails_at_the_tag() {
    let key = oct(16, "k");
    let token = encrypt(b"x", &key, KeyAlg::A128Kw, ContentAlg::A128Gcm, None).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = URL_SAFE_NO_PAD.encode([1u8; 24]);
    let d = decryptor(vec![key]);
    assert_eq!(
        d.decrypt(&parts.join("."), 1000).err(),
        Some(JweFault::KeyUnwrap)
    );
}

#[test]
fn published_keys_are_public_and_carry_use_enc() {
    for curve in [Curve::P256, Curve::P384, Curve::X25519] {
        let jwk = ec(curve).public_jwk().unwrap();
        assert_eq!(jwk["use"], "enc");
        assert!(jwk.get("d").is_none());
        assert_eq!(jwk["crv"], curve.name());
    }
    assert!(oct(32, "s").public_jwk().is_none());
}

#[test]
fn rsa_oaep_256_round_trips_and_publishes_n_and_e() {
    let k =
        aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let key = DecryptionKey {
        kid: "r".into(),
        alg: None,
        material: keys::Material::Rsa(k),
    };
    let jwk = key.public_jwk().unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["e"].as_str()),
        (Some("RSA"), Some("AQAB"))
    );
    let token = encrypt(
        b"hi",
        &key,
        KeyAlg::RsaOaep256,
        ContentAlg::A256CbcHs512,
        None,
    )
    .unwrap();
    let opened = decryptor(vec![key]).decrypt(&token, 100).unwrap();
    assert_eq!(&opened.plaintext[..], b"hi");
}
