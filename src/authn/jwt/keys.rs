//! Verification key sets, loaded from PEM, JWKS or an HMAC secret (`key`
//! holds one key and its type).
//! The set is chosen by configuration; nothing in a token can add a key.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::fmt;

/// At most this many keys in one JWKS; more is refused (RFC guidance: sets are small).
pub const MAX_JWKS_KEYS: usize = 100;
const MAX_KID_LEN: usize = 256;

use super::key::parse_raw;
pub use super::key::{algorithm, is_hmac, pem_public_key, Key, KeyType};

/// The keys of one authenticator. `Debug` shows kids and types, never key bytes.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.kid.as_deref(), k.kind)))
            .finish()
    }
}

/// Why no key could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    UnknownKid,
    KidRequired,
}

fn min_hmac_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    /// Picks the key for a token: by `kid`, or the only key when there is no `kid`.
    /// A single key configured without a kid (a PEM file, an HMAC secret) serves
    /// any token kid: the token still cannot choose a different key.
    pub fn select(&self, kid: Option<&str>) -> Result<&Key, Selection> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .or(match self.keys.as_slice() {
                    [only] if only.kid.is_none() => Some(only),
                    _ => None,
                })
                .ok_or(Selection::UnknownKid),
            None if self.keys.len() == 1 => Ok(&self.keys[0]),
            None => Err(Selection::KidRequired),
        }
    }

    /// Keys from a `keys = ...` reference: the HMAC secret itself when `hmac`,
    /// otherwise a JWKS document or PEM public key(s).
    pub fn from_config_bytes(
        bytes: &[u8],
        hmac: bool,
        algorithms: &[Algorithm],
    ) -> Result<KeySet, String> {
        if hmac {
            let need = algorithms
                .iter()
                .map(|a| min_hmac_len(*a))
                .max()
                .unwrap_or(32);
            if bytes.len() < need {
                return Err(format!(
                    "the HMAC secret has {} bytes; {need} or more are required for {:?} (RFC 7518 §3.2)",
                    bytes.len(),
                    algorithms
                ));
            }
            return Ok(KeySet {
                keys: vec![Key {
                    kid: None,
                    kind: KeyType::Hmac,
                    alg: None,
                    key: DecodingKey::from_secret(bytes),
                    parsed: None,
                    rsa: None,
                }],
            });
        }
        let trimmed = bytes.trim_ascii_start();
        if trimmed.starts_with(b"{") {
            return KeySet::from_jwks(trimmed, false);
        }
        let key = pem_public_key(bytes)?;
        Ok(KeySet { keys: vec![key] })
    }

    /// Parses a JWKS (RFC 7517). Encryption keys and unsupported key types are
    /// skipped; malformed or weak signing keys fail the whole document.
    pub fn from_jwks(bytes: &[u8], allow_oct: bool) -> Result<KeySet, String> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid JWKS JSON: {e}"))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("a JWKS needs a \"keys\" array")?;
        if list.len() > MAX_JWKS_KEYS {
            return Err(format!(
                "the JWKS has {} keys; at most {MAX_JWKS_KEYS} are accepted",
                list.len()
            ));
        }
        let mut keys = Vec::new();
        for (i, jwk) in list.iter().enumerate() {
            if let Some(k) = jwk_key(jwk, allow_oct).map_err(|m| format!("keys[{i}]: {m}"))? {
                keys.push(k);
            }
        }
        Ok(KeySet { keys })
    }
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "invalid base64url".to_string())
}

fn field<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, String> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(format!("missing \"{name}\""))
}

pub fn jwk_key(jwk: &Value, allow_oct: bool) -> Result<Option<Key>, String> {
    if jwk
        .get("use")
        .and_then(Value::as_str)
        .is_some_and(|u| u != "sig")
    {
        return Ok(None);
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= MAX_KID_LEN => Some(k.clone()),
        Some(_) => return Err("\"kid\" must be a string of at most 256 characters".into()),
    };
    let alg = match jwk.get("alg").and_then(Value::as_str) {
        None => None,
        Some(a) => match algorithm(a) {
            Some(a) => Some(a),
            None => return Ok(None),
        },
    };
    let Some((kind, key, raw)) = jwk_material(jwk, allow_oct)? else {
        return Ok(None);
    };
    if alg.is_some_and(|a| !kind.allows(a)) {
        return Err("the key's \"alg\" does not fit its type".into());
    }
    let parsed = raw.as_deref().and_then(|r| parse_raw(kind, r));
    let rsa = match kind {
        KeyType::Rsa => Some(aws_lc_rs::signature::RsaPublicKeyComponents {
            n: b64(field(jwk, "n")?)?,
            e: b64(field(jwk, "e")?)?,
        }),
        _ => None,
    };
    Ok(Some(Key {
        kid,
        kind,
        alg,
        key,
        parsed,
        rsa,
    }))
}

/// The key of a JWK by `kty`/`crv`, with its raw public bytes for aws-lc-rs
/// (none for RSA and HMAC); `None` for a type this gateway does not verify.
type Material = (KeyType, DecodingKey, Option<Vec<u8>>);

fn jwk_material(jwk: &Value, allow_oct: bool) -> Result<Option<Material>, String> {
    Ok(Some(
        match (field(jwk, "kty")?, jwk.get("crv").and_then(Value::as_str)) {
            ("RSA", _) => {
                let n = field(jwk, "n")?;
                if b64(n)?.len() < 256 {
                    return Err("RSA keys shorter than 2048 bits are refused".into());
                }
                let key = DecodingKey::from_rsa_components(n, field(jwk, "e")?)
                    .map_err(|e| e.to_string())?;
                (KeyType::Rsa, key, None)
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (x, y) = (field(jwk, "x")?, field(jwk, "y")?);
                let size = if crv == "P-256" { 32 } else { 48 };
                if b64(x)?.len() != size || b64(y)?.len() != size {
                    return Err(format!("{crv} coordinates must be {size} bytes"));
                }
                let key = DecodingKey::from_ec_components(x, y).map_err(|e| e.to_string())?;
                let mut point = vec![4u8];
                point.extend(b64(x)?);
                point.extend(b64(y)?);
                let kind = if crv == "P-256" {
                    KeyType::EcP256
                } else {
                    KeyType::EcP384
                };
                (kind, key, Some(point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = field(jwk, "x")?;
                if b64(x)?.len() != 32 {
                    return Err("Ed25519 keys are 32 bytes".into());
                }
                let key = DecodingKey::from_ed_components(x).map_err(|e| e.to_string())?;
                (KeyType::Ed25519, key, Some(b64(x)?))
            }
            ("oct", _) if allow_oct => (
                KeyType::Hmac,
                DecodingKey::from_secret(&b64(field(jwk, "k")?)?),
                None,
            ),
            _ => return Ok(None),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/jwt/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn loads_pem_and_jwks_fixtures() {
        assert_eq!(
            pem_public_key(&fixture("ec-p256.pub.pem")).unwrap().kind,
            KeyType::EcP256
        );
        assert_eq!(
            pem_public_key(&fixture("ec-p384.pub.pem")).unwrap().kind,
            KeyType::EcP384
        );
        assert_eq!(
            pem_public_key(&fixture("ed25519.pub.pem")).unwrap().kind,
            KeyType::Ed25519
        );
        assert_eq!(
            pem_public_key(&fixture("rsa.pub.pem")).unwrap().kind,
            KeyType::Rsa
        );
        for pem in ["ec-p256.pub.pem", "ec-p384.pub.pem", "ed25519.pub.pem"] {
            assert!(
                pem_public_key(&fixture(pem)).unwrap().parsed.is_some(),
                "{pem} is not pre-parsed"
            );
        }
        assert!(pem_public_key(&fixture("rsa.pub.pem"))
            .unwrap()
            .parsed
            .is_none());
        let set = KeySet::from_jwks(&fixture("jwks.json"), false).unwrap();
        assert_eq!(set.len(), 4);
        assert!(set.select(Some("ec256-1")).unwrap().parsed.is_some());
        assert!(set.select(Some("ed-1")).unwrap().parsed.is_some());
        assert_eq!(set.select(Some("ec256-1")).unwrap().kind, KeyType::EcP256);
        assert_eq!(
            set.select(Some("../../etc/passwd")).err(),
            Some(Selection::UnknownKid)
        );
        assert_eq!(set.select(None).err(), Some(Selection::KidRequired));
        // oct keys only where HMAC is configured.
        assert!(KeySet::from_jwks(&fixture("jwks-hmac.json"), false)
            .unwrap()
            .is_empty());
        assert_eq!(
            KeySet::from_jwks(&fixture("jwks-hmac.json"), true)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn key_types_bind_algorithms() {
        assert!(KeyType::Rsa.allows(Algorithm::PS256));
        assert!(!KeyType::Rsa.allows(Algorithm::HS256));
        assert!(!KeyType::EcP256.allows(Algorithm::ES384));
        assert!(!KeyType::Ed25519.allows(Algorithm::ES256));
        assert!(!KeyType::Hmac.allows(Algorithm::RS256));
    }

    #[test]
    fn weak_secrets_and_oversized_sets_are_refused() {
        assert!(KeySet::from_config_bytes(b"short", true, &[Algorithm::HS256]).is_err());
        assert!(KeySet::from_config_bytes(&[7u8; 32], true, &[Algorithm::HS512]).is_err());
        assert!(KeySet::from_config_bytes(&[7u8; 64], true, &[Algorithm::HS512]).is_ok());
        let many = format!(
            "{{\"keys\":[{}]}}",
            vec!["{\"kty\":\"unknown\"}"; 101].join(",")
        );
        assert!(KeySet::from_jwks(many.as_bytes(), false)
            .unwrap_err()
            .contains("at most 100"));
    }
}
