//! Path normalization and host normalization: never panic; a normalized path
//! is stable (normalizing it again changes nothing) and has no dot segments.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = sealgate::route::normalize_path(text) {
        assert_eq!(
            sealgate::route::normalize_path(&p).as_deref(),
            Ok(p.as_str())
        );
        assert!(!p.split('/').any(|s| s == ".." || s == "."), "{p}");
    }
    let _ = sealgate::route::normalize_host(text);
});
