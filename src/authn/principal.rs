//! The authenticated caller. [`Principal`] is a proof type, like rustls's
//! `HandshakeSignatureValid`: only `authn` can build one, so holding one means
//! something was verified. Its [`Identity`] is kind-neutral: authorization,
//! identity headers, the assertion and the store checks read getters and never
//! a token format.

use serde_json::{Map, Value};
use std::sync::Arc;

/// What a credential proved, whatever its kind.
#[derive(Debug, Default)]
pub struct Identity {
    pub subject: String,
    /// The token's `iss`; `None` for kinds without an issuer (certificates, API keys).
    pub issuer: Option<String>,
    pub claims: Map<String, Value>,
    pub expires_at: Option<u64>,
    pub not_before: Option<u64>,
    pub issued_at: Option<u64>,
    /// `jti`, or the API key id: what revocation and single use key on.
    pub token_id: Option<String>,
    pub binding: Option<Binding>,
}

/// A key the credential is bound to, so a stolen copy is useless without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// RFC 9449 DPoP: the JWK SHA-256 thumbprint (`cnf.jkt`).
    Dpop { jkt: String },
    /// RFC 8705: the client certificate's SHA-256 thumbprint (`cnf.x5t#S256`), base64url.
    Certificate { x5t_s256: String },
}

#[derive(Debug, Clone)]
pub struct Principal {
    authenticator: Arc<str>,
    kind: &'static str,
    identity: Arc<Identity>,
    /// Answered by a verified-token cache (traces report it).
    cached: bool,
}

impl Principal {
    pub(in crate::authn) fn new(
        authenticator: Arc<str>,
        kind: &'static str,
        identity: Arc<Identity>,
    ) -> Principal {
        Principal {
            authenticator,
            kind,
            identity,
            cached: false,
        }
    }

    /// The same principal, marked as answered from a cache.
    pub(in crate::authn) fn cache_answered(mut self) -> Principal {
        self.cached = true;
        self
    }

    pub fn cached(&self) -> bool {
        self.cached
    }
    pub fn subject(&self) -> &str {
        &self.identity.subject
    }
    pub fn issuer(&self) -> Option<&str> {
        self.identity.issuer.as_deref()
    }
    pub fn authenticator(&self) -> &str {
        &self.authenticator
    }
    /// The authenticator kind that verified the credential (`jwt`, `mtls`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    pub fn claims(&self) -> &Map<String, Value> {
        &self.identity.claims
    }
    pub fn expires_at(&self) -> Option<u64> {
        self.identity.expires_at
    }
    pub fn issued_at(&self) -> Option<u64> {
        self.identity.issued_at
    }
    pub fn jti(&self) -> Option<&str> {
        self.identity.token_id.as_deref()
    }
    /// The token endpoint's session (refresh-token family, `sid`) of an
    /// issued token: revoked as a whole at logout or on refresh-token reuse.
    pub fn session(&self) -> Option<&str> {
        match self.kind {
            "issued" => self.identity.claims.get("sid").and_then(|s| s.as_str()),
            _ => None,
        }
    }
    /// The store lookups that tell whether this credential was revoked: its
    /// `jti`, its subject's cut-off, its session (for the request's batch).
    pub fn revocation_checks(&self) -> crate::store::Batch<'_> {
        crate::store::Batch {
            revocation: Some((self.jti(), self.subject())),
            session: self.session(),
            ..crate::store::Batch::default()
        }
    }

    /// Whether the store's answer to [`Self::revocation_checks`] revokes it:
    /// its `jti` or session is revoked, or its subject's cut-off is at or
    /// after its issue time (the same second included; undated: revoked).
    pub fn revoked_by(&self, out: &crate::store::Outcome) -> bool {
        let cut_off = out
            .subject_not_before
            .is_some_and(|t| self.issued_at().is_none_or(|iat| iat <= t));
        out.jti_revoked || out.session_revoked || cut_off
    }

    pub fn binding(&self) -> Option<&Binding> {
        self.identity.binding.as_ref()
    }
}
