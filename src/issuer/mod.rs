//! The token endpoint, for teams without an identity provider (RFC 6749 §5
//! semantics, on the main listener): login through a verifier (`grant`),
//! rotating refresh tokens with reuse detection (`grant`, `store::sessions`),
//! revocation and logout (`revoke`), failed-login limits (`limits`), and the
//! RFC 8414 metadata and JWKS documents. DPoP proofs (RFC 9449 §5) bind the
//! issued tokens to the client's key. Sealed (OHTTP) requests reach it like
//! any other, so a login can stay encrypted end to end through every proxy.

pub mod encrypt;
mod grant;
mod limits;
mod metadata;
mod oauth;
mod revoke;
pub mod settings;
mod tokens;
pub mod users;
mod verifier;

use crate::authn::dpop::{Dpop, DpopMode, Proof};
use crate::authn::issued::{IssuedAuthenticator, IssuedKeys, IssuedSettings};
use crate::authn::{Attempt, AuthFailure};
use crate::body::{ReqBody, ResBody};
use crate::config::secret::Secret;
use crate::jose::CompactSigner;
use crate::metrics::Metrics;
use crate::store::Store;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use oauth::{OAuthError, INVALID_REQUEST, UNAVAILABLE};
use serde_json::Value;
use settings::{IssuerSettings, Verifier};
use std::net::IpAddr;
use std::sync::Arc;
use tokens::Minter;
use verifier::Checker;

pub use metadata::{JWKS_PATH, METADATA_PATH};

/// The endpoints the issuer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Revoke,
    Logout,
    Metadata,
    Jwks,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::Logout => "logout",
            Endpoint::Metadata => "metadata",
            Endpoint::Jwks => "jwks",
        }
    }
}

/// What one request brings besides its head and body.
pub struct Ctx<'a> {
    pub ip: IpAddr,
    /// Arrived inside an OHTTP envelope (the peer address is the relay's).
    pub sealed: bool,
    pub authority: &'a str,
    pub now: u64,
}

pub struct Issuer {
    pub settings: IssuerSettings,
    minter: Minter,
    /// Proves refresh-token generations (reuse detection at any age).
    generations: tokens::Generations,
    checker: Checker,
    dpop: Dpop,
    /// Verifies this endpoint's own access tokens (revoke, logout).
    access: IssuedAuthenticator,
    store: Arc<Store>,
    metrics: Metrics,
    metadata: Bytes,
    jwks: Bytes,
    /// RFC 8414 §3: the metadata's path, with the issuer URL's path appended.
    metadata_path: String,
    /// How long an operator's subject revocation lasts (`store.subject_revocation_ttl`).
    subject_revocation_ttl: std::time::Duration,
}

/// What building the issuer needs from the rest of the gateway.
pub struct BuildContext<'a> {
    pub upstreams: &'a std::collections::HashMap<String, Arc<crate::upstream::Upstream>>,
    /// The assertion's published keys, served beside the issuer's.
    pub published: Vec<Value>,
    pub store: &'a Arc<Store>,
    pub metrics: &'a Metrics,
    pub subject_revocation_ttl: std::time::Duration,
}

/// What the issuer signs with: its JWS signer, the refresh-token generation
/// key derived from the same private key, and what `issued` authenticators
/// verify with.
pub struct IssuerKeys {
    signer: CompactSigner,
    generations: tokens::Generations,
    pub issued: IssuedKeys,
}

/// Loads the issuer's private key once and derives everything from it.
pub fn keys(s: &IssuerSettings) -> Result<IssuerKeys, String> {
    let pem = crate::identity::assertion::load_signing_pem(&s.key, "token endpoint signing key")?;
    let generations = tokens::Generations::new(&pem)?;
    let key = crate::jose::keys::signing_key(&pem)?;
    let signer = CompactSigner::new(key, s.kid.as_deref(), Some("at+jwt"))?;
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": [signer.jwk()] }))
        .map_err(|e| e.to_string())?;
    let keys = IssuedKeys {
        jwks: Arc::new(Secret::new(jwks)),
        issuer: s.url.clone(),
        audience: s.audience.clone(),
        algorithm: signer.algorithm(),
        max_lifetime: s.access_ttl,
        decryption: s.encrypt.as_ref().map(encrypt::Encryption::decryption),
    };
    Ok(IssuerKeys {
        signer,
        generations,
        issued: keys,
    })
}

impl Issuer {
    pub fn build(
        s: &IssuerSettings,
        IssuerKeys {
            signer,
            generations,
            issued: keys,
        }: IssuerKeys,
        ctx: &BuildContext<'_>,
    ) -> Result<Issuer, String> {
        let BuildContext {
            upstreams,
            published,
            store,
            metrics,
            subject_revocation_ttl,
        } = ctx;
        let checker = match &s.verifier {
            Verifier::Upstream { upstream, path } => Checker::Upstream {
                upstream: upstreams
                    .get(upstream)
                    .cloned()
                    .ok_or_else(|| format!("verifier.upstream: no upstream {upstream:?}"))?,
                path: path.clone(),
            },
            Verifier::Users(path) => Checker::users(users::UsersFile::load(path)?)?,
        };
        let mut all_keys = vec![serde_json::to_value(signer.jwk()).map_err(|e| e.to_string())?];
        all_keys.extend(published.iter().cloned());
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": all_keys }))
            .map_err(|e| e.to_string())?;
        let access_settings = IssuedSettings {
            dpop: s.dpop.clone(),
            leeway: std::time::Duration::from_secs(30),
        };
        let dpop = Dpop::new("issuer", &s.dpop)?;
        let access = IssuedAuthenticator::build("issuer", &access_settings, &keys, store, metrics)?
            .with_dpop(dpop.clone());
        Ok(Issuer {
            metadata: metadata::document_for(s, &dpop).into(),
            jwks: jwks.into(),
            minter: Minter {
                signer,
                issuer: s.url.clone(),
                audience: s.audience.clone(),
                ttl: s.access_ttl,
                format: s.access_format,
                encrypt: match &s.encrypt {
                    Some(e) => Some(tokens::Sealing {
                        key: e.key()?,
                        alg: e.alg,
                        enc: e.enc,
                    }),
                    None => None,
                },
            },
            checker,
            generations,
            dpop,
            access,
            store: Arc::clone(store),
            metrics: (*metrics).clone(),
            metadata_path: format!("{METADATA_PATH}{}", metadata::url_path(&s.url)),
            subject_revocation_ttl: *subject_revocation_ttl,
            settings: s.clone(),
        })
    }

    /// The JWKS: this endpoint's key, then the assertion's published keys.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    pub fn endpoint(&self, path: &str) -> Option<Endpoint> {
        let s = &self.settings;
        match path {
            p if p == s.path => Some(Endpoint::Token),
            p if p == s.revocation_path => Some(Endpoint::Revoke),
            p if p == s.logout_path => Some(Endpoint::Logout),
            p if p == self.metadata_path || p == METADATA_PATH => Some(Endpoint::Metadata),
            JWKS_PATH => Some(Endpoint::Jwks),
            _ => None,
        }
    }

    /// Answers one request to `ep`: the response, and the refusal reason if any.
    pub async fn handle(
        &self,
        ep: Endpoint,
        req: Request<ReqBody>,
        ctx: &Ctx<'_>,
    ) -> (Response<ResBody>, Option<&'static str>) {
        let (outcome, result) = match self.answer(ep, req, ctx).await {
            Ok((outcome, resp)) => (outcome, Ok(resp)),
            Err(e) => (e.outcome, Err(e)),
        };
        if !matches!(ep, Endpoint::Metadata | Endpoint::Jwks) {
            self.metrics
                .issuer_requests
                .with_label_values(&[ep.label(), outcome])
                .inc();
        }
        match result {
            Ok(resp) => (resp, None),
            Err(e) => (self.refusal(e, ctx.now), Some(e.outcome)),
        }
    }

    fn refusal(&self, e: OAuthError, now: u64) -> Response<ResBody> {
        let mut resp = e.response();
        if e.code == "use_dpop_nonce" {
            let nonce = self.dpop.nonces().map(|n| n.current(now));
            if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
                resp.headers_mut().insert("dpop-nonce", v);
            }
        }
        resp
    }

    async fn answer(
        &self,
        ep: Endpoint,
        req: Request<ReqBody>,
        ctx: &Ctx<'_>,
    ) -> Result<(&'static str, Response<ResBody>), OAuthError> {
        let wanted = match ep {
            Endpoint::Metadata | Endpoint::Jwks => Method::GET,
            _ => Method::POST,
        };
        if req.method() != wanted && !(wanted == Method::GET && req.method() == Method::HEAD) {
            return Err(OAuthError::new(
                "invalid_request",
                "method not allowed",
                "method_not_allowed",
            )
            .status(StatusCode::METHOD_NOT_ALLOWED));
        }
        let (parts, body) = req.into_parts();
        match ep {
            Endpoint::Metadata => {
                return Ok((
                    "ok",
                    metadata::serve(self.metadata.clone(), "application/json"),
                ))
            }
            Endpoint::Jwks => {
                return Ok((
                    "ok",
                    metadata::serve(self.jwks.clone(), "application/jwk-set+json"),
                ))
            }
            _ => {}
        }
        let p = oauth::params(&parts.headers, body).await?;
        let at = Attempt::new(
            &parts.method,
            &parts.uri,
            ctx.authority,
            &parts.headers,
            ctx.now,
        );
        match ep {
            Endpoint::Logout => return Ok(("ok", self.logout(&p, &at, ctx).await?)),
            Endpoint::Revoke => {
                let what = self.revoke(&p, ctx.now).await?;
                return Ok((
                    what,
                    oauth::json(StatusCode::OK, &Value::Object(Default::default())),
                ));
            }
            _ => {}
        }
        let proof = self.proof(&at).await?;
        let body = match p.get("grant_type").map(String::as_str) {
            Some("password") => self.password(&p, ctx, proof.as_ref()).await?,
            Some("refresh_token") => self.refresh(&p, ctx, proof.as_ref()).await?,
            Some(_) => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    "grant_type must be password or refresh_token",
                    "unsupported_grant_type",
                ))
            }
            None => return Err(INVALID_REQUEST),
        };
        let outcome = match p.get("grant_type").map(String::as_str) {
            Some("password") => "password",
            _ => "refresh_token",
        };
        Ok((outcome, oauth::json(StatusCode::OK, &body)))
    }

    /// The request's DPoP proof (RFC 9449 §5), checked and marked used.
    async fn proof(&self, at: &Attempt<'_>) -> Result<Option<Proof>, OAuthError> {
        if self.dpop.mode() == DpopMode::Off {
            return Ok(None);
        }
        let invalid = |outcome: &'static str| {
            OAuthError::new(
                "invalid_dpop_proof",
                "the DPoP proof is missing, invalid or already used",
                outcome,
            )
        };
        let proof = match self.dpop.proof(at, None) {
            Ok(p) => p,
            Err(AuthFailure::DpopNonce) => {
                return Err(OAuthError::new(
                    "use_dpop_nonce",
                    "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                    "dpop_nonce_required",
                ))
            }
            Err(f) => return Err(invalid(f.reason())),
        };
        let Some(proof) = proof else {
            return match self.dpop.mode() {
                DpopMode::Required => Err(invalid("dpop_proof_missing")),
                _ => Ok(None),
            };
        };
        let (key, ttl) = self.dpop.replay_key(&proof);
        let batch = crate::store::Batch {
            nonce: Some((&key, ttl)),
            ..Default::default()
        };
        let out = self
            .store
            .run(&batch, &self.metrics)
            .await
            .map_err(|_| UNAVAILABLE)?;
        if !out.nonce_fresh {
            return Err(invalid("dpop_replayed"));
        }
        Ok(Some(proof))
    }
}
