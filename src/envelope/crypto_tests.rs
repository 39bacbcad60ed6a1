//! `crypto`'s tests: the RFC 9458 vector, independent senders, bad envelopes.

use super::*;
use crate::envelope::suites::{export_len, request_header, request_info};

fn vector() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/rfc9458-appendix-a.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(v: &serde_json::Value) -> Vec<u8> {
    ::hex::decode(v["hex"].as_str().unwrap()).unwrap()
}

/// An RFC 9458 request sealed by the `hpke` crate's sender, with the secret
/// that sender exports for the response (an oracle independent of our receiver).
fn hpke_crate_envelope<A: hpke::aead::Aead>(
    key: &GatewayKey,
    aead: u16,
    request: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    use hpke::kem::X25519HkdfSha256 as K;
    let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
    let header = request_header(key.id, KEM_X25519, aead);
    let info = request_info(&header);
    let pk = <K as hpke::Kem>::PublicKey::from_bytes(&key.pk).unwrap();
    let (enc, mut ctx) = hpke::setup_sender::<A, hpke::kdf::HkdfSha256, K, _>(
        &hpke::OpModeS::Base,
        &pk,
        &info,
        &mut rng,
    )
    .unwrap();
    let ct = ctx.seal(request, b"").unwrap();
    let mut secret = vec![0u8; export_len(aead)];
    ctx.export(RESPONSE_LABEL, &mut secret).unwrap();
    let mut envelope = header.to_vec();
    envelope.extend_from_slice(&enc.to_bytes());
    envelope.extend_from_slice(&ct);
    (envelope, secret)
}

/// `hpke_crate_envelope` with the `hpke` crate's type for the AEAD id.
fn hpke_crate_envelope_for(key: &GatewayKey, aead: u16, request: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
    match aead {
        AEAD_AES_128_GCM => hpke_crate_envelope::<AesGcm128>(key, aead, request),
        AEAD_AES_256_GCM => hpke_crate_envelope::<AesGcm256>(key, aead, request),
        _ => hpke_crate_envelope::<ChaCha20Poly1305>(key, aead, request),
    }
}

/// Every AEAD through the X25519 path, against the `hpke` crate's sender
/// (request and exported secret) and, where it supports the AEAD, the
/// independent `ohttp` client (which also opens our sealed response).
/// Tampering and a small-order `enc` are refused.
#[test]
fn x25519_every_aead_against_independent_senders() {
    for aead in [AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305] {
        let sk = GatewayKey::generate_private(KEM_X25519).unwrap();
        let key = GatewayKey::from_private(9, KEM_X25519, &sk, vec![aead]).unwrap();
        let (envelope, secret) = hpke_crate_envelope_for(&key, aead, b"the request");
        let opened = open(std::iter::once(&key), &envelope).unwrap();
        assert_eq!(opened.request, b"the request", "aead {aead:#x}");
        assert_eq!(
            opened.sealer.secret(),
            secret,
            "aead {aead:#x}: exported secret"
        );

        if aead != AEAD_AES_256_GCM {
            // The ohttp crate (rust-hpke backend) offers no AES-256-GCM.
            let list = config_list(std::iter::once(&key));
            let (envelope, client) = ohttp::ClientRequest::from_encoded_config_list(&list)
                .unwrap()
                .encapsulate(b"the request")
                .unwrap();
            let opened = open(std::iter::once(&key), &envelope).unwrap();
            assert_eq!(opened.request, b"the request", "aead {aead:#x}");
            let sealed = opened.sealer.seal(b"the response").unwrap();
            assert_eq!(client.decapsulate(&sealed).unwrap(), b"the response");
        }

        let mut tampered = envelope.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            open(std::iter::once(&key), &tampered).err(),
            Some(EnvelopeError::DecryptFailed)
        );
        let mut small_order = envelope.clone();
        small_order[HEADER_LEN..HEADER_LEN + 32].fill(0);
        assert_eq!(
            open(std::iter::once(&key), &small_order).err(),
            Some(EnvelopeError::DecryptFailed)
        );
    }
}

/// One X25519 key that accepts every AEAD: each request is opened with the
/// schedule of its own header (the `info` differs per AEAD), whatever the
/// order of the key's AEADs.
#[test]
fn x25519_key_with_several_aeads_opens_each() {
    let sk = GatewayKey::generate_private(KEM_X25519).unwrap();
    let all = vec![AEAD_CHACHA20_POLY1305, AEAD_AES_128_GCM, AEAD_AES_256_GCM];
    let key = GatewayKey::from_private(4, KEM_X25519, &sk, all).unwrap();
    for aead in [AEAD_AES_256_GCM, AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305] {
        let (envelope, secret) = hpke_crate_envelope_for(&key, aead, b"several");
        let opened = open(std::iter::once(&key), &envelope).unwrap();
        assert_eq!(opened.request, b"several", "aead {aead:#x}");
        assert_eq!(opened.sealer.secret(), secret, "aead {aead:#x}");
    }
}

#[test]
fn rfc9458_appendix_a() {
    let v = vector();
    let key = GatewayKey::from_private(
        1,
        KEM_X25519,
        &hex(&v["gateway_x25519_secret_key"]),
        vec![AEAD_AES_128_GCM, AEAD_CHACHA20_POLY1305],
    )
    .unwrap();
    assert_eq!(
        key.config(),
        hex(&v["key_config"]),
        "key configuration encoding"
    );
    let opened = open([&key].into_iter(), &hex(&v["encapsulated_request"])).unwrap();
    assert_eq!(opened.request, hex(&v["request_bhttp"]));
    assert_eq!(opened.sealer.secret(), hex(&v["exported_secret"]));
    let salt = hex(&v["response_salt"]);
    let nonce = &salt[32..];
    let sealed = opened
        .sealer
        .seal_with_nonce(&hex(&v["response_bhttp"]), nonce)
        .unwrap();
    assert_eq!(sealed, hex(&v["encapsulated_response"]));
}

#[test]
fn bad_envelopes_are_refused_not_panicked() {
    let v = vector();
    let key = GatewayKey::from_private(
        1,
        KEM_X25519,
        &hex(&v["gateway_x25519_secret_key"]),
        vec![AEAD_AES_128_GCM],
    )
    .unwrap();
    let good = hex(&v["encapsulated_request"]);
    let open = |m: &[u8]| open([&key].into_iter(), m).err();
    let mut other_id = good.clone();
    other_id[0] = 9;
    assert_eq!(open(&other_id), Some(EnvelopeError::UnknownKey));
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(open(&flipped), Some(EnvelopeError::DecryptFailed));
    assert_eq!(open(&good[..20]), Some(EnvelopeError::Malformed));
    assert_eq!(open(&[]), Some(EnvelopeError::Malformed));
    let mut suite = good.clone();
    suite[6] = 2;
    assert_eq!(open(&suite), Some(EnvelopeError::UnsupportedSuite));
    // Arbitrary bytes never panic.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for len in 0..300 {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x & 0xff) as u8
            })
            .collect();
        let _ = open(&junk);
    }
}

#[test]
fn p256_round_trip_with_generated_key() {
    let sk = GatewayKey::generate_private(KEM_P256).unwrap();
    let key = GatewayKey::from_private(3, KEM_P256, &sk, vec![AEAD_AES_256_GCM]).unwrap();
    assert_eq!(key.pk.len(), 65);
    assert_eq!(key.config().len(), 1 + 2 + 65 + 2 + 4);
}
