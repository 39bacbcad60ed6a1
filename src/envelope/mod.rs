//! Oblivious HTTP (RFC 9458) gateway: key configurations, opening requests and
//! sealing responses (`crypto`).

pub mod crypto;
mod exchange;
mod schedule;
mod seal;
pub mod settings;
mod suites;
mod x25519_receiver;

pub use exchange::{Envelope, Opening, Sealing, KEY_PROBLEM_TYPE};
