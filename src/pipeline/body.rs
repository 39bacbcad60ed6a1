//! The request body around authentication: read first (bounded) when a kind
//! verifies parameters in it (OAuth 1.0a forms), and checked against its
//! declared digest afterwards, as it streams or before forwarding.

use crate::authn::BodyRequirement;
use crate::body::{read_to_limit, ReadError, ReqBody};
use crate::digest::CheckedBody;
use crate::error::GatewayError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// The most read before authentication (OAuth 1.0a form bodies): an
/// unauthenticated client must not make the gateway hold the route's whole
/// body limit per request.
pub const MAX_BEFORE_AUTH: u64 = 1 << 20;

/// Reads the whole body, at most `limit` bytes.
pub async fn read(body: ReqBody, limit: u64) -> Result<Bytes, GatewayError> {
    read_to_limit(body, limit).await.map_err(|e| match e {
        ReadError::TooLarge => GatewayError::BodyTooLarge,
        ReadError::TimedOut => GatewayError::BodyTimeout,
        ReadError::Failed => GatewayError::ClientBodyAborted,
    })
}

pub fn replay(bytes: Bytes) -> ReqBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// Applies a verdict's body check: a buffered check answers 400 before anything
/// is forwarded; a streaming one fails the upstream request on a mismatch.
pub async fn check(
    body: ReqBody,
    requirement: Option<&BodyRequirement>,
    limit: u64,
) -> Result<ReqBody, GatewayError> {
    let Some(req) = requirement else {
        return Ok(body);
    };
    if !req.buffer {
        return Ok(CheckedBody::new(body, &req.check).boxed());
    }
    let bytes = read(body, limit).await?;
    if !req.check.matches(&bytes) {
        return Err(GatewayError::DigestMismatch);
    }
    Ok(replay(bytes))
}
