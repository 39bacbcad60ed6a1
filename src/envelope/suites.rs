//! The HPKE suites an OHTTP key may use (RFC 9180 identifiers), their
//! aws-lc-rs algorithms and lengths, and why an envelope fails to open.
//! Shared by both receivers and the response sealer.

use aws_lc_rs::{aead, hkdf};

pub const KEM_P256: u16 = 0x0010;
pub const KEM_X25519: u16 = 0x0020;
/// ML-KEM-768 (draft-ietf-hpke-pq).
pub const KEM_MLKEM768: u16 = 0x0041;
/// X-Wing: MLKEM768-X25519 (draft-ietf-hpke-pq, draft-connolly-cfrg-xwing-kem).
pub const KEM_XWING: u16 = 0x647a;
pub const KDF_HKDF_SHA256: u16 = 0x0001;
pub const AEAD_AES_128_GCM: u16 = 0x0001;
pub const AEAD_AES_256_GCM: u16 = 0x0002;
pub const AEAD_CHACHA20_POLY1305: u16 = 0x0003;

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

pub fn enc_len(kem: u16) -> usize {
    match kem {
        KEM_P256 => 65,
        KEM_MLKEM768 => 1088,
        KEM_XWING => 1120,
        _ => 32,
    }
}

/// (Nk, Nn) of an accepted AEAD id.
pub fn aead_lens(aead: u16) -> (usize, usize) {
    match aead {
        AEAD_AES_128_GCM => (16, 12),
        _ => (32, 12),
    }
}

/// The aws-lc AEAD for an accepted AEAD id (keys only ever list the three).
pub fn aead_algorithm(aead: u16) -> &'static aead::Algorithm {
    match aead {
        AEAD_AES_128_GCM => &aead::AES_128_GCM,
        AEAD_AES_256_GCM => &aead::AES_256_GCM,
        _ => &aead::CHACHA20_POLY1305,
    }
}

/// An HKDF output length, for aws-lc-rs's `expand`.
pub struct Len(pub usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}
