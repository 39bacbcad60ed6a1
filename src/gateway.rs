//! The runtime form of one configuration: compiled routes, upstream clients and
//! header rules. Built whole, then swapped in atomically; requests keep the
//! `Arc<Gateway>` they started with.

use crate::authn::jwt::KeyRegistry;
use crate::authn::Authenticator;
use crate::identity::assertion::AssertionSigner;
use crate::identity::IdentityHeaders;
use crate::metrics::Metrics;
use crate::route::RouteTable;
use crate::settings::Config;
use crate::upstream::Upstream;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub struct Gateway {
    pub config: Arc<Config>,
    pub routes: RouteTable,
    pub upstreams: HashMap<String, Arc<Upstream>>,
    pub authenticators: HashMap<String, Arc<Authenticator>>,
    pub identity: IdentityHeaders,
    pub assertion: Option<AssertionSigner>,
    pub store: Arc<crate::store::Store>,
    pub envelope: Option<crate::envelope::Envelope>,
    /// The token endpoint, when `[issuer]` is configured.
    pub issuer: Option<crate::issuer::Issuer>,
    /// The admin JWKS without a token endpoint: assertion and decryption keys.
    jwks: Option<bytes::Bytes>,
    /// Some route relays WebSocket: HTTP/2 connections offer extended CONNECT.
    pub websocket: bool,
}

impl Gateway {
    pub fn build(
        config: Config,
        registry: &KeyRegistry,
        stores: &crate::store::StoreRegistry,
        metrics: &Metrics,
    ) -> Result<Gateway, String> {
        let store = stores
            .get_or_create(&config.store)
            .map_err(|e| format!("store: {e}"))?;
        let mut upstreams = HashMap::new();
        for (name, u) in &config.upstreams {
            let built = Upstream::new(u, metrics, config.listen.workers)
                .map_err(|e| format!("upstreams.{name}: {e}"))?;
            upstreams.insert(name.clone(), Arc::new(built));
        }
        let issuer_keys = match &config.issuer {
            Some(i) => Some(crate::issuer::keys(i).map_err(|e| format!("issuer.key: {e}"))?),
            None => None,
        };
        let ctx = crate::authn::BuildContext {
            keys: registry,
            store: &store,
            metrics,
            issued: issuer_keys.as_ref().map(|k| &k.issued),
        };
        let mut authenticators = HashMap::new();
        for (name, a) in &config.authenticators {
            let built =
                Authenticator::build(a, &ctx).map_err(|e| format!("authenticators.{name}: {e}"))?;
            authenticators.insert(name.clone(), Arc::new(built));
        }
        let in_use: Vec<_> = authenticators
            .values()
            .filter_map(|a| a.remote_keys().cloned())
            .collect();
        let endpoints: Vec<_> = authenticators
            .values()
            .filter_map(|a| a.discovered_endpoint().cloned())
            .collect();
        registry.retain(&in_use, &endpoints);
        let assertion = match &config.identity.assertion {
            Some(a) => {
                Some(AssertionSigner::new(a).map_err(|e| format!("identity.assertion: {e}"))?)
            }
            None => None,
        };
        // Published beside the signing keys: the assertion's, then every
        // token decryption key's public half (deduplicated by kid).
        let mut published = assertion
            .as_ref()
            .map(|a| a.public_keys())
            .unwrap_or_default();
        let mut names: Vec<&String> = authenticators.keys().collect();
        names.sort();
        for jwk in names
            .iter()
            .flat_map(|n| authenticators[*n].encryption_jwks())
        {
            if !published.iter().any(|p| p.get("kid") == jwk.get("kid")) {
                published.push(jwk);
            }
        }
        let issuer = match (&config.issuer, issuer_keys) {
            (Some(i), Some(keys)) => {
                let ctx = crate::issuer::BuildContext {
                    upstreams: &upstreams,
                    published: published.clone(),
                    store: &store,
                    metrics,
                    subject_revocation_ttl: config.store.subject_revocation_ttl,
                };
                let built = crate::issuer::Issuer::build(i, keys, &ctx)
                    .map_err(|e| format!("issuer: {e}"))?;
                Some(built)
            }
            _ => None,
        };
        let jwks = match published.is_empty() {
            true => None,
            false => Some(
                serde_json::to_vec(&serde_json::json!({ "keys": published }))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
        };
        let websocket = config
            .routes
            .iter()
            .any(|r| r.upgrades.allows(b"websocket"));
        // Before the route table: a configuration refused here leaves no
        // route metric series behind.
        let envelope = match &config.envelope {
            Some(e) => {
                Some(crate::envelope::Envelope::new(e).map_err(|m| format!("envelope: {m}"))?)
            }
            None => None,
        };
        Ok(Gateway {
            jwks,
            issuer,
            websocket,
            routes: RouteTable::new(&config.routes, &authenticators, metrics),
            identity: IdentityHeaders::new(&config.identity),
            upstreams,
            authenticators,
            assertion,
            store,
            envelope,
            config: Arc::new(config),
        })
    }

    /// The gateway's public keys: the token endpoint's, the assertion's
    /// and the token decryption keys' (the issuer's JWKS already holds all).
    pub fn published_jwks(&self) -> Option<bytes::Bytes> {
        match &self.issuer {
            Some(i) => Some(i.jwks()),
            None => self.jwks.clone(),
        }
    }

    /// What keeps the gateway from serving correctly; empty when ready.
    pub fn not_ready(&self) -> Vec<String> {
        let mut missing: Vec<String> = self
            .authenticators
            .values()
            .filter_map(|a| a.not_ready())
            .collect();
        missing.sort();
        missing
    }

    /// Files whose change triggers a reload: the configuration's and every authenticator's.
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        let mut files = self.config.watched_files();
        for a in self.authenticators.values() {
            files.extend(a.watched_files());
        }
        files
    }

    /// Whether a peer may vouch for X-Forwarded-*/Forwarded values.
    pub fn peer_trusted(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.config
            .listen
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&peer))
    }
}
