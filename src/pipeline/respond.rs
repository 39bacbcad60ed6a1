//! Response signatures (RFC 9421 §2.4), the last phase for a verified signed
//! request: the gateway adds `Content-Digest` to the upstream's answer and
//! signs `@status`, `content-digest`, the content type, and the request's own
//! signature (`"signature";req;key="<label>"`) with its assertion key, so the
//! client can check that this answer came through the gateway, unmodified,
//! for the request it signed.

use crate::authn::signature::base::{serialize_covered, signature_base, Message, RequestParts};
use crate::authn::signature::input::{Component, Covered};
use crate::authn::signature::{SIGNATURE, SIGNATURE_INPUT};
use crate::authn::ResponseSigning;
use crate::body::{full, read_to_limit, ReadError, ResBody};
use crate::digest::{content_digest, DigestAlg};
use crate::identity::assertion::AssertionSigner;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, Response, Uri};
use sfv::{BareItemFromInput, KeyRef, StringRef};
use std::borrow::Cow;

/// The label of the gateway's response signature.
const LABEL: &str = "sealgate";

/// Why the response could not be signed (the client gets 502: an unsigned
/// answer would look like tampering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    TooLarge,
    Failed,
}

/// Buffers the body (at most `signing.max_body` bytes), then adds
/// `Content-Digest`, `Signature-Input` and `Signature`, replacing the
/// upstream's own (the client could not tell them from the gateway's).
pub async fn sign(
    signing: &ResponseSigning,
    response: Response<ResBody>,
    signer: &AssertionSigner,
    now: u64,
) -> Result<Response<ResBody>, SignError> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(&SIGNATURE);
    parts.headers.remove(&SIGNATURE_INPUT);
    let bytes = read_to_limit(body, signing.max_body)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge => SignError::TooLarge,
            ReadError::Failed | ReadError::TimedOut => SignError::Failed,
        })?;
    let value = |s: &str| HeaderValue::from_str(s).map_err(|_| SignError::Failed);
    let digest = content_digest(DigestAlg::Sha256, &bytes);
    parts.headers.insert("content-digest", value(&digest)?);
    let covered = covered(signing, &parts.headers, signer, now)?;
    let request_headers = request_headers(signing)?;
    let (method, target) = (Method::GET, Uri::from_static("/"));
    let msg = Message {
        request: RequestParts {
            method: &method,
            target: &target,
            authority: "",
            headers: &request_headers,
        },
        response: Some((parts.status, &parts.headers)),
    };
    let base = signature_base(&covered, &msg).map_err(|_| SignError::Failed)?;
    let signature = signer
        .sign_bytes(base.as_bytes())
        .map_err(|_| SignError::Failed)?;
    let input = serialize_covered(&covered);
    parts
        .headers
        .insert(&SIGNATURE_INPUT, value(&format!("{LABEL}={input}"))?);
    parts.headers.insert(
        &SIGNATURE,
        value(&format!("{LABEL}=:{}:", STANDARD.encode(signature)))?,
    );
    Ok(Response::from_parts(parts, full(bytes)))
}

/// `("@status" "content-digest" ["content-type"] "signature";req;key=LABEL)`
/// with `created`, `keyid` and `alg`.
fn covered(
    signing: &ResponseSigning,
    headers: &HeaderMap,
    signer: &AssertionSigner,
    now: u64,
) -> Result<Covered<'static>, SignError> {
    fn text(v: &str) -> Result<BareItemFromInput<'static>, SignError> {
        let owned = sfv::String::from_string(v.to_string()).map_err(|_| SignError::Failed)?;
        Ok(BareItemFromInput::String(Cow::Owned(owned)))
    }
    fn name(n: &'static str) -> Component<'static> {
        Component {
            name: BareItemFromInput::String(Cow::Borrowed(StringRef::constant(n))),
            params: Vec::new(),
        }
    }
    let mut items = vec![name("@status"), name("content-digest")];
    if headers.contains_key(http::header::CONTENT_TYPE) {
        items.push(name("content-type"));
    }
    let mut request_signature = name("signature");
    request_signature.params = vec![
        (KeyRef::constant("req"), BareItemFromInput::Boolean(true)),
        (KeyRef::constant("key"), text(&signing.label)?),
    ];
    items.push(request_signature);
    let created = sfv::Integer::try_from(now).map_err(|_| SignError::Failed)?;
    let params = vec![
        (
            KeyRef::constant("created"),
            BareItemFromInput::Integer(created),
        ),
        (KeyRef::constant("keyid"), text(signer.kid())?),
        (KeyRef::constant("alg"), text(signer.http_signature_alg())?),
    ];
    Ok(Covered { items, params })
}

/// The request's `Signature` field as far as the base needs it: the verified
/// signature under its label.
fn request_headers(signing: &ResponseSigning) -> Result<HeaderMap, SignError> {
    let line = format!(
        "{}=:{}:",
        signing.label,
        STANDARD.encode(&signing.request_signature)
    );
    let mut h = HeaderMap::new();
    h.insert(
        &SIGNATURE,
        HeaderValue::from_str(&line).map_err(|_| SignError::Failed)?,
    );
    Ok(h)
}
