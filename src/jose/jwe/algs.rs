//! The JWE algorithms this gateway implements (RFC 7518 §4 and §5) and the
//! faults decryption reports. `RSA1_5` and compression (`zip`) are absent on
//! purpose: the first invites padding oracles, the second leaks plaintext
//! length (RFC 8725 §3.6).

/// Key management (`alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    Dir,
    A128Kw,
    A256Kw,
    EcdhEs,
    EcdhEsA128Kw,
    EcdhEsA256Kw,
    RsaOaep256,
}

impl KeyAlg {
    pub const ALL: [KeyAlg; 7] = [
        KeyAlg::Dir,
        KeyAlg::A128Kw,
        KeyAlg::A256Kw,
        KeyAlg::EcdhEs,
        KeyAlg::EcdhEsA128Kw,
        KeyAlg::EcdhEsA256Kw,
        KeyAlg::RsaOaep256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Dir => "dir",
            KeyAlg::A128Kw => "A128KW",
            KeyAlg::A256Kw => "A256KW",
            KeyAlg::EcdhEs => "ECDH-ES",
            KeyAlg::EcdhEsA128Kw => "ECDH-ES+A128KW",
            KeyAlg::EcdhEsA256Kw => "ECDH-ES+A256KW",
            KeyAlg::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    pub fn parse(name: &str) -> Option<KeyAlg> {
        KeyAlg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Keys only the gateway (and whoever shares the secret) holds: a token
    /// made with them proves its maker knew the key. Anyone can encrypt to a
    /// public key, so an ECDH-ES or RSA-OAEP token without an inner signature
    /// proves nothing.
    pub fn symmetric(self) -> bool {
        matches!(self, KeyAlg::Dir | KeyAlg::A128Kw | KeyAlg::A256Kw)
    }

    /// The AES key wrap applied to the content key, by key length in bytes.
    pub fn wrap_len(self) -> Option<usize> {
        match self {
            KeyAlg::A128Kw | KeyAlg::EcdhEsA128Kw => Some(16),
            KeyAlg::A256Kw | KeyAlg::EcdhEsA256Kw => Some(32),
            _ => None,
        }
    }

    pub fn ecdh(self) -> bool {
        matches!(
            self,
            KeyAlg::EcdhEs | KeyAlg::EcdhEsA128Kw | KeyAlg::EcdhEsA256Kw
        )
    }
}

/// Content encryption (`enc`): AES-GCM or AES-CBC with HMAC (RFC 7518 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAlg {
    A128Gcm,
    A256Gcm,
    A128CbcHs256,
    A256CbcHs512,
}

impl ContentAlg {
    pub const ALL: [ContentAlg; 4] = [
        ContentAlg::A128Gcm,
        ContentAlg::A256Gcm,
        ContentAlg::A128CbcHs256,
        ContentAlg::A256CbcHs512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ContentAlg::A128Gcm => "A128GCM",
            ContentAlg::A256Gcm => "A256GCM",
            ContentAlg::A128CbcHs256 => "A128CBC-HS256",
            ContentAlg::A256CbcHs512 => "A256CBC-HS512",
        }
    }

    pub fn parse(name: &str) -> Option<ContentAlg> {
        ContentAlg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The content encryption key's length in bytes (MAC and cipher halves together for CBC).
    pub fn key_len(self) -> usize {
        match self {
            ContentAlg::A128Gcm => 16,
            ContentAlg::A256Gcm | ContentAlg::A128CbcHs256 => 32,
            ContentAlg::A256CbcHs512 => 64,
        }
    }

    pub fn iv_len(self) -> usize {
        match self {
            ContentAlg::A128Gcm | ContentAlg::A256Gcm => 12,
            ContentAlg::A128CbcHs256 | ContentAlg::A256CbcHs512 => 16,
        }
    }

    pub fn tag_len(self) -> usize {
        match self {
            ContentAlg::A256CbcHs512 => 32,
            _ => 16,
        }
    }
}

/// Why a JWE was not opened. Only metrics and `sealgate token verify` see
/// the precise fault: clients get one answer for all (no decryption oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JweFault {
    /// Not five base64url parts, a header that is not a unique-member JSON object, bad lengths.
    Malformed,
    /// `jku`, `jwk`, `x5u`, `x5c` or `crit` in the header.
    UntrustedHeader,
    /// `zip`: compressed plaintext is never accepted.
    Compressed,
    /// An `alg` outside this authenticator's allow-list (always `RSA1_5`).
    AlgNotAllowed,
    /// An `enc` outside this authenticator's allow-list.
    EncNotAllowed,
    /// No configured key has the token's `kid` (or, without one, fits its algorithms).
    UnknownKey,
    /// An ECDH-ES ephemeral key that is not a valid point of the key's curve.
    BadEphemeralKey,
    /// The wrapped or RSA-encrypted content key did not unwrap.
    KeyUnwrap,
    /// The authentication tag does not match: tampered, or encrypted to another key.
    Decryption,
    /// The plaintext is larger than the token size bound.
    TooLarge,
    /// Claims encrypted but not signed, where that is not allowed.
    Unsigned,
}

impl JweFault {
    pub fn reason(self) -> &'static str {
        match self {
            JweFault::Malformed => "jwe_malformed",
            JweFault::UntrustedHeader => "jwe_untrusted_header",
            JweFault::Compressed => "jwe_zip",
            JweFault::AlgNotAllowed => "jwe_alg_not_allowed",
            JweFault::EncNotAllowed => "jwe_enc_not_allowed",
            JweFault::UnknownKey => "jwe_unknown_key",
            JweFault::BadEphemeralKey => "jwe_bad_ephemeral_key",
            JweFault::KeyUnwrap => "jwe_key_unwrap",
            JweFault::Decryption => "jwe_decryption",
            JweFault::TooLarge => "jwe_too_large",
            JweFault::Unsigned => "jwe_unsigned",
        }
    }
}
