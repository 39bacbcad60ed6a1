//! Authentication: credentials in, a [`Principal`] out. A `Principal` can only
//! be built here, after something was verified, so "authenticated" is a type.
//!
//! `jwt` verifies compact JWS tokens, `keys` holds key sets, `remote` fetches
//! JWKS/discovery documents. Later kinds (opaque, DPoP, signatures, OAuth 1.0a,
//! mTLS) join as further authenticators behind the same route-level entry point.

pub mod jwt;
pub mod keys;
pub mod remote;

use crate::config::{self, KeySource, TokenSource};
use crate::metrics::Metrics;
use http::{header, HeaderMap};
use jwt::Verified;
use keys::KeySet;
use remote::RemoteKeys;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a request was not authenticated or authorized. Labels are stable metric reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    TokenTooLarge,
    BadSignature,
    UnknownKid,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    AlgNotAllowed,
    UntrustedHeader,
    UnsupportedCrit,
    WrongType,
    MissingClaim,
    LifetimeTooLong,
    InsufficientScope,
    ClaimMismatch,
    Revoked,
    Replayed,
}

impl AuthFailure {
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::TokenTooLarge => "token_too_large",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::UnknownKid => "unknown_kid",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::WrongIssuer => "wrong_issuer",
            AuthFailure::WrongAudience => "wrong_audience",
            AuthFailure::AlgNotAllowed => "alg_not_allowed",
            AuthFailure::UntrustedHeader => "untrusted_header",
            AuthFailure::UnsupportedCrit => "unsupported_crit",
            AuthFailure::WrongType => "wrong_type",
            AuthFailure::MissingClaim => "missing_claim",
            AuthFailure::LifetimeTooLong => "lifetime_too_long",
            AuthFailure::InsufficientScope => "insufficient_scope",
            AuthFailure::ClaimMismatch => "claim_mismatch",
            AuthFailure::Revoked => "revoked",
            AuthFailure::Replayed => "replayed",
        }
    }

    /// A fixed description: never derived from the token.
    pub fn description(self) -> &'static str {
        match self {
            AuthFailure::Missing => "no bearer token was presented",
            AuthFailure::Malformed => "the token is not a well-formed signed JWT",
            AuthFailure::TokenTooLarge => "the token is larger than allowed",
            AuthFailure::BadSignature => "the token signature is invalid",
            AuthFailure::UnknownKid => "the token was signed with an unknown key",
            AuthFailure::Expired => "the token has expired",
            AuthFailure::NotYetValid => "the token is not valid yet",
            AuthFailure::WrongIssuer => {
                "the token was issued by an issuer this route does not accept"
            }
            AuthFailure::WrongAudience => "the token is not meant for this audience",
            AuthFailure::AlgNotAllowed => "the token's algorithm is not allowed",
            AuthFailure::UntrustedHeader => {
                "the token names its own key (jku, x5u, jwk, x5c), which is never trusted"
            }
            AuthFailure::UnsupportedCrit => {
                "the token requires an extension this gateway does not support"
            }
            AuthFailure::WrongType => "the token has the wrong type",
            AuthFailure::MissingClaim => "the token lacks a required claim",
            AuthFailure::LifetimeTooLong => "the token's lifetime is longer than allowed",
            AuthFailure::InsufficientScope => "the token lacks a scope this route requires",
            AuthFailure::ClaimMismatch => {
                "the token's claims do not meet this route's requirements"
            }
            AuthFailure::Revoked => "the token has been revoked",
            AuthFailure::Replayed => "the token was already used and is valid only once",
        }
    }

    /// 403 for authorization failures, 401 for the rest.
    pub fn is_forbidden(self) -> bool {
        matches!(
            self,
            AuthFailure::InsufficientScope | AuthFailure::ClaimMismatch
        )
    }
}

/// An authenticated caller. Only this module can construct one.
#[derive(Debug, Clone)]
pub struct Principal {
    authenticator: Arc<str>,
    token: Arc<Verified>,
}

impl Principal {
    pub fn subject(&self) -> &str {
        &self.token.subject
    }
    pub fn issuer(&self) -> &str {
        &self.token.issuer
    }
    pub fn authenticator(&self) -> &str {
        &self.authenticator
    }
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.token.claims
    }
    pub fn expires_at(&self) -> Option<u64> {
        self.token.exp
    }
    pub fn issued_at(&self) -> Option<u64> {
        self.token.iat
    }
    pub fn jti(&self) -> Option<&str> {
        self.token
            .claims
            .get("jti")
            .and_then(serde_json::Value::as_str)
    }
}

enum KeyHolder {
    Static(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

/// Verified tokens by SHA-256(authenticator, token), alive no longer than their `exp`.
type TokenCache = moka::sync::Cache<[u8; 32], Arc<Verified>>;

struct UntilExp;

impl moka::Expiry<[u8; 32], Arc<Verified>> for UntilExp {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        v: &Arc<Verified>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        let left = v.exp.map_or(60, |exp| exp.saturating_sub(unix_now()));
        Some(Duration::from_secs(left.min(3600)))
    }
}

/// A token refused after its signature was checked, remembered so that sending
/// the same bad token again costs a hash and a lookup, not another signature
/// verification (an attacker must not get a cheap amplifier). Valid only against
/// the key set it was checked with: a JWKS refresh makes the entry stale.
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
    )
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub struct JwtAuthenticator {
    pub name: Arc<str>,
    pub settings: config::JwtSettings,
    keys: KeyHolder,
    cache: TokenCache,
    /// Recently refused tokens by the same key as `cache` (bounded, 60 s).
    rejected: moka::sync::Cache<[u8; 32], Rejected>,
    /// Counters resolved once: a label lookup per request costs more than the cache hit.
    hits: prometheus::IntCounter,
    misses: prometheus::IntCounter,
    rejected_hits: prometheus::IntCounter,
}

/// Remote key sources, kept across reloads so a reload neither refetches nor flaps readiness.
#[derive(Default)]
pub struct KeyRegistry {
    sources: Mutex<Vec<Arc<RemoteKeys>>>,
}

impl KeyRegistry {
    fn get_or_start(
        &self,
        name: &str,
        source: &http::Uri,
        issuer: Option<String>,
        s: &config::JwtSettings,
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
        let rk = RemoteKeys::start(name, source.clone(), issuer, s, metrics.clone())?;
        list.push(rk.clone());
        Ok(rk)
    }

    /// Drops sources no authenticator uses any more (their refresh tasks then end).
    pub fn retain(&self, in_use: &[Arc<RemoteKeys>]) {
        if let Ok(mut list) = self.sources.lock() {
            list.retain(|r| in_use.iter().any(|u| Arc::ptr_eq(u, r)));
        }
    }
}

impl JwtAuthenticator {
    pub fn build(
        cfg: &config::Authenticator,
        registry: &KeyRegistry,
        metrics: &Metrics,
    ) -> Result<JwtAuthenticator, String> {
        let s = &cfg.jwt;
        let keys = match &s.keys {
            KeySource::Static(set) => KeyHolder::Static(set.clone()),
            KeySource::DevGenerated(public) => {
                let private = crate::keygen::dev_private_path(public);
                if crate::keygen::ensure_ed25519(&private, public)? {
                    tracing::warn!(
                        authenticator = %cfg.name,
                        private = %private.display(),
                        "generated a development Ed25519 key pair for minting dev tokens (not for production)"
                    );
                }
                let pem = std::fs::read(public)
                    .map_err(|e| format!("cannot read {}: {e}", public.display()))?;
                KeyHolder::Static(Arc::new(KeySet::from_config_bytes(
                    &pem,
                    false,
                    &s.algorithms,
                )?))
            }
            KeySource::Jwks(uri) => {
                KeyHolder::Remote(registry.get_or_start(&cfg.name, uri, None, s, metrics)?)
            }
            KeySource::Discovery(uri) => KeyHolder::Remote(registry.get_or_start(
                &cfg.name,
                uri,
                Some(s.issuer.clone()),
                s,
                metrics,
            )?),
        };
        Ok(JwtAuthenticator {
            name: Arc::from(cfg.name.as_str()),
            settings: s.clone(),
            keys,
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .expire_after(UntilExp)
                .build(),
            rejected: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            hits: metrics.token_cache.with_label_values(&[&cfg.name, "hit"]),
            rejected_hits: metrics
                .token_cache
                .with_label_values(&[&cfg.name, "rejected_hit"]),
            misses: metrics.token_cache.with_label_values(&[&cfg.name, "miss"]),
        })
    }

    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        match &self.keys {
            KeyHolder::Remote(r) => Some(r),
            KeyHolder::Static(_) => None,
        }
    }

    /// What keeps this authenticator from verifying, if anything.
    pub fn not_ready(&self) -> Option<String> {
        match &self.keys {
            KeyHolder::Remote(r) if !r.loaded() => Some(format!(
                "authenticators.{}: signing keys not loaded",
                self.name
            )),
            _ => None,
        }
    }

    /// The token this authenticator reads, if the request carries one.
    pub fn extract<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        match &self.settings.token_from {
            TokenSource::Bearer => bearer(headers),
            TokenSource::Header(name) => match headers.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|t| Some(t.trim()))
                    .map_err(|_| AuthFailure::Malformed),
            },
            TokenSource::Cookie(name) => Ok(cookie(headers, name)),
        }
    }

    fn cache_key(&self, token: &str) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(self.name.as_bytes());
        ctx.update(&[0]);
        ctx.update(token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Verifies `token` at `now`, from the cache when it was verified before.
    pub async fn verify(&self, token: &str, now: u64) -> Result<Principal, VerifyError> {
        let s = &self.settings;
        if token.len() > s.max_token_size {
            return Err(AuthFailure::TokenTooLarge.into());
        }
        let key = self.cache_key(token);
        if let Some(hit) = self.cache.get(&key) {
            self.hits.inc();
            jwt::check_times(
                hit.exp,
                hit.nbf,
                hit.iat,
                now,
                s.leeway.as_secs(),
                s.require_exp,
            )?;
            return Ok(self.principal(hit));
        }
        let set = match &self.keys {
            KeyHolder::Static(set) => set.clone(),
            KeyHolder::Remote(remote) => remote.current().ok_or(VerifyError::KeysUnavailable)?,
        };
        if let Some(r) = self.rejected.get(&key) {
            if std::ptr::eq(r.keys.as_ptr(), Arc::as_ptr(&set)) {
                self.rejected_hits.inc();
                return Err(r.failure.into());
            }
        }
        self.misses.inc();
        let (result, set) = match (jwt::verify(token, &set, s, now), &self.keys) {
            (Err(AuthFailure::UnknownKid), KeyHolder::Remote(remote))
                if remote.refresh_for_unknown_kid().await =>
            {
                let set = remote.current().ok_or(VerifyError::KeysUnavailable)?;
                (jwt::verify(token, &set, s, now), set)
            }
            (result, _) => (result, set),
        };
        match result {
            Ok(verified) => {
                let verified = Arc::new(verified);
                self.cache.insert(key, verified.clone());
                Ok(self.principal(verified))
            }
            Err(failure) => {
                if remember_rejection(failure) {
                    self.rejected.insert(
                        key,
                        Rejected {
                            failure,
                            keys: Arc::downgrade(&set),
                        },
                    );
                }
                Err(failure.into())
            }
        }
    }

    fn principal(&self, token: Arc<Verified>) -> Principal {
        Principal {
            authenticator: self.name.clone(),
            token,
        }
    }
}

/// A verification that failed: the client's fault, or ours (no keys to check with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    Rejected(AuthFailure),
    KeysUnavailable,
}

impl From<AuthFailure> for VerifyError {
    fn from(f: AuthFailure) -> Self {
        VerifyError::Rejected(f)
    }
}

/// RFC 6750 §2.1 b64token: 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/") *"=".
/// The characters as a table:
/// the check runs over every byte of every bearer token.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    t
};

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthFailure> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(AuthFailure::Malformed);
    }
    let bytes = value.as_bytes();
    let Some(space) = bytes.iter().position(|&b| b == b' ') else {
        return Err(AuthFailure::Malformed);
    };
    if !bytes[..space].eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let mut token = &bytes[space + 1..];
    while let [b' ', rest @ ..] = token {
        token = rest;
    }
    let mut body = token;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    let valid = !body.is_empty() && body.iter().all(|&b| B64TOKEN[usize::from(b)]);
    if !valid {
        return Err(AuthFailure::Malformed);
    }
    // Only ASCII passed the table, so this cannot fail.
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| AuthFailure::Malformed)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Runs a route's authenticators: the unverified `iss` only chooses which one
/// verifies when there are several; that one then decides.
pub async fn authenticate(
    authenticators: &[Arc<JwtAuthenticator>],
    headers: &HeaderMap,
    now: u64,
) -> Result<Principal, VerifyError> {
    let mut found = None;
    for a in authenticators {
        if let Some(token) = a.extract(headers)? {
            found = Some(token);
            break;
        }
    }
    let token = found.ok_or(AuthFailure::Missing)?;
    let chosen = if authenticators.len() == 1 {
        &authenticators[0]
    } else {
        let iss = jwt::unverified_issuer(token).ok_or(AuthFailure::Malformed)?;
        authenticators
            .iter()
            .find(|a| a.settings.issuer == iss && a.extract(headers).ok().flatten() == Some(token))
            .ok_or(AuthFailure::WrongIssuer)?
    };
    chosen.verify(token, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer abc.def.ghi")])),
            Ok(Some("abc.def.ghi"))
        );
        assert_eq!(
            bearer(&h(&[("authorization", "bearer abc")])),
            Ok(Some("abc"))
        );
        assert_eq!(bearer(&h(&[("authorization", "Basic dXNlcg==")])), Ok(None));
        assert_eq!(bearer(&h(&[])), Ok(None));
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer a b")])),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer")])),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            bearer(&h(&[("authorization", "Bearer  a-b.c_d~e+f/g==")])),
            Ok(Some("a-b.c_d~e+f/g=="))
        );
        for bad in ["Bearer a=b", "Bearer ==", "Bearer a\tb", "Bearer a,b"] {
            let mut m = HeaderMap::new();
            m.insert(
                header::AUTHORIZATION,
                http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            assert_eq!(bearer(&m), Err(AuthFailure::Malformed), "{bad:?}");
        }
        let mut m = HeaderMap::new();
        m.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer ab\xffc").unwrap(),
        );
        assert_eq!(bearer(&m), Err(AuthFailure::Malformed), "opaque bytes");
        assert_eq!(
            bearer(&h(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Err(AuthFailure::Malformed)
        );
    }

    #[test]
    fn cookie_extraction() {
        let m = h(&[("cookie", "a=1; session=tok; b=2")]);
        assert_eq!(cookie(&m, "session"), Some("tok"));
        assert_eq!(cookie(&m, "sess"), None);
    }
}
