//! Oblivious HTTP (RFC 9458): opening arbitrary encapsulated requests with
//! fixed gateway keys (X25519 id 1, X-Wing id 2, ML-KEM-768 id 3; the first
//! byte picks one); every refusal is an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::envelope::crypto::{open, GatewayKey, KEM_MLKEM768, KEM_X25519, KEM_XWING};
use std::sync::OnceLock;

fn keys() -> &'static [GatewayKey; 3] {
    static K: OnceLock<[GatewayKey; 3]> = OnceLock::new();
    K.get_or_init(|| {
        let key = |id, kem, sk: &[u8]| GatewayKey::from_private(id, kem, sk, vec![1, 2, 3]).unwrap();
        [key(1, KEM_X25519, &[7; 32]), key(2, KEM_XWING, &[8; 32]), key(3, KEM_MLKEM768, &[9; 64])]
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = open(keys().iter(), data);
});
