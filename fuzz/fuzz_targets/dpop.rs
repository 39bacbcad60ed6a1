//! DPoP proofs (RFC 9449): parse and verify with the header's key, and the
//! htu normalization; a proof that parses has a thumbprint-sized jkt.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::authn::dpop::{normalize_htu, proof, DpopSettings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let algs = DpopSettings::default().algorithms;
    if let Ok(p) = proof::parse(text, &algs) {
        assert_eq!(p.jkt.len(), 43);
    }
    if let Some(n) = normalize_htu(text) {
        assert_eq!(normalize_htu(&n).as_deref(), Some(n.as_str()));
    }
});
