//! RFC 9458 §4 encapsulation, composed exactly as the RFC says from HPKE
//! (RFC 9180, the pure-Rust `hpke` crate) and, for responses, HKDF and the AEAD
//! of the binary's one provider (aws-lc-rs). The `ohttp` crate serves as the
//! independent client in tests; it cannot import raw private keys (needed for
//! operators' keys and the RFC's own test vector) nor do P-256 in pure Rust.

use aws_lc_rs::{aead, hkdf};
use hpke::{Deserializable, Kem as _, Serializable};
use std::fmt;

pub const KEM_P256: u16 = 0x0010;
pub const KEM_X25519: u16 = 0x0020;
pub const KDF_HKDF_SHA256: u16 = 0x0001;
pub const AEAD_AES_128_GCM: u16 = 0x0001;
pub const AEAD_AES_256_GCM: u16 = 0x0002;
pub const AEAD_CHACHA20_POLY1305: u16 = 0x0003;

const REQUEST_LABEL: &[u8] = b"message/bhttp request";
const RESPONSE_LABEL: &[u8] = b"message/bhttp response";
const HEADER_LEN: usize = 7;

/// Why an envelope could not be opened (all answered 400, the first two with the
/// RFC 9458 key-configuration problem type so the client refetches keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    UnknownKey,
    UnsupportedSuite,
    Malformed,
    DecryptFailed,
}

impl EnvelopeError {
    pub fn reason(self) -> &'static str {
        match self {
            EnvelopeError::UnknownKey => "unknown_key",
            EnvelopeError::UnsupportedSuite => "unsupported_suite",
            EnvelopeError::Malformed => "malformed_envelope",
            EnvelopeError::DecryptFailed => "decrypt_failed",
        }
    }
}

fn enc_len(kem: u16) -> usize {
    if kem == KEM_P256 {
        65
    } else {
        32
    }
}

fn aead_lens(aead: u16) -> (usize, usize) {
    match aead {
        AEAD_AES_128_GCM => (16, 12),
        _ => (32, 12),
    }
}

/// A gateway key pair with its key id and accepted AEADs. `Debug` hides the secret.
pub struct GatewayKey {
    pub id: u8,
    pub kem: u16,
    sk: Vec<u8>,
    pub pk: Vec<u8>,
    pub aeads: Vec<u16>,
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
        Ok(GatewayKey {
            id,
            kem,
            sk: sk.to_vec(),
            pk,
            aeads,
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
    use hpke::kem::{DhP256HkdfSha256 as P256, X25519HkdfSha256 as X25519};
    let (request, secret) = match (kem, aead_id) {
        (KEM_X25519, AEAD_AES_128_GCM) => {
            open_with::<AesGcm128, X25519>(&key.sk, enc, &info, ct, export_len)
        }
        (KEM_X25519, AEAD_AES_256_GCM) => {
            open_with::<AesGcm256, X25519>(&key.sk, enc, &info, ct, export_len)
        }
        (KEM_X25519, _) => {
            open_with::<ChaCha20Poly1305, X25519>(&key.sk, enc, &info, ct, export_len)
        }
        (_, AEAD_AES_128_GCM) => open_with::<AesGcm128, P256>(&key.sk, enc, &info, ct, export_len),
        (_, AEAD_AES_256_GCM) => open_with::<AesGcm256, P256>(&key.sk, enc, &info, ct, export_len),
        (_, _) => open_with::<ChaCha20Poly1305, P256>(&key.sk, enc, &info, ct, export_len),
    }?;
    Ok(Opened {
        request,
        key_id,
        enc: enc.to_vec(),
        sealer: ResponseSealer {
            aead: aead_id,
            secret,
            enc: enc.to_vec(),
        },
    })
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// Seals the response to one opened request (RFC 9458 §4.4).
pub struct ResponseSealer {
    aead: u16,
    secret: Vec<u8>,
    enc: Vec<u8>,
}

impl ResponseSealer {
    pub fn seal(&self, response: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (n_k, n_n) = aead_lens(self.aead);
        let mut nonce = vec![0u8; n_k.max(n_n)];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| EnvelopeError::DecryptFailed)?;
        self.seal_with_nonce(response, &nonce)
    }

    /// Sealing with a given response nonce (tests reproduce the RFC's example).
    pub fn seal_with_nonce(
        &self,
        response: &[u8],
        response_nonce: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let (n_k, n_n) = aead_lens(self.aead);
        let fail = |_| EnvelopeError::DecryptFailed;
        let mut salt = self.enc.clone();
        salt.extend_from_slice(response_nonce);
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&self.secret);
        let mut key = vec![0u8; n_k];
        prk.expand(&[b"key"], Len(n_k))
            .map_err(fail)?
            .fill(&mut key)
            .map_err(fail)?;
        let mut nonce = [0u8; 12];
        prk.expand(&[b"nonce"], Len(n_n))
            .map_err(fail)?
            .fill(&mut nonce)
            .map_err(fail)?;
        let alg = match self.aead {
            AEAD_AES_128_GCM => &aead::AES_128_GCM,
            AEAD_AES_256_GCM => &aead::AES_256_GCM,
            _ => &aead::CHACHA20_POLY1305,
        };
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).map_err(fail)?);
        let mut out = response.to_vec();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::empty(),
            &mut out,
        )
        .map_err(fail)?;
        let mut sealed = response_nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/rfc9458-appendix-a.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn hex(v: &serde_json::Value) -> Vec<u8> {
        ::hex::decode(v["hex"].as_str().unwrap()).unwrap()
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
        assert_eq!(opened.sealer.secret, hex(&v["exported_secret"]));
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
