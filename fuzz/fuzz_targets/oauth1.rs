//! OAuth 1.0a (RFC 5849): the Authorization header's parameters, form
//! bodies, and the signature base string built from them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sealgate::authn::oauth1::base;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(params) = base::header_params(text) {
            let uri = base::base_uri("https", "api.example", "/x");
            let _ = base::base_string("POST", &uri, &params);
        }
    }
    let _ = base::form_params(data);
});
