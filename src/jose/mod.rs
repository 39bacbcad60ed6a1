//! JOSE helpers for what the gateway itself signs: loading its PKCS#8 keys
//! and publishing their JWKs (`keys`), and a compact JWS signer (`signer`).
//! Used by the identity assertion and the token endpoint.

pub mod keys;
mod signer;

pub use signer::CompactSigner;
