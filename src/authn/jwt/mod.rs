//! `kind = "jwt"`: compact JWS tokens (RFC 7515/7519) verified with keys the
//! configuration names: a file, a JWKS URL or OIDC discovery (`keys`,
//! `remote`), never keys the token names. Verified tokens are cached within
//! their lifetime; tokens refused after their signature was checked are
//! remembered briefly against the same key set, so a repeated bad token is not
//! a cheap amplifier. Certificate-bound tokens (RFC 8705) are checked against
//! the connection's client certificate on every request, cached or not.

pub mod decryption;
pub mod jwe;
pub mod key;
pub mod keys;
pub mod registry;
pub mod remote;
pub mod settings;
pub mod verify;

pub use registry::{DiscoveredEndpoint, KeyRegistry};
pub use verify::{check_times, split, unverified_issuer, verify, Verified};

use super::cache::{self, VerifiedCache};
use crate::authn::failure::{AuthError, AuthFailure, Dependency};
use crate::authn::kind::{Attempt, Challenge, Kind, Verdict};
use crate::authn::principal::{Identity, Principal};
use crate::authn::{binding, extract};
use crate::jose::jwe::algs::JweFault;
use crate::metrics::Metrics;
use http::HeaderMap;
use keys::KeySet;
use remote::RemoteKeys;
use settings::{JwtSettings, KeySource};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

enum KeyHolder {
    Static(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

/// A token refused after its signature was checked. Valid only against the key
/// set it was checked with: a JWKS refresh makes the entry stale.
#[derive(Clone)]
struct Rejected {
    failure: AuthFailure,
    /// The key set of the verdict; `Weak` keeps its address from being reused.
    keys: std::sync::Weak<KeySet>,
}

/// Refusals that no later moment or key set changes, given the same keys: the
/// signature does not match, or a verified token's claims are wrong for good.
/// `NotYetValid` becomes valid later and `UnknownKid` may after a refresh.
/// Checks before the signature (alg, header, malformed) are cheaper than a lookup.
fn remember_rejection(f: AuthFailure) -> bool {
    matches!(
        f,
        AuthFailure::BadSignature
            | AuthFailure::Expired
            | AuthFailure::WrongIssuer
            | AuthFailure::WrongAudience
            | AuthFailure::WrongType
            | AuthFailure::MissingClaim
            | AuthFailure::LifetimeTooLong
            | AuthFailure::Undecryptable(
                JweFault::KeyUnwrap
                    | JweFault::Decryption
                    | JweFault::Unsigned
                    | JweFault::BadEphemeralKey
            )
    )
}

pub struct JwtAuthenticator {
    pub name: Arc<str>,
    pub settings: JwtSettings,
    keys: KeyHolder,
    cache: VerifiedCache,
    /// Recently refused tokens by the same key as `cache` (bounded, 60 s).
    rejected: moka::sync::Cache<[u8; 32], Rejected>,
    /// Counters resolved once: a label lookup per request costs more than the cache hit.
    hits: prometheus::IntCounter,
    misses: prometheus::IntCounter,
    rejected_hits: prometheus::IntCounter,
    dpop: crate::authn::dpop::Dpop,
    /// The kind its principals report (`issued` when it verifies the gateway's own tokens).
    kind: &'static str,
    /// JWE decryption keys and allow-lists, when configured.
    decryptor: Option<Arc<crate::jose::jwe::Decryptor>>,
}

fn dev_keys(name: &str, public: &std::path::Path, s: &JwtSettings) -> Result<KeySet, String> {
    let private = crate::keygen::dev_private_path(public);
    if crate::keygen::ensure_ed25519(&private, public)? {
        tracing::warn!(
            authenticator = %name,
            private = %private.display(),
            "generated a development Ed25519 key pair for minting dev tokens (not for production)"
        );
    }
    let pem =
        std::fs::read(public).map_err(|e| format!("cannot read {}: {e}", public.display()))?;
    KeySet::from_config_bytes(&pem, false, &s.algorithms)
}

impl JwtAuthenticator {
    pub fn build(
        name: &str,
        s: &JwtSettings,
        registry: &KeyRegistry,
        metrics: &Metrics,
    ) -> Result<JwtAuthenticator, String> {
        let keys = match &s.keys {
            KeySource::Static { material, hmac } => KeyHolder::Static(Arc::new(
                KeySet::from_config_bytes(material.expose(), *hmac, &s.algorithms)?,
            )),
            KeySource::DevGenerated(public) => {
                KeyHolder::Static(Arc::new(dev_keys(name, public, s)?))
            }
            KeySource::Jwks(uri) => KeyHolder::Remote(registry.get_or_start(
                name,
                uri,
                None,
                s.refresh_policy(),
                metrics,
            )?),
            KeySource::Discovery(uri) => KeyHolder::Remote(registry.get_or_start(
                name,
                uri,
                Some(s.issuer.clone()),
                s.refresh_policy(),
                metrics,
            )?),
        };
        let counter = |result: &str| metrics.token_cache.with_label_values(&[name, result]);
        Ok(JwtAuthenticator {
            name: Arc::from(name),
            settings: s.clone(),
            keys,
            cache: cache::verified_cache(100_000),
            rejected: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            hits: counter("hit"),
            rejected_hits: counter("rejected_hit"),
            misses: counter("miss"),
            dpop: crate::authn::dpop::Dpop::new(name, &s.dpop)?,
            kind: "jwt",
            decryptor: match &s.decryption {
                Some(d) => Some(Arc::new(d.decryptor()?)),
                None => None,
            },
        })
    }

    pub(in crate::authn) fn with_kind(mut self, kind: &'static str) -> JwtAuthenticator {
        self.kind = kind;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        match &self.keys {
            KeyHolder::Remote(r) => Some(r),
            KeyHolder::Static(_) => None,
        }
    }

    /// The token this authenticator reads, if the request carries one.
    pub fn token<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        extract::token(headers, &self.settings.token_from)
    }

    /// Verifies `token` at `now`, from the cache when it was verified before.
    pub async fn verify_token(&self, token: &str, now: u64) -> Result<Principal, AuthError> {
        let s = &self.settings;
        if token.len() > s.max_token_size {
            return Err(AuthFailure::TokenTooLarge.into());
        }
        let key = cache::key(&self.name, token.as_bytes());
        if let Some(hit) = self.cache.get(&key) {
            self.hits.inc();
            let leeway = s.leeway.as_secs();
            check_times(
                hit.expires_at,
                hit.not_before,
                hit.issued_at,
                now,
                leeway,
                s.require_exp,
            )?;
            return Ok(self.principal(hit).cache_answered());
        }
        let set = self.current_keys()?;
        if let Some(r) = self.rejected.get(&key) {
            if std::ptr::eq(r.keys.as_ptr(), Arc::as_ptr(&set)) {
                self.rejected_hits.inc();
                return Err(r.failure.into());
            }
        }
        self.misses.inc();
        let (result, set) = match (self.verify_with(token, &set, now), &self.keys) {
            (Err(AuthFailure::UnknownKid), KeyHolder::Remote(remote))
                if remote.refresh_for_unknown_kid().await =>
            {
                let set = self.current_keys()?;
                (self.verify_with(token, &set, now), set)
            }
            (result, _) => (result, set),
        };
        match result.and_then(identity) {
            Ok(identity) => {
                let identity = Arc::new(identity);
                self.cache.insert(key, identity.clone());
                Ok(self.principal(identity))
            }
            Err(failure) => {
                if remember_rejection(failure) {
                    let keys = Arc::downgrade(&set);
                    self.rejected.insert(key, Rejected { failure, keys });
                }
                Err(failure.into())
            }
        }
    }

    /// A JWS, or a JWE (when decryption keys are configured) around one.
    fn verify_with(&self, token: &str, set: &KeySet, now: u64) -> Result<Verified, AuthFailure> {
        let s = &self.settings;
        match (&self.decryptor, &s.decryption) {
            (Some(d), Some(js)) if crate::jose::jwe::jwe_shaped(token) => {
                jwe::verify(token, d, js.allow_unsigned, set, s, now)
            }
            _ => verify::verify(token, set, s, now),
        }
    }

    /// Whether `token` is one this authenticator reads: a JWS, or a JWE when
    /// it has a decryption key that may open it.
    pub fn reads(&self, token: &str) -> bool {
        if jws_shaped(token) {
            return true;
        }
        let Some(d) = &self.decryptor else {
            return false;
        };
        crate::jose::jwe::jwe_shaped(token) && d.may_open(token)
    }

    pub fn decryptor(&self) -> Option<&crate::jose::jwe::Decryptor> {
        self.decryptor.as_deref()
    }

    fn current_keys(&self) -> Result<Arc<KeySet>, AuthError> {
        match &self.keys {
            KeyHolder::Static(set) => Ok(set.clone()),
            KeyHolder::Remote(remote) => remote
                .current()
                .ok_or(AuthError::Unavailable(Dependency::Keys)),
        }
    }

    fn principal(&self, identity: Arc<Identity>) -> Principal {
        Principal::new(self.name.clone(), self.kind, identity)
    }
}

/// What a verified JWT says, in kind-neutral form.
fn identity(v: Verified) -> Result<Identity, AuthFailure> {
    let token_id = v
        .claims
        .get("jti")
        .and_then(|j| j.as_str())
        .map(str::to_string);
    let binding = binding::parse(&v.claims)?;
    Ok(Identity {
        subject: v.subject,
        issuer: Some(v.issuer),
        claims: v.claims,
        expires_at: v.exp,
        not_before: v.nbf,
        issued_at: v.iat,
        token_id,
        binding,
    })
}

/// Compact JWS: exactly three dot-separated parts.
pub fn jws_shaped(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

impl Kind for JwtAuthenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        match self.token(at.headers) {
            Ok(Some(t)) => self.reads(t),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    fn located(&self, at: &Attempt<'_>) -> bool {
        !matches!(self.token(at.headers), Ok(None))
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let token = self.token(at.headers)?.ok_or(AuthFailure::Missing)?;
        let p = self.verify_token(token, at.now).await?;
        let bound = self.settings.certificate_bound;
        Ok(binding::verdict(p, at, token, &self.dpop, bound)?)
    }

    fn challenge(&self) -> Challenge {
        Challenge::Bearer
    }

    fn dpop_challenge(&self) -> Option<Challenge> {
        self.dpop.challenge()
    }

    fn strip(&self, headers: &mut HeaderMap) {
        extract::strip(headers, &self.settings.token_from);
    }

    fn not_ready(&self) -> Option<String> {
        match &self.keys {
            KeyHolder::Remote(r) if !r.loaded() => Some(format!(
                "authenticators.{}: signing keys not loaded",
                self.name
            )),
            _ => None,
        }
    }

    fn log_settings(&self) {
        let s = &self.settings;
        tracing::info!(
            authenticator = %self.name,
            kind = "jwt",
            issuer = %s.issuer,
            audiences = %crate::logfmt::list(&s.audiences),
            // A unit variant's Debug is its name (ES256, EdDSA...).
            algorithms = %crate::logfmt::list(s.algorithms.iter().map(|a| format!("{a:?}"))),
            keys = match &s.keys {
                KeySource::Static { .. } | KeySource::DevGenerated(_) => "file",
                KeySource::Jwks(_) => "jwks_url",
                KeySource::Discovery(_) => "discovery",
            },
            decryption_keys = %crate::logfmt::list(self.decryptor.iter().flat_map(|d| d.keys.iter().map(|k| k.kid.as_str()))),
            "authenticator"
        );
    }

    fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.settings.key_file.iter().cloned().collect();
        if let KeySource::DevGenerated(p) = &self.settings.keys {
            files.push(p.clone());
        }
        if let Some(d) = &self.settings.decryption {
            files.extend(d.files.iter().cloned());
        }
        files
    }
}
