//! Oblivious HTTP (RFC 9458) gateway: key configurations, opening requests and
//! sealing responses (`crypto`).

pub mod crypto;
mod exchange;
mod x25519_receiver;

pub use exchange::{Envelope, KEY_PROBLEM_TYPE};

/// What the pipeline knows about a request that arrived sealed.
pub struct Sealing {
    /// The encapsulated key: unique per envelope, the replay-detection key.
    pub enc: Vec<u8>,
}
