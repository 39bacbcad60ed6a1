//! One DPoP proof (RFC 9449 §4.2-4.3): a JWS whose header carries the
//! client's public key. Checked in the RFC's order: the JWT shape, `typ`, an
//! allowed asymmetric `alg`, a public-only `jwk` (a private member refuses the
//! proof), the signature under that key, then the claims. The key comes from
//! the proof by design: what binds it to a token is the token's `cnf.jkt`
//! (chosen by the issuer), compared by the caller with [`thumbprint`].

use crate::authn::failure::AuthFailure;
use crate::authn::jwt::key::is_hmac;
use crate::authn::jwt::keys::jwk_key;
use crate::authn::jwt::verify::{decode_part, signature_valid, split};
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

/// Proofs are small (a header with a public key and five claims); RSA-4096 fits.
pub const MAX_PROOF_SIZE: usize = 8 * 1024;
const MAX_JTI_LEN: usize = 256;
const MAX_NONCE_LEN: usize = 512;

/// Members that only a private (or symmetric) JWK has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A proof whose signature verified; its claims still need the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: u64,
    pub ath: Option<String>,
    pub nonce: Option<String>,
}

/// Verifies the proof's form, key and signature (not yet the request match).
pub fn parse(jws: &str, algorithms: &[Algorithm]) -> Result<Proof, AuthFailure> {
    if jws.len() > MAX_PROOF_SIZE {
        return Err(AuthFailure::DpopInvalid);
    }
    // The header first: `alg: none` (no signature) is refused as an algorithm.
    let h64 = jws.split('.').next().unwrap_or_default();
    let header = decode_part(h64).map_err(|_| AuthFailure::DpopInvalid)?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(AuthFailure::DpopInvalid);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(crate::authn::jwt::key::algorithm)
        .filter(|a| !is_hmac(*a) && algorithms.contains(a))
        .ok_or(AuthFailure::DpopAlgNotAllowed)?;
    let (_, p64, sig) = split(jws).map_err(|_| AuthFailure::DpopInvalid)?;
    if header.contains_key("crit") {
        return Err(AuthFailure::DpopInvalid);
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(AuthFailure::DpopInvalid)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(AuthFailure::DpopPrivateKey);
    }
    let key = jwk_key(&Value::Object(jwk.clone()), false)
        .ok()
        .flatten()
        .ok_or(AuthFailure::DpopInvalid)?;
    if !key.kind.allows(alg) || key.alg.is_some_and(|a| a != alg) {
        return Err(AuthFailure::DpopAlgNotAllowed);
    }
    let signed = &jws[..h64.len() + 1 + p64.len()];
    if !signature_valid(&key, alg, signed, sig) {
        return Err(AuthFailure::DpopInvalid);
    }
    let jkt = thumbprint(jwk).ok_or(AuthFailure::DpopInvalid)?;
    claims(decode_part(p64).map_err(|_| AuthFailure::DpopInvalid)?, jkt)
}

fn claims(c: Map<String, Value>, jkt: String) -> Result<Proof, AuthFailure> {
    let text = |name: &str, max: usize| match c.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(Some(s.clone())),
        None => Ok(None),
        Some(_) => Err(AuthFailure::DpopInvalid),
    };
    let required = |v: Option<String>| v.ok_or(AuthFailure::DpopInvalid);
    let iat = match c.get("iat") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        _ => None,
    }
    .ok_or(AuthFailure::DpopInvalid)?;
    Ok(Proof {
        jkt,
        jti: required(text("jti", MAX_JTI_LEN)?)?,
        htm: required(text("htm", 32)?)?,
        htu: required(text("htu", 4096)?)?,
        iat,
        ath: text("ath", 128)?,
        nonce: text("nonce", MAX_NONCE_LEN)?,
    })
}

/// RFC 7638 §3: SHA-256 over the key's required members, in lexicographic
/// order, as compact JSON; base64url. `None` for a key type without them.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = Map::new();
    for m in members {
        canonical.insert((*m).to_string(), Value::from(jwk.get(*m)?.as_str()?));
    }
    // serde_json's map is ordered by key, and strings serialize as RFC 7638 asks.
    let json = serde_json::to_vec(&canonical).ok()?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &json);
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

/// `ath` (RFC 9449 §4.2): base64url(SHA-256(ASCII access token)).
pub fn access_token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}
