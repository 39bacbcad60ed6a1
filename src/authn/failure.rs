//! Why authentication did not produce a [`Principal`](super::Principal): the
//! client's fault ([`AuthFailure`], 401) or a dependency's ([`Dependency`],
//! 503). Authorization denials (403) live in `authz`, admission verdicts
//! (revoked, replayed, rate-limited) in `admission`. Reasons are stable,
//! bounded metric labels; descriptions are fixed texts, never derived from the
//! credential.

/// A credential that was absent or did not verify. 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    TokenTooLarge,
    BadSignature,
    UnknownKid,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    AlgNotAllowed,
    UntrustedHeader,
    UnsupportedCrit,
    WrongType,
    MissingClaim,
    LifetimeTooLong,
    /// A client certificate whose identity no allow pattern accepts.
    CertificateNotAllowed,
    /// A certificate-bound token (RFC 8705) without the certificate it is bound to.
    CertificateMismatch,
    /// An API key whose checksum does not match: a typo, refused without a store lookup.
    BadChecksum,
    /// An API key or opaque token the store does not know (never issued, or revoked).
    UnknownKey,
    /// The introspection endpoint answered `active: false` (RFC 7662 §2.2).
    Inactive,
    /// A `cnf` binding this gateway cannot check (DPoP `jkt`, `jwk`, malformed).
    UnsupportedBinding,
    /// A signed request that does not cover a required component or parameter.
    MissingComponent,
    /// A signature or OAuth timestamp older than the allowed window.
    Stale,
    /// A signature without the application tag this route requires.
    WrongTag,
}

impl AuthFailure {
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::TokenTooLarge => "token_too_large",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::UnknownKid => "unknown_kid",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::WrongIssuer => "wrong_issuer",
            AuthFailure::WrongAudience => "wrong_audience",
            AuthFailure::AlgNotAllowed => "alg_not_allowed",
            AuthFailure::UntrustedHeader => "untrusted_header",
            AuthFailure::UnsupportedCrit => "unsupported_crit",
            AuthFailure::WrongType => "wrong_type",
            AuthFailure::MissingClaim => "missing_claim",
            AuthFailure::LifetimeTooLong => "lifetime_too_long",
            AuthFailure::CertificateNotAllowed => "certificate_not_allowed",
            AuthFailure::CertificateMismatch => "certificate_mismatch",
            AuthFailure::BadChecksum => "bad_checksum",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::Inactive => "inactive",
            AuthFailure::UnsupportedBinding => "unsupported_binding",
            AuthFailure::MissingComponent => "missing_component",
            AuthFailure::Stale => "stale",
            AuthFailure::WrongTag => "wrong_tag",
        }
    }

    /// A fixed description: never derived from the credential.
    pub fn description(self) -> &'static str {
        match self {
            AuthFailure::Missing => "no credentials were presented",
            AuthFailure::Malformed => "the credential is not well-formed",
            AuthFailure::TokenTooLarge => "the token is larger than allowed",
            AuthFailure::BadSignature => "the signature is invalid",
            AuthFailure::UnknownKid => "the credential names an unknown key",
            AuthFailure::Expired => "the credential has expired",
            AuthFailure::NotYetValid => "the credential is not valid yet",
            AuthFailure::WrongIssuer => {
                "the token was issued by an issuer this route does not accept"
            }
            AuthFailure::WrongAudience => "the token is not meant for this audience",
            AuthFailure::AlgNotAllowed => "the credential's algorithm is not allowed",
            AuthFailure::UntrustedHeader => {
                "the token names its own key (jku, x5u, jwk, x5c), which is never trusted"
            }
            AuthFailure::UnsupportedCrit => {
                "the token requires an extension this gateway does not support"
            }
            AuthFailure::WrongType => "the token has the wrong type",
            AuthFailure::MissingClaim => "the token lacks a required claim",
            AuthFailure::LifetimeTooLong => "the token's lifetime is longer than allowed",
            AuthFailure::CertificateNotAllowed => {
                "the client certificate's identity is not allowed on this route"
            }
            AuthFailure::CertificateMismatch => {
                "the token is bound to a client certificate that was not presented"
            }
            AuthFailure::BadChecksum => "the API key is mistyped (its checksum does not match)",
            AuthFailure::UnknownKey => "the API key is unknown or revoked",
            AuthFailure::Inactive => "the token is not active",
            AuthFailure::UnsupportedBinding => {
                "the token is bound to a key in a way this gateway does not check"
            }
            AuthFailure::MissingComponent => {
                "the signature does not cover a required component or parameter"
            }
            AuthFailure::Stale => "the signature is too old or its timestamp is out of range",
            AuthFailure::WrongTag => "the signature is not tagged for this application",
        }
    }
}

/// Something the gateway needs to verify credentials that is not available. 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// No signing keys (JWKS not fetched yet, or stale beyond `jwks_max_stale`).
    Keys,
    /// The RFC 7662 introspection endpoint is down, slow, or answered garbage.
    Introspection,
    /// The state store (API keys live there) did not answer.
    Store,
}

impl Dependency {
    pub fn reason(self) -> &'static str {
        match self {
            Dependency::Keys => "keys_unavailable",
            Dependency::Introspection => "introspection_unavailable",
            Dependency::Store => "store_unavailable",
        }
    }
}

/// The outcome of a verification that produced no principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    Rejected(AuthFailure),
    Unavailable(Dependency),
}

impl From<AuthFailure> for AuthError {
    fn from(f: AuthFailure) -> Self {
        AuthError::Rejected(f)
    }
}
