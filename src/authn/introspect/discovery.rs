//! OIDC discovery of the introspection endpoint: retried with backoff until
//! the document names one (readiness stays false until then).

use super::Introspector;
use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Resolves the endpoint from the discovery document, retrying until it works.
pub(super) async fn discover(me: std::sync::Weak<Introspector>, url: Uri) {
    let mut wait = Duration::from_millis(500);
    loop {
        let Some(this) = me.upgrade() else { return };
        match fetch_endpoint(&this, &url).await {
            Ok(endpoint) => {
                tracing::info!(authenticator = %this.name, endpoint = %endpoint, "introspection endpoint discovered");
                this.endpoint.store(Some(Arc::new(endpoint)));
                return;
            }
            Err(e) => {
                tracing::warn!(authenticator = %this.name, error = %e, "introspection discovery failed; retrying")
            }
        }
        drop(this);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

async fn fetch_endpoint(this: &Introspector, url: &Uri) -> Result<Uri, String> {
    let req = Request::get(url.clone())
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(this.settings.timeout, this.client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if resp.status() != http::StatusCode::OK {
        return Err(format!("status {}", resp.status()));
    }
    let body = Limited::new(resp.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    if let Some(want) = &this.settings.issuer {
        if doc.get("issuer").and_then(Value::as_str) != Some(want.as_str()) {
            return Err("the discovery document's issuer does not match".into());
        }
    }
    let endpoint = doc
        .get("introspection_endpoint")
        .and_then(Value::as_str)
        .ok_or("no introspection_endpoint in the discovery document")?;
    crate::config::fetch_url(endpoint)
}
