//! RFC 9458 §4 encapsulation, composed exactly as the RFC says from HPKE
//! (RFC 9180: for X25519 the aws-lc-rs receiver in `x25519_receiver`, for P-256
//! the pure-Rust `hpke` crate) and, for responses, HKDF and the AEAD
//! of the binary's one provider (aws-lc-rs). The `ohttp` crate serves as the
//! independent client in tests; it cannot import raw private keys (needed for
//! operators' keys and the RFC's own test vector) nor do P-256 in pure Rust.

pub use super::seal::ResponseSealer;
use super::suites::{aead_lens, enc_len};
pub use super::suites::{
    EnvelopeError, AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256,
    KEM_P256, KEM_X25519,
};
use hpke::{Deserializable, Kem as _, Serializable};
use std::fmt;

const REQUEST_LABEL: &[u8] = b"message/bhttp request";
const RESPONSE_LABEL: &[u8] = b"message/bhttp response";
const HEADER_LEN: usize = 7;

/// A gateway key pair with its key id and accepted AEADs. `Debug` hides the secret.
pub struct GatewayKey {
    pub id: u8,
    pub kem: u16,
    sk: Vec<u8>,
    pub pk: Vec<u8>,
    pub aeads: Vec<u16>,
    /// The X25519 key prepared for aws-lc (None for P-256).
    x25519: Option<super::x25519_receiver::Recipient>,
}

impl fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GatewayKey(id {}, kem {:#06x}, {:?})",
            self.id, self.kem, self.aeads
        )
    }
}

impl GatewayKey {
    /// From a raw private key (32 bytes for X25519 and P-256).
    pub fn from_private(
        id: u8,
        kem: u16,
        sk: &[u8],
        aeads: Vec<u16>,
    ) -> Result<GatewayKey, String> {
        let pk = match kem {
            KEM_X25519 => {
                let sk = <hpke::kem::X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(sk)
                    .map_err(|_| "invalid X25519 private key")?;
                hpke::kem::X25519HkdfSha256::sk_to_pk(&sk)
                    .to_bytes()
                    .to_vec()
            }
            KEM_P256 => {
                let sk = <hpke::kem::DhP256HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(sk)
                    .map_err(|_| "invalid P-256 private key")?;
                hpke::kem::DhP256HkdfSha256::sk_to_pk(&sk)
                    .to_bytes()
                    .to_vec()
            }
            _ => return Err("unsupported KEM".into()),
        };
        if aeads.is_empty() {
            return Err("at least one AEAD is required".into());
        }
        let x25519 = match kem {
            KEM_X25519 => {
                let r = super::x25519_receiver::Recipient::new(sk)?;
                if r.public_key()[..] != pk[..] {
                    return Err("X25519 public key mismatch between providers".into());
                }
                Some(r)
            }
            _ => None,
        };
        Ok(GatewayKey {
            id,
            kem,
            sk: sk.to_vec(),
            pk,
            aeads,
            x25519,
        })
    }

    /// A fresh private key: HPKE DeriveKeyPair over 32 random bytes (valid for both KEMs).
    pub fn generate_private(kem: u16) -> Result<Vec<u8>, String> {
        let mut ikm = [0u8; 32];
        aws_lc_rs::rand::fill(&mut ikm).map_err(|_| "no randomness available")?;
        Ok(match kem {
            KEM_X25519 => hpke::kem::X25519HkdfSha256::derive_keypair(&ikm)
                .0
                .to_bytes()
                .to_vec(),
            KEM_P256 => hpke::kem::DhP256HkdfSha256::derive_keypair(&ikm)
                .0
                .to_bytes()
                .to_vec(),
            _ => return Err("unsupported KEM".into()),
        })
    }

    /// The key configuration (RFC 9458 §3.1).
    pub fn config(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.pk.len() + 2 + 4 * self.aeads.len());
        out.push(self.id);
        out.extend_from_slice(&self.kem.to_be_bytes());
        out.extend_from_slice(&self.pk);
        let suites = u16::try_from(4 * self.aeads.len()).unwrap_or(0);
        out.extend_from_slice(&suites.to_be_bytes());
        for a in &self.aeads {
            out.extend_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
            out.extend_from_slice(&a.to_be_bytes());
        }
        out
    }
}

/// `application/ohttp-keys` (RFC 9540 §3): each configuration with a 2-byte length.
pub fn config_list<'a>(keys: impl Iterator<Item = &'a GatewayKey>) -> Vec<u8> {
    let mut out = Vec::new();
    for k in keys {
        let c = k.config();
        out.extend_from_slice(&u16::try_from(c.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&c);
    }
    out
}

/// An opened request: the Binary HTTP message and what is needed to seal the answer.
pub struct Opened {
    pub request: Vec<u8>,
    pub key_id: u8,
    /// The encapsulated key: unique per request, the replay-detection key.
    pub enc: Vec<u8>,
    pub sealer: ResponseSealer,
}

fn open_with<A: hpke::aead::Aead, K: hpke::Kem>(
    sk: &[u8],
    enc: &[u8],
    info: &[u8],
    ct: &[u8],
    export_len: usize,
) -> Result<(Vec<u8>, Vec<u8>), EnvelopeError> {
    let sk = K::PrivateKey::from_bytes(sk).map_err(|_| EnvelopeError::UnknownKey)?;
    let enc = K::EncappedKey::from_bytes(enc).map_err(|_| EnvelopeError::Malformed)?;
    let mut ctx =
        hpke::setup_receiver::<A, hpke::kdf::HkdfSha256, K>(&hpke::OpModeR::Base, &sk, &enc, info)
            .map_err(|_| EnvelopeError::DecryptFailed)?;
    let plaintext = ctx
        .open(ct, b"")
        .map_err(|_| EnvelopeError::DecryptFailed)?;
    let mut secret = vec![0u8; export_len];
    ctx.export(RESPONSE_LABEL, &mut secret)
        .map_err(|_| EnvelopeError::DecryptFailed)?;
    Ok((plaintext, secret))
}

/// Opens an encapsulated request (RFC 9458 §4.3) with the key it names.
pub fn open<'a>(
    keys: impl Iterator<Item = &'a GatewayKey>,
    msg: &[u8],
) -> Result<Opened, EnvelopeError> {
    if msg.len() < HEADER_LEN {
        return Err(EnvelopeError::Malformed);
    }
    let key_id = msg[0];
    let be = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    let (kem, kdf, aead_id) = (be(1), be(3), be(5));
    let mut keys = keys;
    let key = keys
        .find(|k| k.id == key_id)
        .ok_or(EnvelopeError::UnknownKey)?;
    if kem != key.kem {
        return Err(EnvelopeError::UnknownKey);
    }
    if kdf != KDF_HKDF_SHA256 || !key.aeads.contains(&aead_id) {
        return Err(EnvelopeError::UnsupportedSuite);
    }
    let n_enc = enc_len(kem);
    if msg.len() < HEADER_LEN + n_enc + 16 {
        return Err(EnvelopeError::Malformed);
    }
    let (enc, ct) = msg[HEADER_LEN..].split_at(n_enc);
    let mut info = Vec::with_capacity(REQUEST_LABEL.len() + 1 + HEADER_LEN);
    info.extend_from_slice(REQUEST_LABEL);
    info.push(0);
    info.extend_from_slice(&msg[..HEADER_LEN]);
    let (n_k, n_n) = aead_lens(aead_id);
    let export_len = n_k.max(n_n);
    use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
    use hpke::kem::DhP256HkdfSha256 as P256;
    let (request, secret) = match (&key.x25519, aead_id) {
        (Some(recipient), _) => {
            let mut secret = vec![0u8; export_len];
            recipient
                .open(aead_id, enc, &info, ct, RESPONSE_LABEL, &mut secret)
                .map(|request| (request, secret))
        }
        (None, AEAD_AES_128_GCM) => {
            open_with::<AesGcm128, P256>(&key.sk, enc, &info, ct, export_len)
        }
        (None, AEAD_AES_256_GCM) => {
            open_with::<AesGcm256, P256>(&key.sk, enc, &info, ct, export_len)
        }
        (None, _) => open_with::<ChaCha20Poly1305, P256>(&key.sk, enc, &info, ct, export_len),
    }?;
    Ok(Opened {
        request,
        key_id,
        enc: enc.to_vec(),
        sealer: ResponseSealer::new(aead_id, secret, enc.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut header = vec![key.id];
        header.extend_from_slice(&KEM_X25519.to_be_bytes());
        header.extend_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
        header.extend_from_slice(&aead.to_be_bytes());
        let mut info = REQUEST_LABEL.to_vec();
        info.push(0);
        info.extend_from_slice(&header);
        let pk = <K as hpke::Kem>::PublicKey::from_bytes(&key.pk).unwrap();
        let (enc, mut ctx) = hpke::setup_sender::<A, hpke::kdf::HkdfSha256, K, _>(
            &hpke::OpModeS::Base,
            &pk,
            &info,
            &mut rng,
        )
        .unwrap();
        let ct = ctx.seal(request, b"").unwrap();
        let (n_k, n_n) = aead_lens(aead);
        let mut secret = vec![0u8; n_k.max(n_n)];
        ctx.export(RESPONSE_LABEL, &mut secret).unwrap();
        let mut envelope = header;
        envelope.extend_from_slice(&enc.to_bytes());
        envelope.extend_from_slice(&ct);
        (envelope, secret)
    }

    /// Every AEAD through the X25519 path, against the `hpke` crate's sender
    /// (request and exported secret) and, where it supports the AEAD, the
    /// independent `ohttp` client (which also opens our sealed response).
    /// Tampering and a small-order `enc` are refused.
    #[test]
    fn x25519_every_aead_against_independent_senders() {
        use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
        for aead in [AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305] {
            let sk = GatewayKey::generate_private(KEM_X25519).unwrap();
            let key = GatewayKey::from_private(9, KEM_X25519, &sk, vec![aead]).unwrap();
            let (envelope, secret) = match aead {
                AEAD_AES_128_GCM => hpke_crate_envelope::<AesGcm128>(&key, aead, b"the request"),
                AEAD_AES_256_GCM => hpke_crate_envelope::<AesGcm256>(&key, aead, b"the request"),
                _ => hpke_crate_envelope::<ChaCha20Poly1305>(&key, aead, b"the request"),
            };
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
}
