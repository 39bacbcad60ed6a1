//! The configuration loader: TOML text to the validated Config, every
//! problem reported with its key path, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(raw) = toml::from_str::<sealgate::config::file::FileConfig>(text) else {
        return;
    };
    let base = std::env::temp_dir().join("sealgate-fuzz-config");
    let _ = sealgate::settings::validate(raw, &base.join("gateway.toml"), &base);
});
