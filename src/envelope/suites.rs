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

/// RFC 9458 §4.3 labels: the HPKE `info` prefix and the response exporter context.
pub const REQUEST_LABEL: &[u8] = b"message/bhttp request";
pub const RESPONSE_LABEL: &[u8] = b"message/bhttp response";
pub const HEADER_LEN: usize = 7;

/// The request header: key id, KEM, KDF and AEAD.
pub fn request_header(key_id: u8, kem: u16, aead: u16) -> [u8; HEADER_LEN] {
    let (k, f, a) = (
        kem.to_be_bytes(),
        KDF_HKDF_SHA256.to_be_bytes(),
        aead.to_be_bytes(),
    );
    [key_id, k[0], k[1], f[0], f[1], a[0], a[1]]
}

/// The HPKE `info`: "message/bhttp request" || 0x00 || header.
pub fn request_info(header: &[u8]) -> Vec<u8> {
    let mut info = Vec::with_capacity(REQUEST_LABEL.len() + 1 + header.len());
    info.extend_from_slice(REQUEST_LABEL);
    info.push(0);
    info.extend_from_slice(header);
    info
}

/// The exported secret's length for an AEAD: max(Nk, Nn).
pub fn export_len(aead: u16) -> usize {
    let (n_k, n_n) = aead_lens(aead);
    n_k.max(n_n)
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
