//! JOSE helpers for what the gateway itself signs: loading its PKCS#8 keys
//! and publishing their JWKs (`keys`), and a compact JWS signer (`signer`).
//! Used by the identity assertion and the token endpoint.

mod json;
pub mod keys;
mod signer;

pub use json::UniqueObject;
pub use signer::CompactSigner;
