//! RFC 9458 §4 encapsulation, composed exactly as the RFC says from HPKE
//! (RFC 9180: for X25519 the aws-lc-rs receiver in `x25519_receiver`, for P-256
//! the pure-Rust `hpke` crate) and, for responses, HKDF and the AEAD
//! of the binary's one provider (aws-lc-rs). The `ohttp` crate serves as the
//! independent client in tests; it cannot import raw private keys (needed for
//! operators' keys and the RFC's own test vector) nor do P-256 in pure Rust.

use super::schedule::Schedule;
pub use super::seal::ResponseSealer;
use super::suites::{enc_len, export_len, HEADER_LEN, RESPONSE_LABEL};
pub use super::suites::{request_header, request_info};
pub use super::suites::{
    EnvelopeError, AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305, KDF_HKDF_SHA256,
    KEM_MLKEM768, KEM_P256, KEM_X25519, KEM_XWING,
};
use hpke::{Deserializable, Kem as _, Serializable};
use std::fmt;

/// A gateway key pair with its key id and accepted AEADs. `Debug` hides the secret.
pub struct GatewayKey {
    pub id: u8,
    pub kem: u16,
    /// The raw private key, kept only for P-256 (the `hpke` crate parses it
    /// per request); wiped on drop.
    sk: zeroize::Zeroizing<Vec<u8>>,
    pub pk: Vec<u8>,
    pub aeads: Vec<u16>,
    /// The X25519 key prepared for aws-lc (None for the other KEMs).
    x25519: Option<super::x25519_receiver::Recipient>,
    /// The ML-KEM-768 or X-Wing key, expanded once.
    pq: Option<super::pq::Recipient>,
    /// The key schedule's fixed half for each request header this key
    /// accepts (one per AEAD; X25519 and post-quantum keys), found by the
    /// header itself, so it can only serve the `info` it was computed from.
    schedules: Vec<([u8; HEADER_LEN], Schedule)>,
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
    /// From a raw private key (32 bytes for X25519, P-256 and X-Wing; 64
    /// for ML-KEM-768).
    pub fn from_private(
        id: u8,
        kem: u16,
        sk: &[u8],
        aeads: Vec<u16>,
    ) -> Result<GatewayKey, String> {
        if aeads.is_empty() {
            return Err("at least one AEAD is required".into());
        }
        if matches!(kem, KEM_MLKEM768 | KEM_XWING) {
            let r = super::pq::Recipient::from_private(kem, sk)?;
            return Ok(GatewayKey {
                id,
                kem,
                sk: zeroize::Zeroizing::new(Vec::new()),
                pk: r.public_key().to_vec(),
                schedules: schedules(id, kem, &aeads),
                aeads,
                x25519: None,
                pq: Some(r),
            });
        }
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
            sk: zeroize::Zeroizing::new(match kem {
                KEM_P256 => sk.to_vec(),
                _ => Vec::new(),
            }),
            pk,
            schedules: match kem {
                KEM_X25519 => schedules(id, kem, &aeads),
                _ => Vec::new(),
            },
            aeads,
            x25519,
            pq: None,
        })
    }

    /// A fresh private key: HPKE DeriveKeyPair over 32 random bytes for the
    /// DH KEMs; a random seed for the post-quantum ones.
    pub fn generate_private(kem: u16) -> Result<Vec<u8>, String> {
        if matches!(kem, KEM_MLKEM768 | KEM_XWING) {
            return super::pq::Recipient::generate_private(kem);
        }
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

/// The OHTTP request `info` (RFC 9458 §4.3) is fixed by the key id, the KEM
/// and the AEAD: its half of the key schedule, once per accepted AEAD.
fn schedules(id: u8, kem: u16, aeads: &[u16]) -> Vec<([u8; HEADER_LEN], Schedule)> {
    aeads
        .iter()
        .map(|&aead| {
            let header = request_header(id, kem, aead);
            (header, Schedule::new(kem, aead, &request_info(&header)))
        })
        .collect()
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
    let export_len = export_len(aead_id);
    let schedule = key
        .schedules
        .iter()
        .find(|(header, _)| header[..] == msg[..HEADER_LEN])
        .map(|(_, schedule)| schedule);
    use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
    use hpke::kem::DhP256HkdfSha256 as P256;
    let info = || request_info(&msg[..HEADER_LEN]);
    let (request, secret) = match (&key.x25519, &key.pq, schedule, aead_id) {
        (_, Some(pq), Some(schedule), _) => {
            let ctx = super::schedule::Context::scheduled(schedule, &pq.decap(enc)?)?;
            let mut secret = vec![0u8; export_len];
            let request = ctx.open(ct)?;
            ctx.export(RESPONSE_LABEL, &mut secret)?;
            Ok((request, secret))
        }
        (Some(recipient), _, Some(schedule), _) => {
            let mut secret = vec![0u8; export_len];
            recipient
                .open(schedule, enc, ct, RESPONSE_LABEL, &mut secret)
                .map(|request| (request, secret))
        }
        // Every accepted AEAD of an X25519 or post-quantum key has its schedule.
        (Some(_), _, None, _) | (_, Some(_), None, _) => Err(EnvelopeError::UnsupportedSuite),
        (None, None, _, AEAD_AES_128_GCM) => {
            open_with::<AesGcm128, P256>(&key.sk, enc, &info(), ct, export_len)
        }
        (None, None, _, AEAD_AES_256_GCM) => {
            open_with::<AesGcm256, P256>(&key.sk, enc, &info(), ct, export_len)
        }
        (None, None, _, _) => {
            open_with::<ChaCha20Poly1305, P256>(&key.sk, enc, &info(), ct, export_len)
        }
    }?;
    Ok(Opened {
        request,
        key_id,
        enc: enc.to_vec(),
        sealer: ResponseSealer::new(aead_id, secret, enc.to_vec()),
    })
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
