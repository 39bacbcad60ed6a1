//! Oblivious HTTP (RFC 9458) gateway: key configurations, opening requests and
//! sealing responses (`crypto`) for DH (X25519, P-256) and post-quantum
//! (X-Wing, ML-KEM-768, `pq`) keys; the sender side for the CLI (`client`).

pub mod client;
pub mod crypto;
mod exchange;
pub mod pq;
mod schedule;
mod seal;
pub mod settings;
mod suites;
mod x25519_receiver;

pub use exchange::{Envelope, Opening, Sealing, KEY_PROBLEM_TYPE};
