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
    /// A DPoP-bound token (RFC 9449) without a proof.
    DpopMissing,
    /// A DPoP proof that is not a valid `dpop+jwt` signed by its own public key.
    DpopInvalid,
    /// A DPoP proof signed with `none`, an HMAC, or an algorithm not allowed.
    DpopAlgNotAllowed,
    /// A DPoP proof whose header carries a private key.
    DpopPrivateKey,
    /// A DPoP proof made for another HTTP method (`htm`).
    DpopWrongMethod,
    /// A DPoP proof made for another URI (`htu`).
    DpopWrongUrl,
    /// A DPoP proof whose `iat` is outside the accepted window.
    DpopStale,
    /// A DPoP proof for another access token (`ath`).
    DpopWrongAth,
    /// A DPoP proof without a current server nonce (`use_dpop_nonce`).
    DpopNonce,
    /// A DPoP proof by a key other than the one the token is bound to.
    DpopKeyMismatch,
    /// A DPoP-bound token presented as a plain bearer token.
    DpopBoundAsBearer,
    /// An unbound token where DPoP is required, or sent with the DPoP scheme.
    DpopNotBound,
    /// A JWE that did not open (RFC 7516). The fault is for metrics and
    /// logs; clients see one reason and one description for every fault.
    Undecryptable(crate::jose::jwe::algs::JweFault),
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
            AuthFailure::DpopMissing => "dpop_proof_missing",
            AuthFailure::DpopInvalid => "dpop_proof_invalid",
            AuthFailure::DpopAlgNotAllowed => "dpop_alg_not_allowed",
            AuthFailure::DpopPrivateKey => "dpop_private_key",
            AuthFailure::DpopWrongMethod => "dpop_wrong_method",
            AuthFailure::DpopWrongUrl => "dpop_wrong_url",
            AuthFailure::DpopStale => "dpop_stale",
            AuthFailure::DpopWrongAth => "dpop_wrong_ath",
            AuthFailure::DpopNonce => "dpop_nonce_required",
            AuthFailure::DpopKeyMismatch => "dpop_key_mismatch",
            AuthFailure::DpopBoundAsBearer => "dpop_bound_token_as_bearer",
            AuthFailure::DpopNotBound => "dpop_token_not_bound",
            AuthFailure::Undecryptable(f) => f.reason(),
        }
    }

    /// The reason a client is told: decryption faults are not distinguished
    /// (no oracle on keys, padding or tags).
    pub fn public_reason(self) -> &'static str {
        match self {
            AuthFailure::Undecryptable(_) => "undecryptable_token",
            f => f.reason(),
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
            AuthFailure::DpopMissing => "the token is DPoP-bound and the request has no DPoP proof",
            AuthFailure::DpopInvalid => "the DPoP proof is not a valid signed dpop+jwt",
            AuthFailure::DpopAlgNotAllowed => "the DPoP proof's algorithm is not allowed",
            AuthFailure::DpopPrivateKey => "the DPoP proof carries a private key",
            AuthFailure::DpopWrongMethod => "the DPoP proof was made for another method",
            AuthFailure::DpopWrongUrl => "the DPoP proof was made for another URI",
            AuthFailure::DpopStale => "the DPoP proof's iat is outside the accepted window",
            AuthFailure::DpopWrongAth => "the DPoP proof was made for another access token",
            AuthFailure::DpopNonce => "the DPoP proof must carry the server's current nonce",
            AuthFailure::DpopKeyMismatch => {
                "the DPoP proof is signed by a key the token is not bound to"
            }
            AuthFailure::DpopBoundAsBearer => {
                "the token is DPoP-bound and must be sent with the DPoP scheme and a proof"
            }
            AuthFailure::DpopNotBound => "a DPoP-bound token is required",
            AuthFailure::Undecryptable(_) => "the encrypted token could not be decrypted",
        }
    }

    /// The RFC 9449 §7.1 error code for a `DPoP` challenge.
    pub fn dpop_error(self) -> &'static str {
        match self {
            AuthFailure::DpopNonce => "use_dpop_nonce",
            AuthFailure::DpopMissing
            | AuthFailure::DpopInvalid
            | AuthFailure::DpopAlgNotAllowed
            | AuthFailure::DpopPrivateKey
            | AuthFailure::DpopWrongMethod
            | AuthFailure::DpopWrongUrl
            | AuthFailure::DpopStale
            | AuthFailure::DpopWrongAth => "invalid_dpop_proof",
            _ => "invalid_token",
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
