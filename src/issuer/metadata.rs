//! What the endpoint publishes about itself: RFC 8414 authorization server
//! metadata, and serving it (and the JWKS) as cacheable documents.

use super::settings::IssuerSettings;
use crate::authn::dpop::Dpop;
use crate::body::{full, ResBody};
use bytes::Bytes;
use http::{header, HeaderValue, Response};
use serde_json::Value;

pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The path of an issuer URL (`https://host/tenant` -> `/tenant`; none -> ``).
pub(super) fn url_path(url: &str) -> String {
    url.parse::<http::Uri>()
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default()
}

pub(super) fn serve(body: Bytes, ctype: &'static str) -> Response<ResBody> {
    let mut resp = Response::new(full(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// RFC 8414 §2 authorization server metadata.
pub(super) fn document_for(s: &IssuerSettings, dpop: &Dpop) -> Vec<u8> {
    let origin = s
        .url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| Some(format!("{}://{}", u.scheme_str()?, u.authority()?)))
        .unwrap_or_else(|| s.url.clone());
    let mut doc = serde_json::json!({
        "issuer": s.url,
        "token_endpoint": format!("{origin}{}", s.path),
        "revocation_endpoint": format!("{origin}{}", s.revocation_path),
        "jwks_uri": format!("{origin}{JWKS_PATH}"),
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
    });
    if let (Some(crate::authn::Challenge::Dpop { algs, .. }), Some(obj)) =
        (dpop.challenge(), doc.as_object_mut())
    {
        let list: Vec<&str> = algs.split(' ').collect();
        obj.insert(
            "dpop_signing_alg_values_supported".into(),
            Value::from(list),
        );
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}
