//! Every way a request can fail, mapped to a response in one place: status,
//! stable RFC 9457 problem `type`, a metric reason label, and a fixed message
//! that never carries internal detail, tokens or secrets.

use crate::admission::{AdmissionError, Refusal};
use crate::authn::{AuthError, AuthFailure, Dependency};
use crate::authz::Denied;
use crate::body::ResBody;
use crate::challenge::Refused;
use crate::identity::IdentityError;
use crate::route::{PathError, RouteEntry};
use crate::upstream::ForwardError;
use http::{header, HeaderValue, Response, StatusCode};

pub use crate::problem::{problem, PROBLEM_TYPE_BASE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("no route matches the request")]
    NotFound,
    #[error("{}", .0.describe())]
    BadPath(PathError),
    #[error("the request has no usable host")]
    MissingHost,
    #[error("the request's host is ambiguous (userinfo, two Host headers, or a host that differs from :authority)")]
    BadHost,
    #[error("this method is not forwarded by the gateway")]
    MethodNotAllowed,
    #[error("the request uses a transfer coding this gateway does not implement")]
    UnsupportedTransferCoding,
    #[error("the request's Transfer-Encoding is malformed")]
    BadTransferCoding,
    #[error("a request header value begins or ends with whitespace")]
    MalformedHeader,
    #[error("too many request headers")]
    TooManyHeaders,
    #[error("the request headers are too large")]
    HeadersTooLarge,
    #[error("the request body is larger than this route allows")]
    BodyTooLarge,
    #[error("the client stopped sending the request body")]
    ClientBodyAborted,
    #[error("the client paused sending the request body for too long")]
    BodyTimeout,
    #[error("the upstream could not be reached")]
    UpstreamConnect,
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream failed to answer")]
    UpstreamFailed,
    #[error("the upstream's answer could not be relayed")]
    UpstreamBadResponse,
    #[error("{}", .0.description())]
    Auth(AuthFailure),
    #[error("{}", .0.description())]
    Forbidden(Denied),
    #[error("{}", .0.description())]
    Admission(Refusal),
    #[error("{}", dependency_message(*.0))]
    Unavailable(Dependency),
    #[error("a verified identity header would exceed the configured size")]
    IdentityTooLarge,
    #[error("a verified claim cannot be expressed as a header")]
    IdentityUnrepresentable,
    #[error("the gateway could not sign the identity assertion")]
    AssertionFailed,
    #[error("too many requests; retry later")]
    RateLimited {
        retry_after_secs: u32,
        failed_auth: bool,
    },
    #[error("the state store is unavailable")]
    StoreUnavailable,
    #[error("this route accepts only sealed (Oblivious HTTP) requests")]
    SealedRequired,
    #[error("this route does not accept sealed requests")]
    SealedNotAllowed,
    #[error("this route does not relay the requested protocol upgrade")]
    UpgradeNotAllowed,
    #[error("this sealed request was already received")]
    EnvelopeReplayed,
    #[error("the sealed request's Date is missing or outside the replay window")]
    EnvelopeStale,
    #[error("the inner request is not a valid Binary HTTP request")]
    BadInnerRequest,
    #[error("the request body does not match its declared digest")]
    DigestMismatch,
    #[error("the response could not be signed")]
    ResponseNotSigned,
    #[error("a decision request must name the original URI (X-Original-URI, X-Forwarded-Uri or a path under the decision path)")]
    DecisionWithoutUri,
    #[error("only the proxies in listen.trusted_proxies may ask for decisions")]
    DecisionUntrustedPeer,
    #[error(
        "a decision request must name the client: X-Forwarded-For, appended by the asking proxy"
    )]
    DecisionWithoutClient,
}

impl From<IdentityError> for GatewayError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::TooLarge => GatewayError::IdentityTooLarge,
            IdentityError::Unrepresentable => GatewayError::IdentityUnrepresentable,
        }
    }
}

impl From<AdmissionError> for GatewayError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Refused(r) => GatewayError::Admission(r),
            AdmissionError::RateLimited {
                retry_after_secs,
                failed_auth,
            } => GatewayError::RateLimited {
                retry_after_secs,
                failed_auth,
            },
            AdmissionError::StoreUnavailable => GatewayError::StoreUnavailable,
            AdmissionError::EnvelopeReplayed => GatewayError::EnvelopeReplayed,
            AdmissionError::EnvelopeStale => GatewayError::EnvelopeStale,
        }
    }
}

impl From<ForwardError> for GatewayError {
    fn from(e: ForwardError) -> Self {
        match e {
            ForwardError::Connect => GatewayError::UpstreamConnect,
            ForwardError::Timeout => GatewayError::UpstreamTimeout,
            ForwardError::Failed => GatewayError::UpstreamFailed,
            ForwardError::BodyTooLarge => GatewayError::BodyTooLarge,
            ForwardError::ClientBodyAborted => GatewayError::ClientBodyAborted,
            ForwardError::BodyTimeout => GatewayError::BodyTimeout,
            ForwardError::DigestMismatch => GatewayError::DigestMismatch,
            ForwardError::BadResponse => GatewayError::UpstreamBadResponse,
        }
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Rejected(f) => GatewayError::Auth(f),
            AuthError::Unavailable(d) => GatewayError::Unavailable(d),
        }
    }
}

fn dependency_message(d: Dependency) -> &'static str {
    match d {
        Dependency::Keys => "the signing keys needed to verify the credentials are not available",
        Dependency::Introspection => "the token introspection service is unavailable",
        Dependency::Store => "the state store is unavailable",
    }
}

impl GatewayError {
    pub fn status(self) -> StatusCode {
        match self {
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            GatewayError::BadTransferCoding | GatewayError::MalformedHeader => {
                StatusCode::BAD_REQUEST
            }
            GatewayError::BadPath(_)
            | GatewayError::MissingHost
            | GatewayError::BadHost
            | GatewayError::ClientBodyAborted => StatusCode::BAD_REQUEST,
            GatewayError::TooManyHeaders
            | GatewayError::HeadersTooLarge
            | GatewayError::IdentityTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            GatewayError::IdentityUnrepresentable => StatusCode::BAD_REQUEST,
            GatewayError::Forbidden(_) | GatewayError::DecisionUntrustedPeer => {
                StatusCode::FORBIDDEN
            }
            GatewayError::Auth(_) | GatewayError::Admission(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::AssertionFailed => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::SealedRequired
            | GatewayError::SealedNotAllowed
            | GatewayError::EnvelopeReplayed => StatusCode::FORBIDDEN,
            GatewayError::EnvelopeStale
            | GatewayError::BadInnerRequest
            | GatewayError::DigestMismatch
            | GatewayError::DecisionWithoutUri
            | GatewayError::DecisionWithoutClient
            | GatewayError::UpgradeNotAllowed => StatusCode::BAD_REQUEST,
            GatewayError::ResponseNotSigned => StatusCode::BAD_GATEWAY,
            GatewayError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::UpstreamConnect
            | GatewayError::UpstreamFailed
            | GatewayError::UpstreamBadResponse => StatusCode::BAD_GATEWAY,
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A bounded label for metrics and logs, and the suffix of the problem type.
    pub fn reason(self) -> &'static str {
        match self {
            GatewayError::NotFound => "no_route",
            GatewayError::BadPath(PathError::Backslash) => "path_backslash",
            GatewayError::BadPath(PathError::EncodedSlash) => "path_encoded_slash",
            GatewayError::BadPath(PathError::EncodedNul) => "path_encoded_nul",
            GatewayError::BadPath(PathError::BadEscape) => "path_bad_escape",
            GatewayError::MissingHost => "missing_host",
            GatewayError::BadHost => "bad_host",
            GatewayError::MethodNotAllowed => "method_not_allowed",
            GatewayError::UnsupportedTransferCoding => "unsupported_transfer_coding",
            GatewayError::BadTransferCoding => "bad_transfer_coding",
            GatewayError::MalformedHeader => "malformed_header",
            GatewayError::TooManyHeaders => "too_many_headers",
            GatewayError::HeadersTooLarge => "headers_too_large",
            GatewayError::BodyTooLarge => "body_too_large",
            GatewayError::ClientBodyAborted => "client_body_aborted",
            GatewayError::BodyTimeout => "body_timeout",
            GatewayError::UpstreamConnect => "upstream_unreachable",
            GatewayError::UpstreamTimeout => "upstream_timeout",
            GatewayError::UpstreamFailed => "upstream_failed",
            GatewayError::UpstreamBadResponse => "upstream_bad_response",
            GatewayError::Auth(f) => f.reason(),
            GatewayError::Forbidden(d) => d.reason(),
            GatewayError::Admission(r) => r.reason(),
            GatewayError::Unavailable(d) => d.reason(),
            GatewayError::IdentityTooLarge => "identity_header_too_large",
            GatewayError::IdentityUnrepresentable => "identity_header_invalid",
            GatewayError::AssertionFailed => "assertion_failed",
            GatewayError::RateLimited {
                failed_auth: false, ..
            } => "rate_limited",
            GatewayError::RateLimited {
                failed_auth: true, ..
            } => "too_many_failed_authentications",
            GatewayError::StoreUnavailable => "store_unavailable",
            GatewayError::SealedRequired => "sealed_required",
            GatewayError::SealedNotAllowed => "sealed_not_allowed",
            GatewayError::UpgradeNotAllowed => "upgrade_not_allowed",
            GatewayError::EnvelopeReplayed => "envelope_replayed",
            GatewayError::EnvelopeStale => "envelope_date_out_of_window",
            GatewayError::BadInnerRequest => "bad_inner_request",
            GatewayError::DigestMismatch => "digest_mismatch",
            GatewayError::ResponseNotSigned => "response_not_signed",
            GatewayError::DecisionWithoutUri => "decision_missing_uri",
            GatewayError::DecisionUntrustedPeer => "decision_untrusted_peer",
            GatewayError::DecisionWithoutClient => "decision_missing_client",
        }
    }

    /// The reason in the response body: `reason` except where the precise
    /// reason would help an attacker (JWE decryption faults).
    pub fn public_reason(self) -> &'static str {
        match self {
            GatewayError::Auth(f) => f.public_reason(),
            e => e.reason(),
        }
    }

    /// True when the upstream (not the client) is at fault.
    pub fn is_upstream(self) -> bool {
        matches!(
            self,
            GatewayError::UpstreamConnect
                | GatewayError::UpstreamTimeout
                | GatewayError::UpstreamFailed
                | GatewayError::UpstreamBadResponse
                | GatewayError::ResponseNotSigned
        )
    }

    /// The response; the matched route's challenges and scopes shape `WWW-Authenticate`.
    pub fn to_response(
        self,
        request_id: &HeaderValue,
        route: Option<&RouteEntry>,
    ) -> Response<ResBody> {
        let mut resp = problem(
            self.status(),
            self.public_reason(),
            &self.to_string(),
            request_id,
        );
        if let GatewayError::RateLimited {
            retry_after_secs, ..
        } = self
        {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        let challenges = route.map_or(&[][..], |r| &r.challenges[..]);
        let scope = route.and_then(|r| r.scope_hint.as_deref());
        if self == GatewayError::Auth(AuthFailure::DpopNonce) {
            crate::challenge::dpop_nonce(&mut resp, challenges);
        }
        let refused = match self {
            GatewayError::Auth(f) => Some(Refused::Auth(f)),
            GatewayError::Admission(r) => Some(Refused::Admission(r)),
            GatewayError::Forbidden(d) => Some(Refused::Forbidden(d)),
            _ => None,
        };
        let text = refused.and_then(|r| crate::challenge::www_authenticate(r, challenges, scope));
        if let Some(text) = text {
            if let Ok(v) = HeaderValue::from_str(&text) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons() {
        assert_eq!(GatewayError::NotFound.status(), 404);
        assert_eq!(GatewayError::BodyTooLarge.status(), 413);
        assert_eq!(GatewayError::HeadersTooLarge.status(), 431);
        assert_eq!(GatewayError::UpstreamConnect.status(), 502);
        assert_eq!(GatewayError::UpstreamTimeout.status(), 504);
        assert_eq!(GatewayError::BadPath(PathError::EncodedSlash).status(), 400);
        let r = GatewayError::NotFound.to_response(&HeaderValue::from_static("id1"), None);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
