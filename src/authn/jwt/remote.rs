//! Remote keys: a JWKS URL or OpenID Connect Discovery. Fetched before the
//! authenticator is ready, refreshed on an interval (shortened by Cache-Control
//! max-age), and on an unknown `kid` with single-flight and a cooldown so a
//! flood of bad kids cannot hammer the IdP. After a failed fetch the last good
//! keys keep serving for `jwks_max_stale`.

use super::keys::KeySet;
use crate::metrics::Metrics;
use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Responses larger than this are refused.
pub const MAX_RESPONSE: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// How often remote keys are refreshed, how long stale ones keep serving, and
/// the least time between unknown-`kid` refetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub refresh: Duration,
    pub max_stale: Duration,
    pub cooldown: Duration,
}

pub struct RemoteKeys {
    pub authenticator: String,
    source: Uri,
    discovery_issuer: Option<String>,
    keys: ArcSwapOption<KeySet>,
    /// Unix seconds of the last successful fetch.
    last_success: AtomicU64,
    /// Bumped on every successful fetch, so waiters can tell that keys changed.
    generation: AtomicU64,
    /// When an unknown `kid` last triggered a fetch (the cooldown's clock; the
    /// interval refresh does not touch it).
    last_kid_fetch: std::sync::Mutex<Option<Instant>>,
    fetching: tokio::sync::Mutex<()>,
    client: crate::net::FetchClient,
    refresh: Duration,
    max_stale: Duration,
    cooldown: Duration,
    metrics: Metrics,
}

use crate::authn::kind::unix_now;

impl RemoteKeys {
    /// Creates the key source and starts its refresh task (which ends when the source is dropped).
    pub fn start(
        authenticator: &str,
        source: Uri,
        discovery_issuer: Option<String>,
        policy: RefreshPolicy,
        metrics: Metrics,
    ) -> Result<Arc<RemoteKeys>, String> {
        let client =
            crate::net::fetch_client(Duration::from_secs(5), None, metrics.tls_handshakes.clone())?;
        let rk = Arc::new(RemoteKeys {
            authenticator: authenticator.to_string(),
            source,
            discovery_issuer,
            keys: ArcSwapOption::empty(),
            last_success: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            last_kid_fetch: std::sync::Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            client,
            refresh: policy.refresh,
            max_stale: policy.max_stale,
            cooldown: policy.cooldown,
            metrics,
        });
        tokio::spawn(refresh_loop(Arc::downgrade(&rk)));
        Ok(rk)
    }

    /// Whether this source was built from the same settings (reused across reloads).
    pub fn same_source(&self, source: &Uri, discovery_issuer: &Option<String>) -> bool {
        &self.source == source && &self.discovery_issuer == discovery_issuer
    }

    /// The keys to verify with; none before the first fetch or once stale beyond `max_stale`.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        let age = unix_now().saturating_sub(self.last_success.load(Ordering::Relaxed));
        if age > self.max_stale.as_secs() {
            return None;
        }
        self.keys.load_full()
    }

    pub fn loaded(&self) -> bool {
        self.current().is_some()
    }

    /// Refetches because a token named an unknown `kid`. At most one fetch runs at
    /// a time and at most one starts per cooldown; callers that arrive while a
    /// fetch runs wait for it. Returns whether new keys arrived meanwhile.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        let seen = self.generation.load(Ordering::Acquire);
        let may_fetch = match self.last_kid_fetch.lock() {
            Ok(mut last) if !last.is_some_and(|t| t.elapsed() < self.cooldown) => {
                *last = Some(Instant::now());
                true
            }
            _ => false,
        };
        let _guard = self.fetching.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return true;
        }
        may_fetch && self.fetch_and_store("unknown_kid").await.is_ok()
    }

    async fn fetch_and_store(&self, trigger: &str) -> Result<Option<Duration>, String> {
        let started = Instant::now();
        let result = self.fetch().await;
        let label = [
            self.authenticator.as_str(),
            if result.is_ok() { "success" } else { "failure" },
        ];
        self.metrics.jwks_fetches.with_label_values(&label).inc();
        match result {
            Ok((set, max_age)) => {
                tracing::info!(
                    authenticator = %self.authenticator,
                    keys = set.len(),
                    kids = %crate::logfmt::list(set.kids()),
                    trigger,
                    took_ms = started.elapsed().as_millis() as u64,
                    "fetched signing keys"
                );
                self.metrics
                    .jwks_keys
                    .with_label_values(&[&self.authenticator])
                    .set(set.len() as i64);
                self.keys.store(Some(Arc::new(set)));
                self.last_success.store(unix_now(), Ordering::Relaxed);
                self.generation.fetch_add(1, Ordering::Release);
                Ok(max_age)
            }
            Err(e) => {
                let has_keys = self.keys.load().is_some();
                tracing::warn!(
                    authenticator = %self.authenticator,
                    error = %e,
                    trigger,
                    serving_last_good_keys = has_keys,
                    "fetching signing keys failed"
                );
                Err(e)
            }
        }
    }

    async fn get(&self, uri: &Uri) -> Result<(Bytes, Option<Duration>), String> {
        let req = Request::get(uri.clone())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("sealgate/", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(FETCH_TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| format!("{uri}: timed out"))?
            .map_err(|e| format!("{uri}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{uri}: HTTP {}", resp.status()));
        }
        let max_age = resp
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .map(Duration::from_secs);
        let body = tokio::time::timeout(
            FETCH_TIMEOUT,
            Limited::new(resp.into_body(), MAX_RESPONSE).collect(),
        )
        .await
        .map_err(|_| format!("{uri}: body timed out"))?
        .map_err(|_| format!("{uri}: response larger than {MAX_RESPONSE} bytes or broken"))?
        .to_bytes();
        Ok((body, max_age))
    }

    async fn fetch(&self) -> Result<(KeySet, Option<Duration>), String> {
        let jwks_uri = match &self.discovery_issuer {
            None => self.source.clone(),
            Some(issuer) => {
                let (doc, _) = self.get(&self.source).await?;
                let doc: Value =
                    serde_json::from_slice(&doc).map_err(|e| format!("discovery document: {e}"))?;
                if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
                    return Err(format!(
                        "discovery document's issuer is not exactly {issuer:?}"
                    ));
                }
                let uri = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("discovery document has no jwks_uri")?;
                crate::net::fetch_url(uri)?
            }
        };
        let (body, max_age) = self.get(&jwks_uri).await?;
        let set = KeySet::from_jwks(&body, false)?;
        if set.is_empty() {
            return Err("the JWKS holds no usable signing key".into());
        }
        Ok((set, max_age))
    }
}

async fn refresh_loop(weak: Weak<RemoteKeys>) {
    let mut failures: u32 = 0;
    loop {
        let Some(rk) = weak.upgrade() else { return };
        let wait = {
            let _guard = rk.fetching.lock().await;
            match rk.fetch_and_store("interval").await {
                Ok(max_age) => {
                    failures = 0;
                    max_age.map_or(rk.refresh, |m| {
                        m.clamp(MIN_REFRESH, rk.refresh.max(MIN_REFRESH))
                    })
                }
                Err(_) => {
                    // Back off 1s, 2s, 4s ... up to the refresh interval, so a cold start retries quickly.
                    failures = failures.saturating_add(1);
                    Duration::from_secs(1u64 << failures.min(8)).min(rk.refresh)
                }
            }
        };
        drop(rk);
        tokio::time::sleep(wait).await;
    }
}
