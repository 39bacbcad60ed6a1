//! The HPKE base-mode receiver for DHKEM(X25519, HKDF-SHA256) (RFC 9180
//! §4.1), composed as the RFC writes it from aws-lc-rs X25519 and the key
//! schedule in `schedule`. No primitive is implemented here.
//!
//! Why not the `hpke` crate for this suite: its decapsulation recomputes the
//! recipient's public key from the private key on every request (a second
//! scalar multiplication), and its X25519 is slower than aws-lc's; this path
//! opens a request in about a third of the time (criterion `ohttp/*`). The
//! `hpke` crate still serves P-256, and tests check this module against the
//! RFC 9458 vector, against the `hpke` crate's sender for every AEAD, and
//! against the independent `ohttp` client.

use super::schedule::{kem_suite, labeled_expand, labeled_extract, Context, Schedule, NH};
use super::suites::{EnvelopeError, KEM_X25519};
use aws_lc_rs::agreement;

/// suite_id for the KEM: "KEM" || I2OSP(kem_id, 2).
const KEM_SUITE: [u8; 5] = kem_suite(KEM_X25519);

/// A prepared X25519 recipient key: the private key and its serialized public key.
pub struct Recipient {
    sk: agreement::PrivateKey,
    pk: [u8; 32],
}

impl Recipient {
    pub fn new(sk: &[u8]) -> Result<Recipient, String> {
        let sk = agreement::PrivateKey::from_private_key(&agreement::X25519, sk)
            .map_err(|_| "invalid X25519 private key".to_string())?;
        let public = sk
            .compute_public_key()
            .map_err(|_| "invalid X25519 private key".to_string())?;
        let pk: [u8; 32] = public
            .as_ref()
            .try_into()
            .map_err(|_| "unexpected X25519 public key length".to_string())?;
        Ok(Recipient { sk, pk })
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.pk
    }

    /// `SetupBaseR(enc, skR, info)` (with `info`'s half of the key schedule
    /// in `schedule`), then `Open("", ct)` with sequence number 0 and
    /// `Export(exporter_context, out.len())` into `exported`.
    pub fn open(
        &self,
        schedule: &Schedule,
        enc: &[u8],
        ct: &[u8],
        exporter_context: &[u8],
        exported: &mut [u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let shared_secret = self.decap(enc)?;
        let ctx = Context::scheduled(schedule, &shared_secret)?;
        let plaintext = ctx.open(ct)?;
        ctx.export(exporter_context, exported)?;
        Ok(plaintext)
    }

    /// DHKEM `Decap(enc, skR)` (RFC 9180 §4.1).
    fn decap(&self, enc: &[u8]) -> Result<[u8; NH], EnvelopeError> {
        if enc.len() != 32 {
            return Err(EnvelopeError::Malformed);
        }
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, enc);
        let dh: [u8; 32] = agreement::agree(&self.sk, peer, EnvelopeError::DecryptFailed, |dh| {
            dh.try_into().map_err(|_| EnvelopeError::DecryptFailed)
        })?;
        // §7.1.4: an all-zero shared secret (a small-order point) must abort.
        if dh.iter().all(|&b| b == 0) {
            return Err(EnvelopeError::DecryptFailed);
        }
        let mut kem_context = [0u8; 64];
        kem_context[..32].copy_from_slice(enc);
        kem_context[32..].copy_from_slice(&self.pk);
        let eae_prk = labeled_extract(&[], &KEM_SUITE, b"eae_prk", &dh);
        let mut shared_secret = [0u8; NH];
        labeled_expand(
            &eae_prk,
            &KEM_SUITE,
            b"shared_secret",
            &kem_context,
            &mut shared_secret,
        )?;
        Ok(shared_secret)
    }
}
