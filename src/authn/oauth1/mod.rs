//! `kind = "oauth1"`: 2-legged OAuth 1.0a (RFC 5849) for partners bound to it.
//!
//! Protocol parameters come from the `Authorization: OAuth` header, the query
//! or an `application/x-www-form-urlencoded` body (read, bounded, before
//! verifying, and forwarded unchanged); each may appear once. The consumer
//! key chooses the credential, whose configured methods decide: PLAINTEXT is
//! never accepted. The timestamp must be within the window and the nonce new
//! for that consumer (store, shared by replicas). `oauth_body_hash` (the OAuth
//! Request Body Hash extension) becomes a body check like `Content-Digest`.

pub mod base;
pub mod settings;

pub use base::encode;

use super::credentials::jwk::{self, Signer, SignerKeys};
use super::credentials::nonce_key;
use super::credentials::{Algorithm, KeyKind};
use super::failure::{AuthError, AuthFailure};
use super::jwt::remote::RemoteKeys;
use super::jwt::KeyRegistry;
use super::kind::{Attempt, Challenge, Kind, Verdict};
use super::principal::{Identity, Principal};
use crate::digest::{BodyCheck, DigestAlg};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{header, HeaderMap};
use settings::OAuth1Settings;
use std::path::PathBuf;
use std::sync::Arc;

/// Most protocol and request parameters considered, so a request is bounded.
const MAX_PARAMS: usize = 256;

pub struct OAuth1Authenticator {
    name: Arc<str>,
    settings: OAuth1Settings,
    keys: SignerKeys,
}

/// A request's parameters, read and checked before its key is looked up.
struct Prepared {
    params: Vec<(String, String)>,
    p: Protocol,
    alg: Algorithm,
    ts: u64,
}

/// The protocol parameters, once each.
struct Protocol {
    consumer_key: String,
    method: String,
    signature: String,
    timestamp: String,
    nonce: Option<String>,
    token: Option<String>,
    version: Option<String>,
    body_hash: Option<String>,
}

impl OAuth1Authenticator {
    pub fn build(
        name: &str,
        settings: &OAuth1Settings,
        registry: &KeyRegistry,
        metrics: &crate::metrics::Metrics,
    ) -> Result<OAuth1Authenticator, String> {
        let keys = SignerKeys::build(name, &settings.keys, registry, metrics)?;
        Ok(OAuth1Authenticator {
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

    /// Every parameter of the request (§3.4.1.3.1), and whether a form body carried some.
    fn parameters(&self, at: &Attempt<'_>) -> Result<Vec<(String, String)>, AuthFailure> {
        let mut params = Vec::new();
        if let Some(h) = oauth_header(at.headers) {
            let found = base::header_params(h).ok_or(AuthFailure::Malformed)?;
            params.extend(found.into_iter().filter(|(k, _)| k != "realm"));
        }
        if let Some(q) = at.target.query() {
            params.extend(base::form_params(q.as_bytes()).ok_or(AuthFailure::Malformed)?);
        }
        if is_form(at.headers) {
            if let Some(body) = at.body {
                params.extend(base::form_params(body).ok_or(AuthFailure::Malformed)?);
            }
        }
        if params.len() > MAX_PARAMS {
            return Err(AuthFailure::TokenTooLarge);
        }
        Ok(params)
    }

    fn principal(
        &self,
        subject: &str,
        claims: serde_json::Map<String, serde_json::Value>,
        ts: u64,
    ) -> Principal {
        let identity = Identity {
            subject: subject.to_string(),
            claims,
            issued_at: Some(ts),
            ..Identity::default()
        };
        Principal::new(self.name.clone(), "oauth1", Arc::new(identity))
    }

    /// The request's parameters and protocol parameters, checked before any
    /// key is looked up: method, version, token, timestamp window, nonce.
    fn prepare(&self, at: &Attempt<'_>) -> Result<Prepared, AuthFailure> {
        let params = self.parameters(at)?;
        let p = protocol(&params)?;
        let alg = Algorithm::parse(&p.method)
            .filter(|a| a.is_oauth())
            .ok_or(AuthFailure::AlgNotAllowed)?;
        if p.version.as_deref().is_some_and(|v| v != "1.0")
            || p.token.as_deref().is_some_and(|t| !t.is_empty())
        {
            return Err(AuthFailure::Malformed);
        }
        let ts: u64 = p.timestamp.parse().map_err(|_| AuthFailure::Malformed)?;
        if ts.abs_diff(at.now) > self.settings.timestamp_window.as_secs() {
            return Err(AuthFailure::Stale);
        }
        if p.nonce.as_deref().is_none_or(str::is_empty) {
            return Err(AuthFailure::MissingComponent);
        }
        Ok(Prepared { params, p, alg, ts })
    }

    /// Verifies the signature with the consumer's key.
    fn verify_with(
        &self,
        at: &Attempt<'_>,
        r: &Prepared,
        signer: &Signer,
    ) -> Result<Verdict, AuthFailure> {
        let (p, alg) = (&r.p, r.alg);
        let body_check = self.body_check(at, p, alg)?;
        let scheme = at.target.scheme_str().unwrap_or("https");
        let uri = base::base_uri(scheme, at.authority, at.target.path());
        let base = base::base_string(at.method.as_str(), &uri, &r.params);
        let signature = STANDARD
            .decode(&p.signature)
            .map_err(|_| AuthFailure::Malformed)?;
        let principal = match signer {
            Signer::File(cred) => {
                match alg.key_kind() {
                    KeyKind::Hmac => cred.verify_derived_hmac(
                        alg,
                        at.now,
                        hmac_key,
                        base.as_bytes(),
                        &signature,
                    )?,
                    _ => cred.verify(alg, at.now, base.as_bytes(), &signature)?,
                }
                self.principal(&cred.id, cred.identity_claims.clone(), r.ts)
            }
            Signer::Jwks(set) => {
                let key = jwk::find(set, &p.consumer_key).ok_or(AuthFailure::UnknownKid)?;
                let allowed = self.settings.keys.jwks_algorithms();
                let alg = jwk::algorithm(key, allowed, Some(&p.method))?;
                jwk::verify(key, alg, base.as_bytes(), &signature)?;
                self.principal(&p.consumer_key, Default::default(), r.ts)
            }
        };
        let nonce = p.nonce.as_deref().unwrap_or_default();
        let ttl = self.settings.timestamp_window * 2 + std::time::Duration::from_secs(1);
        let mut verdict = Verdict::of(principal)
            .with_replay_key(nonce_key("oauth1", &self.name, &p.consumer_key, nonce), ttl);
        if let Some(check) = body_check {
            verdict = verdict.with_body_check(check, false);
        }
        Ok(verdict)
    }

    /// `oauth_body_hash`: checked against a non-form body; never with a form body.
    fn body_check(
        &self,
        at: &Attempt<'_>,
        p: &Protocol,
        alg: Algorithm,
    ) -> Result<Option<BodyCheck>, AuthFailure> {
        let form = is_form(at.headers);
        let Some(hash) = &p.body_hash else {
            if self.settings.require_body_hash && !form && at.has_body() {
                return Err(AuthFailure::MissingComponent);
            }
            return Ok(None);
        };
        if form {
            return Err(AuthFailure::Malformed);
        }
        let expected = STANDARD.decode(hash).map_err(|_| AuthFailure::Malformed)?;
        // The extension defines SHA-1; for the SHA-256 methods some clients
        // (node oauth-1.0a) hash with SHA-256 and others (oauthlib) keep SHA-1:
        // the length tells which. Either is a second-preimage-resistant check.
        let digest = match (expected.len(), alg) {
            (20, _) => DigestAlg::Sha1,
            (32, Algorithm::OAuthHmacSha256 | Algorithm::OAuthRsaSha256) => DigestAlg::Sha256,
            _ => return Err(AuthFailure::Malformed),
        };
        Ok(BodyCheck::new(vec![(digest, expected)]))
    }
}

/// The protocol parameters, each at most once across header, query and body.
fn protocol(params: &[(String, String)]) -> Result<Protocol, AuthFailure> {
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in params.iter().filter(|(k, _)| k.starts_with("oauth_")) {
        if seen.contains(&k.as_str()) {
            return Err(AuthFailure::Malformed);
        }
        seen.push(k);
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let need = |name: &str| get(name).ok_or(AuthFailure::MissingComponent);
    Ok(Protocol {
        consumer_key: need("oauth_consumer_key")?,
        method: need("oauth_signature_method")?,
        signature: need("oauth_signature")?,
        timestamp: need("oauth_timestamp")?,
        nonce: get("oauth_nonce"),
        token: get("oauth_token"),
        version: get("oauth_version"),
        body_hash: get("oauth_body_hash"),
    })
}

/// RFC 5849 §3.4.2: the HMAC key is `encode(consumer secret) & encode(token
/// secret)`, and 2-legged requests have no token secret.
fn hmac_key(secret: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut k = zeroize::Zeroizing::new(encode(secret).into_bytes());
    k.push(b'&');
    k
}

fn oauth_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.len() >= 5 && v.as_bytes()[..5].eq_ignore_ascii_case(b"oauth"))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether form-encoded `data` carries an `oauth_signature` parameter (cheap:
/// only the names are decoded).
fn signed(data: &[u8]) -> bool {
    data.split(|b| *b == b'&').any(|pair| {
        let name = pair.split(|b| *b == b'=').next().unwrap_or(pair);
        percent_encoding::percent_decode(name).eq(b"oauth_signature".iter().copied())
    })
}

fn has_query_signature(at: &Attempt<'_>) -> bool {
    at.target.query().is_some_and(|q| signed(q.as_bytes()))
}

impl Kind for OAuth1Authenticator {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        oauth_header(at.headers).is_some()
            || has_query_signature(at)
            || (is_form(at.headers) && at.body.is_some_and(|b| signed(b)))
    }

    fn needs_body(&self, headers: &HeaderMap) -> bool {
        is_form(headers)
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        if !self.presents(at) {
            return Err(AuthFailure::Missing.into());
        }
        let prepared = self.prepare(at)?;
        let signer = self.keys.resolve(&prepared.p.consumer_key).await?;
        Ok(self.verify_with(at, &prepared, &signer)?)
    }

    fn challenge(&self) -> Challenge {
        Challenge::OAuth {
            realm: self.settings.realm.clone(),
        }
    }

    fn strip(&self, headers: &mut HeaderMap) {
        let oauth = oauth_header(headers).is_some();
        if oauth {
            headers.remove(header::AUTHORIZATION);
        }
    }

    fn query_prefix(&self) -> Option<&'static str> {
        Some("oauth_")
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
            kind = "oauth1",
            credentials = %self.keys.describe().0.unwrap_or_default(),
            entries = self.keys.describe().1,
            jwks_url = %crate::logfmt::opt(s.keys.jwks.as_ref().map(|j| &j.url)),
            timestamp_window_secs = s.timestamp_window.as_secs(),
            require_body_hash = s.require_body_hash,
            "authenticator ready"
        );
    }
}
