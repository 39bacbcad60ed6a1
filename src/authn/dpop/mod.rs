//! DPoP (RFC 9449): sender-constrained tokens. A token whose `cnf.jkt` names
//! a key is accepted only with `Authorization: DPoP <token>` and a `DPoP`
//! proof signed by that key for this request (method, URI, time, the token's
//! hash, a server nonce when required). A proof's `jti` is single-use across
//! replicas: it joins the request's one store round trip as a replay key.
//! The proof's signature is checked on every request (each proof is new);
//! the token's own verification stays cached by its authenticator.

mod htu;
pub mod nonce;
pub mod proof;
pub mod settings;

pub use htu::{normalize as normalize_htu, request_uri};
pub use nonce::NonceSource;
pub use proof::{access_token_hash, thumbprint, Proof};
pub use settings::{DpopMode, DpopSettings};

use super::extract::{self, Scheme};
use super::failure::AuthFailure;
use super::kind::{Attempt, Challenge};
use super::principal::Binding;
use std::sync::Arc;
use std::time::Duration;

/// One authenticator's (or the token endpoint's) DPoP policy, ready to check.
#[derive(Clone)]
pub struct Dpop {
    settings: DpopSettings,
    nonces: Option<Arc<NonceSource>>,
    /// `algs="..."` of the challenge: the allowed proof algorithms, space-separated.
    algs: Arc<str>,
}

impl Dpop {
    /// `scope` separates this policy's nonces from another's under one secret.
    pub fn new(scope: &str, s: &DpopSettings) -> Result<Dpop, String> {
        let nonces = match &s.nonce {
            Some(secret) => Some(Arc::new(NonceSource::new(
                secret.as_ref().map(|s| s.expose()),
                scope,
                s.nonce_lifetime,
            )?)),
            None => None,
        };
        let algs: Vec<String> = s.algorithms.iter().map(|a| format!("{a:?}")).collect();
        Ok(Dpop {
            settings: s.clone(),
            nonces,
            algs: Arc::from(algs.join(" ")),
        })
    }

    pub fn mode(&self) -> DpopMode {
        self.settings.mode
    }

    /// The `WWW-Authenticate: DPoP` challenge, when DPoP is accepted.
    pub fn challenge(&self) -> Option<Challenge> {
        (self.settings.mode != DpopMode::Off).then(|| Challenge::Dpop {
            algs: self.algs.clone(),
            nonces: self.nonces.clone(),
        })
    }

    pub fn nonces(&self) -> Option<&Arc<NonceSource>> {
        self.nonces.as_ref()
    }

    /// The request's proof, checked against the request: `None` when there is
    /// none. `access_token`: the token it must be bound to (`ath`).
    pub fn proof(
        &self,
        at: &Attempt<'_>,
        access_token: Option<&str>,
    ) -> Result<Option<Proof>, AuthFailure> {
        let mut all = at.headers.get_all("dpop").iter();
        let Some(value) = all.next() else {
            return Ok(None);
        };
        if all.next().is_some() {
            return Err(AuthFailure::DpopInvalid);
        }
        let jws = value.to_str().map_err(|_| AuthFailure::DpopInvalid)?;
        let proof = proof::parse(jws.trim(), &self.settings.algorithms)?;
        if proof.htm != at.method.as_str() {
            return Err(AuthFailure::DpopWrongMethod);
        }
        let requested = request_uri(at.target, at.authority);
        if requested.is_none() || normalize_htu(&proof.htu) != requested {
            return Err(AuthFailure::DpopWrongUrl);
        }
        if proof.iat.abs_diff(at.now) > self.settings.window.as_secs() {
            return Err(AuthFailure::DpopStale);
        }
        if let Some(nonces) = &self.nonces {
            match &proof.nonce {
                Some(n) if nonces.accepts(n, at.now) => {}
                _ => return Err(AuthFailure::DpopNonce),
            }
        }
        if let Some(token) = access_token {
            let want = access_token_hash(token);
            let got = proof.ath.as_deref().unwrap_or_default();
            aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), got.as_bytes())
                .map_err(|_| AuthFailure::DpopWrongAth)?;
        }
        Ok(Some(proof))
    }

    /// The policy for a verified `token` and its binding; `Some(replay key)`
    /// when a proof was checked (its `jti` must be new to the store).
    pub fn enforce(
        &self,
        at: &Attempt<'_>,
        token: &str,
        binding: Option<&Binding>,
    ) -> Result<Option<(String, Duration)>, AuthFailure> {
        let scheme = extract::scheme(at.headers);
        match (self.settings.mode, binding) {
            (DpopMode::Off, Some(Binding::Dpop { .. })) => Err(AuthFailure::UnsupportedBinding),
            (DpopMode::Off, _) if scheme == Some(Scheme::Dpop) => {
                Err(AuthFailure::UnsupportedBinding)
            }
            (DpopMode::Off, _) => Ok(None),
            (_, Some(Binding::Dpop { jkt })) => {
                if scheme != Some(Scheme::Dpop) {
                    return Err(AuthFailure::DpopBoundAsBearer);
                }
                let proof = self
                    .proof(at, Some(token))?
                    .ok_or(AuthFailure::DpopMissing)?;
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    proof.jkt.as_bytes(),
                    jkt.as_bytes(),
                )
                .map_err(|_| AuthFailure::DpopKeyMismatch)?;
                Ok(Some(self.replay_key(&proof)))
            }
            (mode, _) if mode == DpopMode::Required || scheme == Some(Scheme::Dpop) => {
                Err(AuthFailure::DpopNotBound)
            }
            _ => Ok(None),
        }
    }

    /// The store key that makes `proof` single-use, kept while it could be accepted.
    pub fn replay_key(&self, proof: &Proof) -> (String, Duration) {
        (
            format!("dpop:{}:{}", proof.jkt, proof.jti),
            self.settings.window * 2 + Duration::from_secs(5),
        )
    }
}

#[cfg(test)]
mod tests;
