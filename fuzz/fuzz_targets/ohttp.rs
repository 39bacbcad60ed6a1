//! Oblivious HTTP (RFC 9458): opening arbitrary encapsulated requests with a
//! fixed X25519 gateway key; every refusal is an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::envelope::crypto::{open, GatewayKey, KEM_X25519};
use std::sync::OnceLock;

fn key() -> &'static GatewayKey {
    static K: OnceLock<GatewayKey> = OnceLock::new();
    K.get_or_init(|| GatewayKey::from_private(1, KEM_X25519, &[7u8; 32], vec![1, 2, 3]).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let _ = open(std::iter::once(key()), data);
});
