//! JOSE helpers: the gateway's own signing keys and their JWKs (`keys`), a
//! compact JWS signer (`signer`), and JSON Web Encryption (`jwe`) for the
//! encrypted tokens the jwt authenticator opens and the token endpoint makes.

mod json;
pub mod jwe;
pub mod keys;
mod signer;

pub use json::UniqueObject;
pub use signer::CompactSigner;
