//! Remote key sources (JWKS, discovery) and discovered introspection
//! endpoints, kept across reloads: a reload with the same settings neither
//! refetches nor flaps readiness.

use super::remote::{self, RemoteKeys};
use crate::metrics::Metrics;
use std::sync::{Arc, Mutex};

/// Remote key sources, kept across reloads so a reload neither refetches nor flaps readiness.
#[derive(Default)]
pub struct KeyRegistry {
    sources: Mutex<Vec<Arc<RemoteKeys>>>,
    /// Introspection endpoints found by discovery, by authenticator and
    /// discovery URL: a reload keeps the endpoint instead of rediscovering it.
    endpoints: Mutex<Vec<(String, http::Uri, DiscoveredEndpoint)>>,
}

/// Where a discovered endpoint is published once known.
pub type DiscoveredEndpoint = Arc<arc_swap::ArcSwapOption<http::Uri>>;

impl KeyRegistry {
    /// The running key source of authenticator `name` for `source`, started
    /// when new; a reload with the same settings keeps the fetched keys.
    pub fn get_or_start(
        &self,
        name: &str,
        source: &http::Uri,
        issuer: Option<String>,
        policy: remote::RefreshPolicy,
        metrics: &Metrics,
    ) -> Result<Arc<RemoteKeys>, String> {
        let mut list = self
            .sources
            .lock()
            .map_err(|_| "key registry poisoned".to_string())?;
        if let Some(rk) = list
            .iter()
            .find(|r| r.authenticator == name && r.same_source(source, &issuer))
        {
            return Ok(rk.clone());
        }
        let rk = RemoteKeys::start(name, source.clone(), issuer, policy, metrics.clone())?;
        list.push(rk.clone());
        Ok(rk)
    }

    /// The slot for `name`'s endpoint discovered at `url`, and whether it is
    /// new (then the caller starts discovery).
    pub fn endpoint_slot(&self, name: &str, url: &http::Uri) -> (DiscoveredEndpoint, bool) {
        let Ok(mut list) = self.endpoints.lock() else {
            return (DiscoveredEndpoint::default(), true);
        };
        if let Some((_, _, slot)) = list.iter().find(|(n, u, _)| n == name && u == url) {
            return (slot.clone(), false);
        }
        let slot = DiscoveredEndpoint::default();
        list.push((name.to_string(), url.clone(), slot.clone()));
        (slot, true)
    }

    /// Drops sources and endpoints no authenticator uses any more (their
    /// refresh and discovery tasks then end).
    pub fn retain(&self, in_use: &[Arc<RemoteKeys>], endpoints: &[DiscoveredEndpoint]) {
        if let Ok(mut list) = self.sources.lock() {
            list.retain(|r| in_use.iter().any(|u| Arc::ptr_eq(u, r)));
        }
        if let Ok(mut list) = self.endpoints.lock() {
            list.retain(|(_, _, s)| endpoints.iter().any(|e| Arc::ptr_eq(e, s)));
        }
    }
}
