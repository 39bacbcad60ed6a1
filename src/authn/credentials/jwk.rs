//! Where a signed-request authenticator finds its keys: the credentials file
//! and/or a JWKS ([`KeySources`] validated, [`SignerKeys`] at run time).
//!
//! Public keys from a JWKS (`jwks_url`): a `keyid` (RFC
//! 9421) or consumer key (OAuth 1.0a) not in the credentials file names a JWK
//! `kid`, exactly. The key's type and the authenticator's `jwks_algorithms`
//! decide the algorithm (a JWK's own `alg` narrows it); the request's own
//! `alg` or signature method must agree. Fetching and refreshing is the JWT
//! authenticator's machinery (`jwt::remote`).

use super::source::{source, CredentialSource};
use super::{Algorithm, Credential};
use crate::authn::failure::{AuthError, AuthFailure, Dependency};
use crate::authn::jwt::key::{Key, KeyType};
use crate::authn::jwt::keys::KeySet;
use crate::authn::jwt::remote::RefreshPolicy;
use crate::authn::jwt::remote::RemoteKeys;
use crate::config::diag::Diag;
use aws_lc_rs::signature;
use std::sync::Arc;

/// Where an authenticator's JWKS is, which algorithms its keys may use, and
/// how it is refreshed.
#[derive(Debug, Clone)]
pub struct JwksKeys {
    pub url: http::Uri,
    pub algorithms: Vec<Algorithm>,
    pub policy: RefreshPolicy,
}

/// The `jwks_*` keys of `[authenticators.NAME]`, shared by both kinds;
/// `None` without `jwks_url`. `default` names the algorithms when
/// `jwks_algorithms` is absent.
pub fn settings(
    d: &mut Diag<'_>,
    name: &str,
    [url, refresh, max_stale, cooldown]: [&Option<String>; 4],
    algorithms: Option<&Vec<String>>,
    (oauth, default): (bool, &[&str]),
) -> Option<JwksKeys> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let url = match crate::net::fetch_url(url.as_ref()?) {
        Ok(u) => u,
        Err(e) => {
            d.push(p("jwks_url"), e);
            return None;
        }
    };
    let names: Vec<String> = match algorithms {
        Some(a) => a.clone(),
        None => default.iter().map(|s| s.to_string()).collect(),
    };
    let mut parsed = Vec::new();
    for n in &names {
        match Algorithm::parse(n).filter(|a| a.is_oauth() == oauth && a.verification().is_some()) {
            Some(a) => parsed.push(a),
            None => d.push(
                p("jwks_algorithms"),
                format!("{n:?} is not a public-key algorithm of this kind"),
            ),
        }
    }
    let policy =
        crate::authn::jwt::settings::refresh_policy(d, &p(""), [refresh, max_stale, cooldown]);
    Some(JwksKeys {
        url,
        algorithms: parsed,
        policy,
    })
}

/// The key a request's key id names.
pub enum Signer {
    /// An entry of the credentials file.
    File(Arc<Credential>),
    /// A JWK of the `jwks_url` key set, whose `kid` is the id.
    Jwks(Arc<KeySet>),
}

/// Where a signed-request authenticator finds keys at run time: its
/// credentials file and, with `jwks_url`, the running JWKS source.
pub struct SignerKeys {
    file: Option<CredentialSource>,
    remote: Option<Arc<RemoteKeys>>,
}

impl SignerKeys {
    pub fn build(
        name: &str,
        sources: &KeySources,
        registry: &crate::authn::jwt::KeyRegistry,
        metrics: &crate::metrics::Metrics,
    ) -> Result<SignerKeys, String> {
        let remote = match &sources.jwks {
            Some(j) => Some(registry.get_or_start(name, &j.url, None, j.policy, metrics)?),
            None => None,
        };
        Ok(SignerKeys {
            file: sources.file.clone(),
            remote,
        })
    }

    pub async fn resolve(&self, id: &str) -> Result<Signer, AuthError> {
        resolve(self.file.as_ref(), self.remote.as_ref(), id).await
    }

    /// The JWKS source this authenticator keeps fetched, if any.
    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        self.remote.as_ref()
    }

    /// The credentials file and a `file:` KEK, watched for reload.
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        self.file
            .as_ref()
            .map(|c| c.watched.clone())
            .unwrap_or_default()
    }

    /// `/readyz`: the JWKS has not been fetched (or is stale beyond its limit).
    pub fn not_ready(&self, authenticator: &str) -> Option<String> {
        match &self.remote {
            Some(r) if !r.loaded() => Some(format!(
                "authenticators.{authenticator}: JWKS keys not loaded"
            )),
            _ => None,
        }
    }

    /// For the start-up log line: the file and how many entries it holds.
    pub fn describe(&self) -> (Option<String>, usize) {
        match &self.file {
            Some(c) => (Some(c.set.path.display().to_string()), c.set.len()),
            None => (None, 0),
        }
    }
}

/// Finds the key for `id`: the credentials file first, then the JWKS
/// (refetched once, within the cooldown, for an unknown kid).
async fn resolve(
    file: Option<&CredentialSource>,
    remote: Option<&Arc<RemoteKeys>>,
    id: &str,
) -> Result<Signer, AuthError> {
    if let Some(c) = file.and_then(|f| f.set.get(id)) {
        return Ok(Signer::File(c.clone()));
    }
    let Some(remote) = remote else {
        return Err(AuthFailure::UnknownKid.into());
    };
    let current = || {
        remote
            .current()
            .ok_or(AuthError::Unavailable(Dependency::Keys))
    };
    let set = current()?;
    if find(&set, id).is_some() {
        return Ok(Signer::Jwks(set));
    }
    if remote.refresh_for_unknown_kid().await {
        let set = current()?;
        if find(&set, id).is_some() {
            return Ok(Signer::Jwks(set));
        }
    }
    Err(AuthFailure::UnknownKid.into())
}

/// The JWK whose `kid` is exactly `id` (never a lone key without a kid: the
/// id becomes the subject, so it must name the key).
pub fn find<'s>(set: &'s KeySet, id: &str) -> Option<&'s Key> {
    set.select(Some(id))
        .ok()
        .filter(|k| k.kid.as_deref() == Some(id))
}

/// The algorithm a JWKS key verifies with, or `AlgNotAllowed`.
pub fn algorithm(
    key: &Key,
    allowed: &[Algorithm],
    requested: Option<&str>,
) -> Result<Algorithm, AuthFailure> {
    use jsonwebtoken::Algorithm as J;
    let fits = |a: Algorithm| {
        let type_fits = matches!(
            (key.kind, a),
            (KeyType::Ed25519, Algorithm::Ed25519)
                | (KeyType::EcP256, Algorithm::EcdsaP256Sha256)
                | (
                    KeyType::Rsa,
                    Algorithm::RsaPssSha512
                        | Algorithm::RsaV15Sha256
                        | Algorithm::OAuthRsaSha256
                        | Algorithm::OAuthRsaSha1
                )
        );
        let jwk_alg_fits = match key.alg {
            None => true,
            Some(j) => matches!(
                (j, a),
                (J::EdDSA, Algorithm::Ed25519)
                    | (J::ES256, Algorithm::EcdsaP256Sha256)
                    | (J::PS512, Algorithm::RsaPssSha512)
                    | (
                        J::RS256,
                        Algorithm::RsaV15Sha256 | Algorithm::OAuthRsaSha256
                    )
            ),
        };
        type_fits && jwk_alg_fits && allowed.contains(&a)
    };
    match requested {
        Some(name) => Algorithm::parse(name)
            .filter(|a| fits(*a))
            .ok_or(AuthFailure::AlgNotAllowed),
        None => {
            let mut candidates = allowed.iter().copied().filter(|a| fits(*a));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(AuthFailure::AlgNotAllowed),
            }
        }
    }
}

/// Verifies `sig` over `message` with a JWKS key.
pub fn verify(key: &Key, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), AuthFailure> {
    let ok = match (alg, &key.parsed, &key.rsa) {
        (Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256, Some(parsed), _) => {
            parsed.verify_sig(message, sig).is_ok()
        }
        (Algorithm::RsaPssSha512, _, Some(rsa)) => rsa
            .verify(&signature::RSA_PSS_2048_8192_SHA512, message, sig)
            .is_ok(),
        (Algorithm::RsaV15Sha256 | Algorithm::OAuthRsaSha256, _, Some(rsa)) => rsa
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
            .is_ok(),
        (Algorithm::OAuthRsaSha1, _, Some(rsa)) => rsa
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                message,
                sig,
            )
            .is_ok(),
        _ => false,
    };
    ok.then_some(()).ok_or(AuthFailure::BadSignature)
}

/// Where a signed-request authenticator's keys come from: its credentials
/// file, a JWKS, or both (the file is not required with `jwks_url`).
#[derive(Debug, Clone)]
pub struct KeySources {
    pub file: Option<CredentialSource>,
    pub jwks: Option<JwksKeys>,
}

impl KeySources {
    /// The algorithms JWKS keys may use (none without a JWKS).
    pub fn jwks_algorithms(&self) -> &[super::Algorithm] {
        self.jwks.as_ref().map_or(&[][..], |j| &j.algorithms[..])
    }
}

/// The key-source keys both signed-request kinds share, as written.
pub struct KeyFields<'a> {
    pub credentials: &'a Option<String>,
    pub kek: &'a Option<String>,
    /// `jwks_url`, `jwks_refresh`, `jwks_max_stale`, `jwks_cooldown`.
    pub jwks: [&'a Option<String>; 4],
    pub jwks_algorithms: &'a Option<Vec<String>>,
}

/// Validates the key sources of `[authenticators.NAME]`. `oauth` says which
/// protocol's algorithm names apply; `default` are the JWKS algorithms when
/// `jwks_algorithms` is absent. `None` on a validation error.
pub fn key_sources(
    d: &mut Diag<'_>,
    name: &str,
    f: KeyFields<'_>,
    (oauth, default): (bool, &[&str]),
) -> Option<KeySources> {
    let jwks = settings(
        d,
        name,
        f.jwks,
        f.jwks_algorithms.as_ref(),
        (oauth, default),
    );
    let file = match (f.credentials, &jwks) {
        (None, Some(_)) => None,
        _ => Some(source(
            d,
            name,
            f.credentials.as_ref(),
            f.kek.as_ref(),
            oauth,
        )?),
    };
    Some(KeySources { file, jwks })
}
