//! Authentication: credentials in, a [`Principal`] out. A `Principal` can only
//! be built here, after something was verified, so "authenticated" is a type.
//!
//! Every credential kind has the same shape: an [`Authenticator`] variant whose
//! settings validate themselves, and a [`Kind`] implementation that says
//! whether its credential is on the request (`presents`, no crypto), verifies
//! it from one [`Attempt`], names its `WWW-Authenticate` challenge and removes
//! its own credential before forwarding. The enum dispatches statically: no
//! boxed futures on the request path.
//!
//! `jwt` verifies JWS tokens against configured or remote keys, `mtls` reads
//! the verified client certificate, `api_key` looks up hashed keys in the store,
//! `introspect` asks an RFC 7662 endpoint. `extract` reads credentials,
//! `cache` remembers verified ones.

pub mod api_key;
mod cache;
pub mod extract;
mod failure;
pub mod introspect;
pub mod jwt;
pub mod mtls;
mod principal;

pub use failure::{AuthError, AuthFailure, Dependency};
pub use principal::{Binding, Identity, Principal};

use crate::conn::ClientCert;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use std::path::PathBuf;
use std::sync::Arc;

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The verifier's one input: the request as received (before any rewriting),
/// the connection's client certificate, and the clock.
#[non_exhaustive]
pub struct Attempt<'a> {
    pub method: &'a Method,
    pub target: &'a Uri,
    pub authority: &'a str,
    pub headers: &'a HeaderMap,
    /// The TLS peer's verified certificate; `None` inside an OHTTP envelope,
    /// where the TLS peer is the relay, not the client.
    pub client_cert: Option<&'a ClientCert>,
    /// The body, when a kind's `needs_body` asked for it.
    pub body: Option<&'a Bytes>,
    pub now: u64,
}

impl<'a> Attempt<'a> {
    pub fn new(
        method: &'a Method,
        target: &'a Uri,
        authority: &'a str,
        headers: &'a HeaderMap,
        now: u64,
    ) -> Attempt<'a> {
        Attempt {
            method,
            target,
            authority,
            headers,
            client_cert: None,
            body: None,
            now,
        }
    }

    pub fn with_client_cert(mut self, cert: Option<&'a ClientCert>) -> Attempt<'a> {
        self.client_cert = cert;
        self
    }
}

/// A successful verification.
#[non_exhaustive]
pub struct Verdict {
    pub principal: Principal,
}

impl Verdict {
    fn of(principal: Principal) -> Verdict {
        Verdict { principal }
    }
}

/// What a kind puts in `WWW-Authenticate` (RFC 9110 §11.6.1) when it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// RFC 6750 bearer tokens: JWTs, API keys, introspected tokens.
    Bearer,
    /// No HTTP challenge: the credential is a TLS client certificate.
    None,
}

/// One credential kind. Crate-private: [`Authenticator`] dispatches to it.
pub(crate) trait Kind {
    /// Cheap, no crypto and no I/O: is this kind's credential on the request?
    fn presents(&self, at: &Attempt<'_>) -> bool;
    /// Something sits where this kind looks but is not its credential's shape
    /// (a malformed `Authorization` header): verified only when no kind presents,
    /// so the client hears "malformed" rather than "missing".
    fn located(&self, at: &Attempt<'_>) -> bool {
        self.presents(at)
    }
    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError>;
    fn challenge(&self) -> Challenge;
    /// Removes this kind's own credential (a cookie, a header) before forwarding.
    fn strip(&self, _headers: &mut HeaderMap) {}
    /// What keeps this kind from verifying, for `/readyz`.
    fn not_ready(&self) -> Option<String> {
        None
    }
    /// Files whose change should reload the configuration.
    fn watched_files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// One start-up log line with the settings an operator checks (never a secret).
    fn log_settings(&self);
}

/// A configured authenticator, ready to verify.
pub enum Authenticator {
    Jwt(jwt::JwtAuthenticator),
    Mtls(mtls::MtlsAuthenticator),
    ApiKey(api_key::ApiKeyAuthenticator),
    Introspection(Arc<introspect::Introspector>),
}

macro_rules! dispatch {
    ($self:ident, $a:ident => $e:expr) => {
        match $self {
            Authenticator::Jwt($a) => $e,
            Authenticator::Mtls($a) => $e,
            Authenticator::ApiKey($a) => $e,
            Authenticator::Introspection($a) => $e,
        }
    };
}

impl Authenticator {
    /// Builds the runtime form of one validated `[authenticators.NAME]` table.
    pub fn build(
        cfg: &crate::config::Authenticator,
        keys: &jwt::KeyRegistry,
        store: &Arc<crate::store::Store>,
        metrics: &crate::metrics::Metrics,
    ) -> Result<Authenticator, String> {
        use crate::config::AuthnSettings as S;
        let name = cfg.name.as_str();
        Ok(match &cfg.settings {
            S::Jwt(s) => Authenticator::Jwt(jwt::JwtAuthenticator::build(name, s, keys, metrics)?),
            S::Mtls(s) => Authenticator::Mtls(mtls::MtlsAuthenticator::new(name, s)),
            S::ApiKey(s) => Authenticator::ApiKey(api_key::ApiKeyAuthenticator::build(
                name, s, store, metrics,
            )?),
            S::Introspection(s) => {
                Authenticator::Introspection(introspect::Introspector::build(name, s, metrics)?)
            }
        })
    }

    /// Where a token-carrying kind reads its token (`None` for certificates).
    pub fn token_source(&self) -> Option<&crate::config::TokenSource> {
        match self {
            Authenticator::Jwt(j) => Some(&j.settings.token_from),
            Authenticator::ApiKey(k) => Some(k.token_source()),
            Authenticator::Introspection(i) => Some(i.token_source()),
            Authenticator::Mtls(_) => None,
        }
    }

    /// The remote key source this authenticator keeps alive, if any.
    pub fn remote_keys(&self) -> Option<&Arc<jwt::remote::RemoteKeys>> {
        match self {
            Authenticator::Jwt(j) => j.remote(),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        dispatch!(self, a => a.name())
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Authenticator::Jwt(_) => "jwt",
            Authenticator::Mtls(_) => "mtls",
            Authenticator::ApiKey(_) => "api-key",
            Authenticator::Introspection(_) => "introspection",
        }
    }
    pub fn presents(&self, at: &Attempt<'_>) -> bool {
        dispatch!(self, a => a.presents(at))
    }
    fn located(&self, at: &Attempt<'_>) -> bool {
        dispatch!(self, a => a.located(at))
    }
    pub async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        dispatch!(self, a => a.verify(at).await)
    }
    pub fn challenge(&self) -> Challenge {
        dispatch!(self, a => a.challenge())
    }
    pub fn strip(&self, headers: &mut HeaderMap) {
        dispatch!(self, a => a.strip(headers))
    }
    pub fn not_ready(&self) -> Option<String> {
        dispatch!(self, a => a.not_ready())
    }
    pub fn watched_files(&self) -> Vec<PathBuf> {
        dispatch!(self, a => a.watched_files())
    }
    pub fn log_settings(&self) {
        dispatch!(self, a => a.log_settings())
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({}, {})", self.kind(), self.name())
    }
}

/// Runs a route's authenticators (any-of): the first, in configured order,
/// whose credential is present decides. Among several JWT authenticators
/// reading the same token, the unverified `iss` only picks which one verifies.
pub async fn authenticate(
    authenticators: &[Arc<Authenticator>],
    at: &Attempt<'_>,
) -> Result<Principal, AuthError> {
    let chosen = choose(authenticators, at)?;
    chosen.verify(at).await.map(|v| v.principal)
}

fn choose<'a>(
    list: &'a [Arc<Authenticator>],
    at: &Attempt<'_>,
) -> Result<&'a Authenticator, AuthError> {
    let first = list
        .iter()
        .find(|a| a.presents(at))
        .or_else(|| list.iter().find(|a| a.located(at)))
        .ok_or(AuthFailure::Missing)?;
    let Authenticator::Jwt(jwt) = &**first else {
        return Ok(first);
    };
    let token = jwt.token(at.headers)?.ok_or(AuthFailure::Missing)?;
    let mut peers = list.iter().filter_map(|a| match &**a {
        Authenticator::Jwt(j) if j.token(at.headers).ok().flatten() == Some(token) => Some(j),
        _ => None,
    });
    let several = peers.clone().nth(1).is_some();
    if !several {
        return Ok(first);
    }
    let iss = jwt::unverified_issuer(token).ok_or(AuthFailure::Malformed)?;
    let chosen = peers
        .find(|j| j.settings.issuer == iss)
        .ok_or(AuthFailure::WrongIssuer)?;
    list.iter()
        .map(|a| &**a)
        .find(|a| matches!(a, Authenticator::Jwt(j) if std::ptr::eq(j, chosen)))
        .ok_or(AuthError::Rejected(AuthFailure::WrongIssuer))
}
