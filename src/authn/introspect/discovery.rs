//! OIDC discovery of the introspection endpoint: retried with backoff until
//! the document names one (readiness stays false until then).

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What discovery needs: where to look, how, and what the document must say.
pub(super) struct Discovery {
    pub name: Arc<str>,
    pub url: Uri,
    pub client: crate::net::FetchClient,
    pub timeout: Duration,
    pub issuer: Option<String>,
}

/// Resolves the endpoint into `slot`, retrying with backoff until it works;
/// ends when the authenticator (the slot's owner) is dropped.
pub(super) async fn discover(this: Discovery, slot: std::sync::Weak<ArcSwapOption<Uri>>) {
    let mut wait = Duration::from_millis(500);
    loop {
        if slot.strong_count() == 0 {
            return;
        }
        match fetch_endpoint(&this).await {
            Ok(endpoint) => {
                tracing::info!(authenticator = %this.name, endpoint = %endpoint, "introspection endpoint discovered");
                if let Some(slot) = slot.upgrade() {
                    slot.store(Some(Arc::new(endpoint)));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(authenticator = %this.name, error = %e, "introspection discovery failed; retrying")
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

async fn fetch_endpoint(this: &Discovery) -> Result<Uri, String> {
    let req = Request::get(this.url.clone())
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(this.timeout, this.client.request(req))
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
    if let Some(want) = &this.issuer {
        if doc.get("issuer").and_then(Value::as_str) != Some(want.as_str()) {
            return Err("the discovery document's issuer does not match".into());
        }
    }
    let endpoint = doc
        .get("introspection_endpoint")
        .and_then(Value::as_str)
        .ok_or("no introspection_endpoint in the discovery document")?;
    crate::net::fetch_url(endpoint)
}
