//! `kind = "issued"`: access tokens from this gateway's own token endpoint
//! (`[issuer]`). A JWT (`typ: at+jwt`, RFC 9068) is verified like any JWT,
//! against the issuer's public key, its `iss` and audience, and cached; an
//! opaque token (the API key format, `sgat_` prefix) is found in the store by
//! its id and its hash compared in constant time. Either may be DPoP-bound
//! (`cnf.jkt`); the session (`sid`) joins the request's store round trip, so
//! a logout or a detected refresh-token reuse ends its access tokens at once.

use super::binding;
use super::dpop::{Dpop, DpopSettings};
use super::failure::{AuthError, AuthFailure, Dependency};
use super::jwt::settings::{JwtSettings, KeySource};
use super::jwt::JwtAuthenticator;
use super::kind::{Attempt, Challenge, Kind, Verdict};
use super::principal::{Identity, Principal};
use crate::authn::api_key::{check_shape, fingerprint};
use crate::authn::extract;
use crate::config::secret::Secret;
use crate::metrics::Metrics;
use crate::store::sessions::AccessRecord;
use crate::store::Store;
use http::HeaderMap;
use std::sync::Arc;
use std::time::Duration;

/// The prefix of opaque access tokens.
pub const OPAQUE_PREFIX: &str = "sgat_";
/// The largest `leeway` an `issued` authenticator takes: a session's
/// revocation mark outlives its access tokens by at least this.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// What an `issued` authenticator needs of the `[issuer]`: its public keys
/// (a JWKS), the `iss` and audience it puts in tokens, and their algorithm.
#[derive(Debug, Clone)]
pub struct IssuedKeys {
    pub jwks: Arc<Secret>,
    pub issuer: String,
    pub audience: String,
    pub algorithm: jsonwebtoken::Algorithm,
    pub max_lifetime: Duration,
    /// The key access tokens are encrypted to (`issuer.access_token.encrypt`).
    pub decryption: Option<super::jwt::decryption::JweSettings>,
}

#[derive(Debug, Clone, Default)]
pub struct IssuedSettings {
    pub dpop: DpopSettings,
    pub leeway: Duration,
}

pub struct IssuedAuthenticator {
    name: Arc<str>,
    jwt: JwtAuthenticator,
    store: Arc<Store>,
    /// Opaque records by id for at most a second, as for API keys.
    recent: moka::sync::Cache<String, Arc<AccessRecord>>,
    dpop: Dpop,
    metrics: Metrics,
}

impl IssuedAuthenticator {
    pub fn build(
        name: &str,
        s: &IssuedSettings,
        keys: &IssuedKeys,
        store: &Arc<Store>,
        metrics: &Metrics,
    ) -> Result<IssuedAuthenticator, String> {
        let material = KeySource::Static {
            material: keys.jwks.clone(),
            hmac: false,
        };
        let jwt = JwtSettings {
            leeway: s.leeway,
            max_lifetime: Some(keys.max_lifetime),
            typ: Some("at+jwt".into()),
            decryption: keys.decryption.clone(),
            ..JwtSettings::with_defaults(
                &keys.issuer,
                vec![keys.audience.clone()],
                vec![keys.algorithm],
                material,
            )
        };
        let registry = super::jwt::KeyRegistry::default();
        Ok(IssuedAuthenticator {
            name: Arc::from(name),
            jwt: JwtAuthenticator::build(name, &jwt, &registry, metrics)?.with_kind("issued"),
            store: store.clone(),
            recent: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(1))
                .build(),
            dpop: Dpop::new(name, &s.dpop)?,
            metrics: metrics.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Uses `dpop` (the token endpoint's own policy, so one nonce source
    /// serves its token and logout endpoints).
    pub fn with_dpop(mut self, dpop: Dpop) -> IssuedAuthenticator {
        self.dpop = dpop;
        self
    }

    pub fn decryptor(&self) -> Option<&crate::jose::jwe::Decryptor> {
        self.jwt.decryptor()
    }

    /// The `iss` of the tokens it accepts.
    pub fn issuer(&self) -> &str {
        &self.jwt.settings.issuer
    }

    pub fn token<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        extract::bearer(headers)
    }

    /// Verifies an access token of either form, without the DPoP policy.
    pub async fn principal(&self, token: &str, now: u64) -> Result<Principal, AuthError> {
        if token.starts_with(OPAQUE_PREFIX) {
            self.opaque(token, now).await
        } else {
            self.jwt.verify_token(token, now).await
        }
    }

    async fn opaque(&self, token: &str, now: u64) -> Result<Principal, AuthError> {
        check_shape(OPAQUE_PREFIX, token)?;
        let (id, hash) = fingerprint(token);
        let record = match self.recent.get(&id) {
            Some(r) => r,
            None => {
                let found = self
                    .store
                    .access(&id, &self.metrics)
                    .await
                    .map_err(|_| AuthError::Unavailable(Dependency::Store))?
                    .ok_or(AuthFailure::UnknownKey)?;
                let found = Arc::new(found);
                self.recent.insert(id.clone(), found.clone());
                found
            }
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(record.hash.as_bytes(), hash.as_bytes())
            .map_err(|_| AuthFailure::UnknownKey)?;
        if now >= record.expires_at {
            return Err(AuthFailure::Expired.into());
        }
        let binding = super::binding::parse(&record.claims)?;
        Ok(Principal::new(
            self.name.clone(),
            "issued",
            Arc::new(Identity {
                subject: record.sub.clone(),
                claims: record.claims.clone(),
                expires_at: Some(record.expires_at),
                issued_at: Some(record.issued_at),
                token_id: Some(id),
                binding,
                ..Identity::default()
            }),
        ))
    }
}

impl Kind for IssuedAuthenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        match self.token(at.headers) {
            Ok(Some(t)) => t.starts_with(OPAQUE_PREFIX) || self.jwt.reads(t),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    fn located(&self, at: &Attempt<'_>) -> bool {
        !matches!(self.token(at.headers), Ok(None))
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let token = self.token(at.headers)?.ok_or(AuthFailure::Missing)?;
        let p = self.principal(token, at.now).await?;
        Ok(binding::verdict(p, at, token, &self.dpop, false)?)
    }

    fn challenge(&self) -> Challenge {
        Challenge::Bearer
    }

    fn dpop_challenge(&self) -> Option<Challenge> {
        self.dpop.challenge()
    }

    fn log_settings(&self) {
        tracing::info!(
            authenticator = %self.name,
            kind = "issued",
            dpop = self.dpop.mode().as_str(),
            "authenticator"
        );
    }
}
