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
mod binding;
mod cache;
pub mod credentials;
pub mod dpop;
pub mod extract;
mod failure;
pub mod introspect;
pub mod issued;
pub mod jwt;
mod kind;
pub mod mtls;
pub mod oauth1;
mod principal;
pub mod settings;
pub mod signature;

pub use failure::{AuthError, AuthFailure, Dependency};
pub(crate) use kind::Kind;
pub use kind::{unix_now, Attempt, BodyRequirement, Challenge, ResponseSigning, Verdict};
pub use principal::{Binding, Identity, Principal};

use http::HeaderMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What building an authenticator may need besides its own settings.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    pub keys: &'a jwt::KeyRegistry,
    pub store: &'a Arc<crate::store::Store>,
    pub metrics: &'a crate::metrics::Metrics,
    /// The token endpoint's keys, for `kind = "issued"`.
    pub issued: Option<&'a issued::IssuedKeys>,
}

/// A configured authenticator, ready to verify. Built once per configuration
/// and shared behind an `Arc`, so variant sizes cost nothing per request.
#[allow(clippy::large_enum_variant)]
pub enum Authenticator {
    Jwt(jwt::JwtAuthenticator),
    Mtls(mtls::MtlsAuthenticator),
    ApiKey(api_key::ApiKeyAuthenticator),
    Introspection(Arc<introspect::Introspector>),
    HttpSignature(signature::HttpSignatureAuthenticator),
    OAuth1(oauth1::OAuth1Authenticator),
    Issued(issued::IssuedAuthenticator),
}

macro_rules! dispatch {
    ($self:ident, $a:ident => $e:expr) => {
        match $self {
            Authenticator::Jwt($a) => $e,
            Authenticator::Mtls($a) => $e,
            Authenticator::ApiKey($a) => $e,
            Authenticator::Introspection($a) => $e,
            Authenticator::HttpSignature($a) => $e,
            Authenticator::OAuth1($a) => $e,
            Authenticator::Issued($a) => $e,
        }
    };
}

impl Authenticator {
    /// Builds the runtime form of one validated `[authenticators.NAME]` table.
    pub fn build(
        cfg: &crate::authn::settings::AuthenticatorSettings,
        ctx: &BuildContext<'_>,
    ) -> Result<Authenticator, String> {
        let BuildContext {
            keys,
            store,
            metrics,
            issued,
        } = *ctx;
        use crate::authn::settings::AuthnSettings as S;
        let name = cfg.name.as_str();
        Ok(match &cfg.settings {
            S::Jwt(s) => Authenticator::Jwt(jwt::JwtAuthenticator::build(name, s, keys, metrics)?),
            S::Mtls(s) => Authenticator::Mtls(mtls::MtlsAuthenticator::new(name, s)),
            S::ApiKey(s) => Authenticator::ApiKey(api_key::ApiKeyAuthenticator::build(
                name, s, store, metrics,
            )?),
            S::Introspection(s) => Authenticator::Introspection(introspect::Introspector::build(
                name, s, keys, metrics,
            )?),
            S::HttpSignature(s) => Authenticator::HttpSignature(
                signature::HttpSignatureAuthenticator::build(name, s, keys, metrics)?,
            ),
            S::OAuth1(s) => {
                Authenticator::OAuth1(oauth1::OAuth1Authenticator::build(name, s, keys, metrics)?)
            }
            S::Issued(s) => {
                let from = issued.ok_or("kind = \"issued\" needs an [issuer] section")?;
                Authenticator::Issued(issued::IssuedAuthenticator::build(
                    name, s, from, store, metrics,
                )?)
            }
        })
    }

    /// Where a token-carrying kind reads its token (`None` for certificates).
    pub fn token_source(&self) -> Option<&crate::authn::extract::TokenSource> {
        match self {
            Authenticator::Jwt(j) => Some(&j.settings.token_from),
            Authenticator::ApiKey(k) => Some(k.token_source()),
            Authenticator::Introspection(i) => Some(i.token_source()),
            Authenticator::Issued(_) => Some(&extract::TokenSource::Bearer),
            Authenticator::Mtls(_) | Authenticator::HttpSignature(_) | Authenticator::OAuth1(_) => {
                None
            }
        }
    }

    /// The discovered endpoint this authenticator keeps alive, if any.
    pub fn discovered_endpoint(&self) -> Option<&jwt::DiscoveredEndpoint> {
        match self {
            Authenticator::Introspection(i) => i.discovered_endpoint(),
            _ => None,
        }
    }

    /// The public JWKs (`use: enc`) of its token decryption keys, for
    /// identity providers and clients to encrypt tokens to.
    pub fn encryption_jwks(&self) -> Vec<serde_json::Value> {
        self.decryptor()
            .map(|d| d.keys.iter().filter_map(|k| k.public_jwk()).collect())
            .unwrap_or_default()
    }

    /// Its JWE decryption keys, when it reads encrypted tokens.
    pub fn decryptor(&self) -> Option<&crate::jose::jwe::Decryptor> {
        match self {
            Authenticator::Jwt(j) => j.decryptor(),
            Authenticator::Issued(i) => i.decryptor(),
            _ => None,
        }
    }

    /// The remote key source this authenticator keeps alive, if any.
    pub fn remote_keys(&self) -> Option<&Arc<jwt::remote::RemoteKeys>> {
        match self {
            Authenticator::Jwt(j) => j.remote(),
            Authenticator::HttpSignature(s) => s.remote(),
            Authenticator::OAuth1(o) => o.remote(),
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
            Authenticator::HttpSignature(_) => "http-signature",
            Authenticator::OAuth1(_) => "oauth1",
            Authenticator::Issued(_) => "issued",
        }
    }
    pub fn presents(&self, at: &Attempt<'_>) -> bool {
        dispatch!(self, a => a.presents(at))
    }
    fn located(&self, at: &Attempt<'_>) -> bool {
        dispatch!(self, a => a.located(at))
    }
    fn catch_all(&self) -> bool {
        dispatch!(self, a => a.catch_all())
    }
    pub async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        match self {
            // An introspection call's state (a cache fill around an HTTP
            // exchange) is three times any other kind's: boxed, so every
            // request's future is not sized, and moved, for it. The other
            // arms are spelled out: a catch-all `dispatch!` would still
            // hold an (unreachable) unboxed introspection arm.
            Authenticator::Introspection(a) => Box::pin(a.verify(at)).await,
            Authenticator::Jwt(a) => a.verify(at).await,
            Authenticator::Mtls(a) => a.verify(at).await,
            Authenticator::ApiKey(a) => a.verify(at).await,
            Authenticator::HttpSignature(a) => a.verify(at).await,
            Authenticator::OAuth1(a) => a.verify(at).await,
            Authenticator::Issued(a) => a.verify(at).await,
        }
    }
    pub fn challenge(&self) -> Challenge {
        dispatch!(self, a => a.challenge())
    }
    pub fn dpop_challenge(&self) -> Option<Challenge> {
        dispatch!(self, a => a.dpop_challenge())
    }
    pub fn strip(&self, headers: &mut HeaderMap) {
        dispatch!(self, a => a.strip(headers))
    }
    pub fn needs_body(&self, headers: &HeaderMap) -> bool {
        dispatch!(self, a => a.needs_body(headers))
    }
    pub fn query_prefix(&self) -> Option<&'static str> {
        dispatch!(self, a => a.query_prefix())
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
/// whose credential is present decides; a catch-all kind (introspection) only
/// when no kind recognised the credential. Among several JWT authenticators
/// reading the same token, the unverified `iss` only picks which one verifies.
pub async fn authenticate(
    authenticators: &[Arc<Authenticator>],
    at: &Attempt<'_>,
) -> Result<Verdict, AuthError> {
    let chosen = choose(authenticators, at)?;
    chosen.verify(at).await
}

fn choose<'a>(
    list: &'a [Arc<Authenticator>],
    at: &Attempt<'_>,
) -> Result<&'a Authenticator, AuthError> {
    // The common case, one authenticator: it decides, "missing" included, and
    // reads its credential once (in verify) rather than twice.
    if let [only] = list {
        return Ok(only);
    }
    let first = list
        .iter()
        .find(|a| !a.catch_all() && a.presents(at))
        .or_else(|| list.iter().find(|a| a.presents(at)))
        .or_else(|| list.iter().find(|a| a.located(at)))
        .ok_or(AuthFailure::Missing)?;
    // Several JWT-reading authenticators (jwt, issued) on one token: the
    // unverified `iss` only picks which one verifies.
    let Some((token, _)) = jwt_reader(first, at) else {
        return Ok(first);
    };
    let peers = list.iter().filter_map(|a| {
        jwt_reader(a, at)
            .filter(|(t, _)| *t == token)
            .map(|(_, iss)| (a, iss))
    });
    if peers.clone().nth(1).is_none() {
        return Ok(first);
    }
    let iss = jwt::unverified_issuer(token).ok_or(AuthFailure::Malformed)?;
    peers
        .clone()
        .find(|(_, expected)| *expected == iss)
        .map(|(a, _)| &**a)
        .ok_or(AuthError::Rejected(AuthFailure::WrongIssuer))
}

/// The JWS this authenticator would verify on the request, and the `iss` it
/// requires: for `jwt` and `issued` kinds.
fn jwt_reader<'a>(a: &'a Authenticator, at: &Attempt<'a>) -> Option<(&'a str, &'a str)> {
    let (token, iss) = match a {
        Authenticator::Jwt(j) => (j.token(at.headers).ok()??, j.settings.issuer.as_str()),
        Authenticator::Issued(i) => (i.token(at.headers).ok()??, i.issuer()),
        _ => return None,
    };
    jwt::jws_shaped(token).then_some((token, iss))
}
