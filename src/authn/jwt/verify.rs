//! JWS compact verification (RFC 7515/7519, RFC 8725): parse the header,
//! refuse what must never be trusted, select the key by configuration, verify
//! the signature, then check the claims. Pure: `now` is passed in.

use super::keys::{KeySet, Selection};
use crate::authn::failure::AuthFailure;
use crate::authn::jwt::settings::JwtSettings;
use crate::jose::UniqueObject;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

/// A verified token's contents.
#[derive(Debug)]
pub struct Verified {
    pub subject: String,
    pub issuer: String,
    pub claims: Map<String, Value>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
}

pub fn decode_part(part: &str) -> Result<Map<String, Value>, AuthFailure> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthFailure::Malformed)?;
    serde_json::from_slice::<UniqueObject>(&bytes)
        .map(|o| o.0)
        .map_err(|_| AuthFailure::Malformed)
}

/// Splits a compact JWS into its three parts; JWE (five parts) and empty signatures are malformed.
pub fn split(token: &str) -> Result<(&str, &str, &str), AuthFailure> {
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() && !s.is_empty() => {
            Ok((h, p, s))
        }
        _ => Err(AuthFailure::Malformed),
    }
}

/// The `iss` of a token before verification: only to choose which authenticator verifies.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let (_, payload, _) = split(token).ok()?;
    decode_part(payload)
        .ok()?
        .get("iss")?
        .as_str()
        .map(str::to_string)
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, AuthFailure> {
    match claims.get(name) {
        None => Ok(None),
        // NumericDate may carry fractions; truncation is conservative for exp and lenient by <1s for nbf.
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(AuthFailure::Malformed),
        Some(_) => Err(AuthFailure::Malformed),
    }
}

pub fn typ_matches(actual: &str, expected: &str) -> bool {
    let strip = |t: &str| {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_string)
            .unwrap_or(t)
    };
    strip(actual) == strip(expected)
}

/// Verifies `token` against `keys` and the authenticator's settings at time `now`.
pub fn verify(
    token: &str,
    keys: &KeySet,
    s: &JwtSettings,
    now: u64,
) -> Result<Verified, AuthFailure> {
    if token.len() > s.max_token_size {
        return Err(AuthFailure::TokenTooLarge);
    }
    let (h64, p64, sig) = split(token)?;
    let header = decode_part(h64)?;
    let alg = check_header(&header, s)?;
    let signed = &token[..h64.len() + 1 + p64.len()];
    check_signature(&header, keys, alg, signed, sig)?;
    let claims = decode_part(p64)?;
    if let Some(expected) = &s.typ {
        match header.get("typ").and_then(Value::as_str) {
            Some(t) if typ_matches(t, expected) => {}
            _ => return Err(AuthFailure::WrongType),
        }
    }
    check_claims(claims, s, now)
}

/// RFC 8725: never trust a key the token names, refuse unknown critical
/// extensions, and accept only an allowed `alg`.
fn check_header(header: &Map<String, Value>, s: &JwtSettings) -> Result<Algorithm, AuthFailure> {
    for untrusted in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(untrusted) {
            return Err(AuthFailure::UntrustedHeader);
        }
    }
    if header.contains_key("crit") {
        // No extension is understood, so any critical one must be refused (RFC 7515 §4.1.11).
        return Err(AuthFailure::UnsupportedCrit);
    }
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthFailure::Malformed)?;
    super::keys::algorithm(alg_name)
        .filter(|a| s.algorithms.contains(a))
        .ok_or(AuthFailure::AlgNotAllowed)
}

/// The key the configuration has for `kid`, of a type that fits `alg`, and the signature.
fn check_signature(
    header: &Map<String, Value>,
    keys: &KeySet,
    alg: Algorithm,
    signed: &str,
    sig: &str,
) -> Result<(), AuthFailure> {
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= 256 => Some(k.as_str()),
        Some(_) => return Err(AuthFailure::Malformed),
    };
    let key = keys.select(kid).map_err(|e| match e {
        Selection::UnknownKid => AuthFailure::UnknownKid,
        Selection::KidRequired => AuthFailure::UnknownKid,
    })?;
    if !key.kind.allows(alg) || key.alg.is_some_and(|a| a != alg) {
        return Err(AuthFailure::AlgNotAllowed);
    }
    if signature_valid(key, alg, signed, sig) {
        Ok(())
    } else {
        Err(AuthFailure::BadSignature)
    }
}

/// Whether `sig` (base64url) signs `signed` under `key` with `alg` (a pair
/// the caller has already checked with `KeyType::allows`).
pub fn signature_valid(key: &super::key::Key, alg: Algorithm, signed: &str, sig: &str) -> bool {
    match &key.parsed {
        Some(parsed) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .is_ok_and(|raw| parsed.verify_sig(signed.as_bytes(), &raw).is_ok()),
        None => matches!(
            jsonwebtoken::crypto::verify(sig, signed.as_bytes(), &key.key, alg),
            Ok(true)
        ),
    }
}

/// Issuer, audience, times and subject of a token whose signature verified.
pub fn check_claims(
    claims: Map<String, Value>,
    s: &JwtSettings,
    now: u64,
) -> Result<Verified, AuthFailure> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if issuer != s.issuer {
        return Err(AuthFailure::WrongIssuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => s.audiences.iter().any(|x| x == a),
        // RFC 7519 §4.1.3: an array of StringOrURI; any other member is malformed.
        Some(Value::Array(list)) if list.iter().any(|a| !a.is_string()) => {
            return Err(AuthFailure::Malformed)
        }
        Some(Value::Array(list)) => list.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| s.audiences.iter().any(|x| x == a))
        }),
        _ => false,
    };
    if !aud_ok {
        return Err(AuthFailure::WrongAudience);
    }
    let (exp, nbf, iat) = (
        numeric_date(&claims, "exp")?,
        numeric_date(&claims, "nbf")?,
        numeric_date(&claims, "iat")?,
    );
    check_times(exp, nbf, iat, now, s.leeway.as_secs(), s.require_exp)?;
    if let Some(max) = s.max_lifetime {
        let (Some(exp), Some(iat)) = (exp, iat) else {
            return Err(AuthFailure::MissingClaim);
        };
        if exp.saturating_sub(iat) > max.as_secs() {
            return Err(AuthFailure::LifetimeTooLong);
        }
    }
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(AuthFailure::MissingClaim),
    };
    Ok(Verified {
        subject,
        issuer: issuer.to_string(),
        claims,
        exp,
        nbf,
        iat,
    })
}

/// The time checks, shared by full verification and verified-cache hits.
pub fn check_times(
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    now: u64,
    leeway: u64,
    require_exp: bool,
) -> Result<(), AuthFailure> {
    match exp {
        None if require_exp => return Err(AuthFailure::MissingClaim),
        Some(exp) if now > exp.saturating_add(leeway) => return Err(AuthFailure::Expired),
        _ => {}
    }
    if nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        || iat.is_some_and(|iat| now.saturating_add(leeway) < iat)
    {
        return Err(AuthFailure::NotYetValid);
    }
    Ok(())
}
