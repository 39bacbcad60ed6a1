//! JWE compact decryption (RFC 7516) with fixed keys of every kind the
//! gateway takes (oct for dir/AES-KW, P-256 and X25519 for ECDH-ES):
//! arbitrary tokens are refused with a fault, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::jose::jwe::algs::{ContentAlg, KeyAlg};
use sealgate::jose::jwe::{keys, Decryptor};
use std::sync::OnceLock;

const OCT: &[u8] = br#"{"keys":[{"kty":"oct","kid":"a","k":"GawgguFyGrWKav7AX4VKUg"},{"kty":"oct","kid":"b","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}"#;
const EC: &[u8] = br#"{"kty":"EC","crv":"P-256","kid":"p","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#;
const X: &[u8] = br#"{"kty":"OKP","crv":"X25519","kid":"x","d":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo"}"#;

fn decryptor() -> &'static Decryptor {
    static D: OnceLock<Decryptor> = OnceLock::new();
    D.get_or_init(|| {
        let mut all = Vec::new();
        for k in [OCT, EC, X] {
            all.extend(keys::parse(k, None).unwrap());
        }
        Decryptor { keys: all, algs: KeyAlg::ALL.to_vec(), encs: ContentAlg::ALL.to_vec() }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decryptor().decrypt(token, 16 * 1024);
});
