//! What every credential kind shares: the verifier's input ([`Attempt`]),
//! its output ([`Verdict`]), the `WWW-Authenticate` challenge, and the
//! crate-private [`Kind`] trait the `Authenticator` enum dispatches to.

use super::failure::AuthError;
use super::principal::Principal;
use crate::conn::ClientCert;
use crate::digest::BodyCheck;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Whether a body follows the head (known from the stream, not only from
    /// headers: HTTP/2 needs neither Content-Length nor Transfer-Encoding).
    pub body_present: Option<bool>,
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
            body_present: None,
            now,
        }
    }

    pub fn with_client_cert(mut self, cert: Option<&'a ClientCert>) -> Attempt<'a> {
        self.client_cert = cert;
        self
    }

    pub fn with_body(mut self, body: Option<&'a Bytes>) -> Attempt<'a> {
        self.body = body;
        self
    }

    pub fn with_body_present(mut self, present: bool) -> Attempt<'a> {
        self.body_present = Some(present);
        self
    }

    /// Whether the request has a body: from the stream when known, else from
    /// the headers (Transfer-Encoding, a non-zero Content-Length, or a method
    /// that carries one without saying how long).
    pub fn has_body(&self) -> bool {
        if let Some(present) = self.body_present {
            return present;
        }
        let h = self.headers;
        if h.contains_key(http::header::TRANSFER_ENCODING) {
            return true;
        }
        match h.get(http::header::CONTENT_LENGTH) {
            Some(v) => v.as_bytes() != b"0",
            None => matches!(*self.method, Method::POST | Method::PUT | Method::PATCH),
        }
    }
}

/// A successful verification: who, and what the rest of the request still
/// owes (a body that must match its digest, a nonce the store must not have
/// seen, a response to sign).
#[non_exhaustive]
pub struct Verdict {
    pub principal: Principal,
    /// The body must hash to this; `buffer`: checked before forwarding.
    pub body: Option<BodyRequirement>,
    /// Single use: this key must be new to the store, remembered this long.
    pub replay: Option<(String, Duration)>,
    /// Sign the response (RFC 9421 §2.4) for this signed request.
    pub respond: Option<ResponseSigning>,
}

/// What the pipeline needs to sign the response to a verified RFC 9421
/// request (§2.4): the request signature's label and bytes, which the
/// response signature covers as `"signature";req;key="<label>"`.
#[derive(Debug, Clone)]
pub struct ResponseSigning {
    pub label: String,
    pub request_signature: Vec<u8>,
    /// The largest response the verifying authenticator buffers to sign.
    pub max_body: u64,
}

/// A body check the pipeline runs while (or before) forwarding.
pub struct BodyRequirement {
    pub check: BodyCheck,
    pub buffer: bool,
}

impl Verdict {
    pub(in crate::authn) fn of(principal: Principal) -> Verdict {
        Verdict {
            principal,
            body: None,
            replay: None,
            respond: None,
        }
    }

    pub(in crate::authn) fn with_body_check(mut self, check: BodyCheck, buffer: bool) -> Verdict {
        self.body = Some(BodyRequirement { check, buffer });
        self
    }

    pub(in crate::authn) fn with_replay_key(mut self, key: String, ttl: Duration) -> Verdict {
        self.replay = Some((key, ttl));
        self
    }

    pub(in crate::authn) fn with_response_signing(mut self, signing: ResponseSigning) -> Verdict {
        self.respond = Some(signing);
        self
    }
}

/// What a kind puts in `WWW-Authenticate` (RFC 9110 §11.6.1) when it refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// RFC 6750 bearer tokens: JWTs, API keys, introspected tokens.
    Bearer,
    /// RFC 9449 §7.1: DPoP-bound tokens, the proof algorithms accepted, and
    /// the nonce source when server nonces are required (`DPoP-Nonce`).
    Dpop {
        algs: std::sync::Arc<str>,
        nonces: Option<std::sync::Arc<super::dpop::nonce::NonceSource>>,
    },
    /// RFC 9421 signed requests.
    Signature,
    /// RFC 5849 §3.2 (`OAuth realm="..."`).
    OAuth { realm: std::sync::Arc<str> },
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
    /// Takes any token where it looks (an opaque token for introspection):
    /// kinds that recognise their credential's shape are asked first, so a
    /// JWT or an API key is never sent to an introspection endpoint.
    fn catch_all(&self) -> bool {
        false
    }
    /// The credential is (partly) in the body: the pipeline reads the body,
    /// bounded by the route's limit, before verifying (OAuth 1.0a forms).
    fn needs_body(&self, _headers: &HeaderMap) -> bool {
        false
    }
    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError>;
    fn challenge(&self) -> Challenge;
    /// A second challenge: `DPoP` beside `Bearer` when DPoP is accepted.
    fn dpop_challenge(&self) -> Option<Challenge> {
        None
    }
    /// Removes this kind's own credential (a cookie, a header) before forwarding.
    fn strip(&self, _headers: &mut HeaderMap) {}
    /// Query parameters with this prefix are this kind's credential (`oauth_`).
    fn query_prefix(&self) -> Option<&'static str> {
        None
    }
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
