//! `kind = "http-signature"`: RFC 9421 HTTP Message Signatures, with RFC 9530
//! `Content-Digest` for the body.
//!
//! The credential is chosen by the signature's `keyid` in the configured
//! credentials file; its configured algorithm decides (a different `alg`
//! parameter is refused). A signature must cover the required components, be
//! recent (`created` within `max_age`, not in the future beyond `leeway`),
//! unexpired, and carry the configured `tag`; its `nonce` is single-use
//! through the store. A covered `content-digest` becomes a body check that the
//! pipeline runs as the body streams (or before forwarding, `verify_body =
//! "buffer"`). `base` builds the signature base, `input` reads the two fields; the
//! pipeline signs responses with `base` too.

pub mod base;
pub mod input;
mod params;
pub mod settings;

use super::credentials::jwk::{self, Signer, SignerKeys};
use super::credentials::nonce_key;
use super::credentials::Credential;
use super::failure::{AuthError, AuthFailure};
use super::jwt::remote::RemoteKeys;
use super::jwt::KeyRegistry;
use super::kind::{Attempt, Challenge, Kind, ResponseSigning, Verdict};
use super::principal::{Identity, Principal};
use crate::digest::{parse_content_digest, BodyCheck};
use base::{signature_base, Message, RequestParts};
use http::{HeaderMap, HeaderName};
use input::Covered;
use params::{algorithm, covers, names, Params};
use settings::HttpSignatureSettings;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub static SIGNATURE: HeaderName = HeaderName::from_static("signature");
pub static SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// Longest `Signature`/`Signature-Input` accepted, and most signatures tried.
const MAX_FIELD: usize = 8192;
const MAX_TRIED: usize = 4;
/// Most covered components, and parameters on one, before anything is resolved.
const MAX_COMPONENTS: usize = 32;
const MAX_COMPONENT_PARAMS: usize = 4;

pub struct HttpSignatureAuthenticator {
    name: Arc<str>,
    settings: HttpSignatureSettings,
    keys: SignerKeys,
}

impl HttpSignatureAuthenticator {
    pub fn build(
        name: &str,
        settings: &HttpSignatureSettings,
        registry: &KeyRegistry,
        metrics: &crate::metrics::Metrics,
    ) -> Result<HttpSignatureAuthenticator, String> {
        let keys = SignerKeys::build(name, &settings.keys, registry, metrics)?;
        Ok(HttpSignatureAuthenticator {
            name: Arc::from(name),
            settings: settings.clone(),
            keys,
        })
    }

    /// The JWKS this authenticator keeps fetched, if any.
    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        self.keys.remote()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies the signature labelled `label`, made with `signer`'s key.
    fn verify_one(
        &self,
        at: &Attempt<'_>,
        (label, covered, params): (&str, &Covered<'_>, &Params<'_>),
        signature: &[u8],
        signer: &Signer,
    ) -> Result<Verdict, AuthFailure> {
        let s = &self.settings;
        let alg = match signer {
            Signer::File(cred) => algorithm(cred, params.alg)?,
            Signer::Jwks(set) => {
                let key = jwk::find(set, params.keyid).ok_or(AuthFailure::UnknownKid)?;
                let allowed = s.keys.jwks_algorithms();
                jwk::algorithm(key, allowed, params.alg)?
            }
        };
        if s.tag.as_deref().is_some_and(|t| params.tag != Some(t)) {
            return Err(AuthFailure::WrongTag);
        }
        let created = params.created.ok_or(AuthFailure::MissingComponent)?;
        if created > at.now + s.leeway.as_secs() {
            return Err(AuthFailure::NotYetValid);
        }
        if at.now.saturating_sub(created) > s.max_age.as_secs() {
            return Err(AuthFailure::Stale);
        }
        if params.expires.is_some_and(|e| at.now >= e) {
            return Err(AuthFailure::Expired);
        }
        if s.require_nonce && params.nonce.is_none() {
            return Err(AuthFailure::MissingComponent);
        }
        self.check_coverage(covered, at)?;
        let msg = Message {
            request: RequestParts {
                method: at.method,
                target: at.target,
                authority: at.authority,
                headers: at.headers,
            },
            response: None,
        };
        let base = signature_base(covered, &msg).map_err(|e| match e {
            base::BaseError::Missing => AuthFailure::MissingComponent,
            base::BaseError::Invalid => AuthFailure::Malformed,
        })?;
        let principal = match signer {
            Signer::File(cred) => {
                cred.verify(alg, at.now, base.as_bytes(), signature)?;
                self.principal(cred, created, params.expires)
            }
            Signer::Jwks(set) => {
                let key = jwk::find(set, params.keyid).ok_or(AuthFailure::UnknownKid)?;
                jwk::verify(key, alg, base.as_bytes(), signature)?;
                self.jwks_principal(params.keyid, created, params.expires)
            }
        };
        let mut verdict = Verdict::of(principal);
        if let Some(nonce) = params.nonce {
            let ttl = s.max_age + s.leeway + Duration::from_secs(1);
            verdict =
                verdict.with_replay_key(nonce_key("sig", &self.name, params.keyid, nonce), ttl);
        }
        if names(covered, "content-digest") {
            let buffer = s.verify_body == settings::VerifyBody::Buffer;
            verdict = verdict.with_body_check(body_check(at.headers)?, buffer);
        }
        if s.sign_responses {
            verdict = verdict.with_response_signing(ResponseSigning {
                label: label.to_string(),
                request_signature: signature.to_vec(),
                max_body: s.max_signed_response,
            });
        }
        Ok(verdict)
    }

    /// One labelled signature: its parameters, its key, then the checks.
    async fn attempt(
        &self,
        at: &Attempt<'_>,
        label: &str,
        covered: &Covered<'_>,
        signatures: &input::Dictionary<'_>,
    ) -> Result<Verdict, AuthError> {
        let signature = signatures
            .iter()
            .find(|(k, _)| k.as_str() == label)
            .and_then(|(_, m)| m.item.as_ref())
            .and_then(|i| i.as_byte_sequence())
            .ok_or(AuthFailure::Malformed)?;
        let too_many = covered.items.len() > MAX_COMPONENTS
            || covered
                .items
                .iter()
                .any(|c| c.params.len() > MAX_COMPONENT_PARAMS);
        if too_many {
            return Err(AuthFailure::TokenTooLarge.into());
        }
        let params = Params::read(covered)?;
        let signer = self.keys.resolve(params.keyid).await?;
        Ok(self.verify_one(at, (label, covered, &params), signature, &signer)?)
    }

    /// Every required component is covered, and `content-digest` too when
    /// the request has a body (unless the operator chose the list).
    fn check_coverage(&self, covered: &Covered<'_>, at: &Attempt<'_>) -> Result<(), AuthFailure> {
        let s = &self.settings;
        let missing = s.required.iter().any(|r| !covers(covered, r));
        let body_uncovered =
            s.default_required && at.has_body() && !covers(covered, "content-digest");
        if missing || body_uncovered {
            return Err(AuthFailure::MissingComponent);
        }
        Ok(())
    }

    /// A JWKS key has no entry of its own: its `kid` is the subject.
    fn jwks_principal(&self, kid: &str, created: u64, expires: Option<u64>) -> Principal {
        let identity = Identity {
            subject: kid.to_string(),
            expires_at: expires,
            issued_at: Some(created),
            ..Identity::default()
        };
        Principal::new(self.name.clone(), "http-signature", Arc::new(identity))
    }

    fn principal(&self, cred: &Credential, created: u64, expires: Option<u64>) -> Principal {
        let identity = Identity {
            subject: cred.id.clone(),
            claims: cred.identity_claims.clone(),
            expires_at: expires,
            issued_at: Some(created),
            ..Identity::default()
        };
        Principal::new(self.name.clone(), "http-signature", Arc::new(identity))
    }
}

fn body_check(headers: &HeaderMap) -> Result<BodyCheck, AuthFailure> {
    let value = joined(headers, &CONTENT_DIGEST)?.ok_or(AuthFailure::MissingComponent)?;
    let digests = parse_content_digest(value.as_ref()).ok_or(AuthFailure::Malformed)?;
    BodyCheck::new(digests).ok_or(AuthFailure::AlgNotAllowed)
}

/// A field's lines joined with ", " (bounded; borrowed when there is one
/// line); `None` when absent.
fn joined<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<Cow<'h, str>>, AuthFailure> {
    let mut lines = headers.get_all(name).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let mut out = Cow::Borrowed(first.to_str().map_err(|_| AuthFailure::Malformed)?);
    for v in lines {
        let o = out.to_mut();
        o.push_str(", ");
        o.push_str(v.to_str().map_err(|_| AuthFailure::Malformed)?);
    }
    if out.len() > MAX_FIELD {
        return Err(AuthFailure::TokenTooLarge);
    }
    Ok(Some(out))
}

impl Kind for HttpSignatureAuthenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        at.headers.contains_key(&SIGNATURE_INPUT) && at.headers.contains_key(&SIGNATURE)
    }

    fn located(&self, at: &Attempt<'_>) -> bool {
        at.headers.contains_key(&SIGNATURE_INPUT) || at.headers.contains_key(&SIGNATURE)
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let input_text = joined(at.headers, &SIGNATURE_INPUT)?.ok_or(AuthFailure::Missing)?;
        let signature_text = joined(at.headers, &SIGNATURE)?.ok_or(AuthFailure::Missing)?;
        let inputs = input::dictionary(&input_text).ok_or(AuthFailure::Malformed)?;
        let signatures = input::dictionary(&signature_text).ok_or(AuthFailure::Malformed)?;
        let mut first_failure = None;
        let candidates = inputs
            .iter()
            .filter(|(label, _)| {
                self.settings
                    .label
                    .as_deref()
                    .is_none_or(|l| l == label.as_str())
            })
            .take(MAX_TRIED);
        for (label, entry) in candidates {
            let Some(covered) = &entry.list else {
                first_failure.get_or_insert(AuthFailure::Malformed);
                continue;
            };
            match self.attempt(at, label.as_str(), covered, &signatures).await {
                Ok(v) => return Ok(v),
                Err(AuthError::Rejected(f)) => {
                    first_failure.get_or_insert(f);
                }
                Err(unavailable) => return Err(unavailable),
            }
        }
        Err(first_failure.unwrap_or(AuthFailure::Missing).into())
    }

    fn challenge(&self) -> Challenge {
        Challenge::Signature
    }

    fn strip(&self, headers: &mut HeaderMap) {
        headers.remove(&SIGNATURE);
        headers.remove(&SIGNATURE_INPUT);
    }

    fn watched_files(&self) -> Vec<PathBuf> {
        self.keys.watched_files()
    }

    fn not_ready(&self) -> Option<String> {
        self.keys.not_ready(&self.name)
    }

    fn log_settings(&self) {
        let s = &self.settings;
        tracing::info!(
            authenticator = %self.name,
            kind = "http-signature",
            credentials = %self.keys.describe().0.unwrap_or_default(),
            entries = self.keys.describe().1,
            jwks_url = %crate::logfmt::opt(s.keys.jwks.as_ref().map(|j| &j.url)),
            required = %crate::logfmt::list(&s.required),
            max_age_secs = s.max_age.as_secs(),
            require_nonce = s.require_nonce,
            verify_body = s.verify_body.as_str(),
            sign_responses = s.sign_responses,
            "authenticator ready"
        );
    }
}

#[cfg(test)]
mod tests;
