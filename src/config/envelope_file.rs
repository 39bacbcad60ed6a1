//! `[envelope]` as written: the Oblivious HTTP gateway endpoint and its keys
//! (part of `file`, kept apart for size).

use serde::Deserialize;

/// Oblivious HTTP (RFC 9458) gateway settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeFile {
    /// The OHTTP gateway resource: GET key configurations, POST envelopes. Default `/.well-known/ohttp-gateway`.
    pub path: Option<String>,
    /// Largest envelope accepted. Default `1MiB`.
    pub max_size: Option<String>,
    /// Cache-Control max-age of the key configurations. Default `1h`.
    pub keys_max_age: Option<String>,
    /// The gateway's HPKE keys; `sealgate keygen ohttp` makes one.
    #[serde(default)]
    pub keys: Vec<EnvelopeKeyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeKeyFile {
    /// Key id, 0-255, unique.
    pub id: i64,
    /// `x25519` (default), `p256`, or post-quantum `x-wing` or `ml-kem-768`.
    pub kem: Option<String>,
    /// `file:`/`env:` reference to the private key, hex or raw: 32 bytes for x25519, p256 and x-wing, a 64-byte seed for ml-kem-768.
    pub private_key: String,
    /// "active" (published and accepted) or "retiring" (accepted, not published). Default `"active"`.
    pub state: Option<String>,
    /// AEADs offered: `aes-128-gcm`, `aes-256-gcm`, `chacha20-poly1305`. Default all three.
    #[serde(default)]
    pub aeads: Vec<String>,
}
