//! The HPKE base-mode key schedule with HKDF-SHA256 (RFC 9180 §5.1) and the
//! context's single-use Open and Seal (sequence number 0, all OHTTP uses) and
//! Export (§5.3), composed step by step as the RFC writes it from aws-lc-rs
//! HMAC-SHA256 (HKDF-Extract, RFC 5869), HKDF-Expand and the AEADs. The
//! X25519 and post-quantum receivers (and the test and CLI sender) feed
//! their shared secret here; P-256 goes through the `hpke` crate. The
//! schedule's `info` half (`Schedule`) is computed once per gateway key and
//! AEAD, its shared-secret half (`Context::scheduled`) per request.

use super::suites::{aead_algorithm, aead_lens, EnvelopeError, Len, KDF_HKDF_SHA256};
use aws_lc_rs::{aead, hkdf, hmac};

const HPKE_V1: &[u8] = b"HPKE-v1";
pub const NH: usize = 32;

/// HMAC-SHA256 keyed with the empty salt (HashLen zeros): its key set-up
/// (two SHA-256 blocks) done once, not per extraction.
static ZERO_SALT: std::sync::LazyLock<hmac::Key> =
    std::sync::LazyLock::new(|| hmac::Key::new(hmac::HMAC_SHA256, &[0u8; NH]));

/// `key_schedule_context` = mode_base || psk_id_hash || info_hash (RFC 9180
/// §5.1) with its suite: it depends only on the suite and `info`, which in
/// OHTTP are fixed per gateway key and AEAD, so a key computes it once and
/// each request skips two HMACs.
pub struct Schedule {
    aead_id: u16,
    suite: [u8; 10],
    context: [u8; 1 + 2 * NH],
}

impl Schedule {
    /// The `info` half for a suite (KEM, HKDF-SHA256, `aead_id`); no secret
    /// enters it (the PSK and PSK id are empty in base mode).
    pub fn new(kem: u16, aead_id: u16, info: &[u8]) -> Schedule {
        let suite = hpke_suite(kem, aead_id);
        // The default (empty) PSK and PSK id.
        let psk_id_hash = labeled_extract(&[], &suite, b"psk_id_hash", &[]);
        let info_hash = labeled_extract(&[], &suite, b"info_hash", info);
        let mut context = [0u8; 1 + 2 * NH];
        context[1..1 + NH].copy_from_slice(&psk_id_hash);
        context[1 + NH..].copy_from_slice(&info_hash);
        Schedule {
            aead_id,
            suite,
            context,
        }
    }
}

/// A base-mode context after `KeySchedule(mode_base, shared_secret, info, "", "")`.
pub struct Context {
    aead_id: u16,
    key: [u8; 32],
    base_nonce: [u8; aead::NONCE_LEN],
    exporter_secret: [u8; NH],
    suite: [u8; 10],
}

impl Context {
    pub fn new(
        kem: u16,
        aead_id: u16,
        shared_secret: &[u8],
        info: &[u8],
    ) -> Result<Context, EnvelopeError> {
        Context::scheduled(&Schedule::new(kem, aead_id, info), shared_secret)
    }

    /// The key schedule's per-request half: everything that depends on the
    /// shared secret.
    pub fn scheduled(s: &Schedule, shared_secret: &[u8]) -> Result<Context, EnvelopeError> {
        let secret = labeled_extract(shared_secret, &s.suite, b"secret", &[]);
        let (nk, _) = aead_lens(s.aead_id);
        let mut key = [0u8; 32];
        labeled_expand(&secret, &s.suite, b"key", &s.context, &mut key[..nk])?;
        let mut base_nonce = [0u8; aead::NONCE_LEN];
        labeled_expand(
            &secret,
            &s.suite,
            b"base_nonce",
            &s.context,
            &mut base_nonce,
        )?;
        let mut exporter_secret = [0u8; NH];
        labeled_expand(&secret, &s.suite, b"exp", &s.context, &mut exporter_secret)?;
        Ok(Context {
            aead_id: s.aead_id,
            key,
            base_nonce,
            exporter_secret,
            suite: s.suite,
        })
    }

    fn key(&self) -> Result<aead::LessSafeKey, EnvelopeError> {
        let (nk, _) = aead_lens(self.aead_id);
        aead::UnboundKey::new(aead_algorithm(self.aead_id), &self.key[..nk])
            .map(aead::LessSafeKey::new)
            .map_err(|_| EnvelopeError::DecryptFailed)
    }

    /// `Open("", ct)`; ComputeNonce(0) is the base nonce itself.
    pub fn open(&self, ct: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        self.open_aad(ct, b"")
    }

    /// `Open(aad, ct)`: OHTTP uses no AAD; the HPKE test vectors do.
    pub fn open_aad(&self, ct: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut buf = ct.to_vec();
        let n = self
            .key()?
            .open_in_place(
                aead::Nonce::assume_unique_for_key(self.base_nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| EnvelopeError::DecryptFailed)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }

    /// `Seal("", pt)` at sequence number 0.
    pub fn seal(&self, pt: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut buf = pt.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(self.base_nonce),
                aead::Aad::empty(),
                &mut buf,
            )
            .map_err(|_| EnvelopeError::DecryptFailed)?;
        Ok(buf)
    }

    /// `Export(exporter_context, out.len())`.
    pub fn export(&self, exporter_context: &[u8], out: &mut [u8]) -> Result<(), EnvelopeError> {
        labeled_expand(
            &self.exporter_secret,
            &self.suite,
            b"sec",
            exporter_context,
            out,
        )
    }
}

impl Drop for Context {
    /// The AEAD key and the exporter secret open and seal this exchange: wiped.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
        self.exporter_secret.zeroize();
    }
}

/// suite_id for the HPKE context: "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2).
fn hpke_suite(kem: u16, aead_id: u16) -> [u8; 10] {
    let mut s = [0u8; 10];
    s[..4].copy_from_slice(b"HPKE");
    s[4..6].copy_from_slice(&kem.to_be_bytes());
    s[6..8].copy_from_slice(&KDF_HKDF_SHA256.to_be_bytes());
    s[8..].copy_from_slice(&aead_id.to_be_bytes());
    s
}

/// suite_id for a KEM: "KEM" || I2OSP(kem_id, 2).
pub const fn kem_suite(kem: u16) -> [u8; 5] {
    let k = kem.to_be_bytes();
    [b'K', b'E', b'M', k[0], k[1]]
}

/// `LabeledExtract(salt, label, ikm)` = HKDF-Extract(salt, "HPKE-v1" || suite_id || label || ikm);
/// HKDF-Extract is HMAC-SHA256 keyed with the salt (an empty salt is HashLen zeros, RFC 5869 §2.2).
pub fn labeled_extract(salt: &[u8], suite: &[u8], label: &[u8], ikm: &[u8]) -> [u8; NH] {
    let salted;
    let key = if salt.is_empty() {
        &*ZERO_SALT
    } else {
        salted = hmac::Key::new(hmac::HMAC_SHA256, salt);
        &salted
    };
    let mut ctx = hmac::Context::with_key(key);
    for part in [HPKE_V1, suite, label, ikm] {
        ctx.update(part);
    }
    let mut out = [0u8; NH];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// `LabeledExpand(prk, label, info, L)` = HKDF-Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L).
pub fn labeled_expand(
    prk: &[u8; NH],
    suite: &[u8],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), EnvelopeError> {
    let length = u16::try_from(out.len())
        .map_err(|_| EnvelopeError::DecryptFailed)?
        .to_be_bytes();
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk);
    let parts = [&length[..], HPKE_V1, suite, label, info];
    prk.expand(&parts, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| EnvelopeError::DecryptFailed)
}
