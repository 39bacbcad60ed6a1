//! The tokens the endpoint hands out. Refresh tokens are opaque, in the API
//! key format with the family id in their prefix (`sgrt_<family>_`), so a
//! refresh finds its family in one lookup and a typo fails on the checksum.
//! Access tokens are JWTs (`typ: at+jwt`, RFC 9068) signed by the issuer key,
//! or opaque (`sgat_`) with a store record; both carry the session id (`sid`)
//! and, when DPoP-bound, `cnf.jkt`.

use super::settings::AccessFormat;
use crate::authn::api_key::{check_shape, fingerprint, generate};
use crate::authn::issued::OPAQUE_PREFIX;
use crate::jose::CompactSigner;
use crate::metrics::Metrics;
use crate::store::sessions::AccessRecord;
use crate::store::{Store, StoreUnavailable};
use serde_json::{Map, Value};
use std::time::Duration;

const REFRESH_PREFIX: &str = "sgrt_";
const FAMILY_HEX: usize = 32;
const MAC_HEX: usize = 32;

/// A new family id: 128 random bits, hex.
pub fn new_family() -> Result<String, String> {
    let mut raw = [0u8; FAMILY_HEX / 2];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| "no randomness available".to_string())?;
    Ok(hex::encode(raw))
}

/// Proves that a refresh token's (family, generation) was issued here: an
/// HMAC under a key derived (HKDF) from the issuer's private key. It lets a
/// refresh tell a replaced token of any age (reuse: the session ends) from a
/// forged one that merely names a session (refused, nothing else happens),
/// with nothing but hashes and a counter in the store.
pub struct Generations {
    key: aws_lc_rs::hmac::Key,
}

impl Generations {
    pub fn new(private_key_pem: &[u8]) -> Result<Generations, String> {
        use aws_lc_rs::{hkdf, hmac};
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealgate refresh-token generations");
        let prk = salt.extract(private_key_pem);
        let okm = prk
            .expand(&[b"v1"], hmac::HMAC_SHA256)
            .map_err(|_| "cannot derive the refresh-token key".to_string())?;
        Ok(Generations {
            key: hmac::Key::from(okm),
        })
    }

    fn mac(&self, fid: &str, generation: u64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.key, format!("{fid}:{generation}").as_bytes());
        hex::encode(&tag.as_ref()[..MAC_HEX / 2])
    }

    /// A new refresh token of family `fid` at `generation`: (token, hex SHA-256).
    pub fn token(&self, fid: &str, generation: u64) -> Result<(String, String), String> {
        let mac = self.mac(fid, generation);
        let (token, _, hash) = generate(&format!("{REFRESH_PREFIX}{fid}_{generation}_{mac}_"))?;
        Ok((token, hash))
    }

    /// Whether `r` names a generation this issuer handed out.
    pub fn issued(&self, r: &Refresh<'_>) -> bool {
        let want = self.mac(r.family, r.generation);
        aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), r.mac.as_bytes()).is_ok()
    }
}

/// A well-formed refresh token, read (not yet checked against anything).
#[derive(Debug, PartialEq, Eq)]
pub struct Refresh<'a> {
    pub family: &'a str,
    pub generation: u64,
    mac: &'a str,
    /// Hex SHA-256 of the whole token.
    pub hash: String,
}

/// `sgrt_<family>_<generation>_<mac>_<secret><checksum>`, checksum checked.
pub fn parse_refresh(token: &str) -> Option<Refresh<'_>> {
    let rest = token.strip_prefix(REFRESH_PREFIX)?;
    let mut parts = rest.splitn(4, '_');
    let (family, generation, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let digits = !generation.is_empty() && generation.len() <= 20;
    if !lower_hex(family, FAMILY_HEX) || !lower_hex(mac, MAC_HEX) || !digits {
        return None;
    }
    let prefix_len = REFRESH_PREFIX.len() + family.len() + generation.len() + mac.len() + 3;
    let generation: u64 = generation.parse().ok()?;
    check_shape(token.get(..prefix_len)?, token).ok()?;
    Some(Refresh {
        family,
        generation,
        mac,
        hash: fingerprint(token).1,
    })
}

/// Who a new access token is for.
pub struct Grant<'a> {
    pub sub: &'a str,
    pub claims: &'a Map<String, Value>,
    pub sid: &'a str,
    pub jkt: Option<&'a str>,
}

pub struct Minter {
    pub signer: CompactSigner,
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    pub format: AccessFormat,
    /// JWT access tokens are sealed as nested JWEs to this key when set.
    pub encrypt: Option<Sealing>,
}

/// The key and algorithms access tokens are encrypted with.
pub struct Sealing {
    pub key: crate::jose::jwe::keys::DecryptionKey,
    pub alg: crate::jose::jwe::algs::KeyAlg,
    pub enc: crate::jose::jwe::algs::ContentAlg,
}

impl Minter {
    /// A new access token for `g` at `now` (stored first when opaque).
    pub async fn mint(
        &self,
        g: &Grant<'_>,
        now: u64,
        store: &Store,
        metrics: &Metrics,
    ) -> Result<String, StoreUnavailable> {
        let exp = now + self.ttl.as_secs();
        let mut claims = g.claims.clone();
        claims.insert("sid".into(), Value::from(g.sid));
        if let Some(jkt) = g.jkt {
            claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
        }
        match self.format {
            AccessFormat::Opaque => {
                let (token, id, hash) = generate(OPAQUE_PREFIX).map_err(|_| StoreUnavailable)?;
                let record = AccessRecord {
                    hash,
                    sub: g.sub.to_string(),
                    claims,
                    issued_at: now,
                    expires_at: exp,
                };
                store.put_access(&id, &record, now, metrics).await?;
                Ok(token)
            }
            AccessFormat::Jwt => {
                claims.insert("iss".into(), Value::from(self.issuer.as_str()));
                claims.insert("sub".into(), Value::from(g.sub));
                claims.insert("aud".into(), Value::from(self.audience.as_str()));
                claims.insert("iat".into(), Value::from(now));
                claims.insert("exp".into(), Value::from(exp));
                claims.insert("client_id".into(), Value::from("sealgate"));
                claims.insert(
                    "jti".into(),
                    Value::from(uuid::Uuid::new_v4().simple().to_string()),
                );
                let signed = self.signer.sign(&claims).map_err(|_| StoreUnavailable)?;
                match &self.encrypt {
                    None => Ok(signed),
                    Some(s) => crate::jose::jwe::encrypt(
                        signed.as_bytes(),
                        &s.key,
                        s.alg,
                        s.enc,
                        Some("JWT"),
                    )
                    .map_err(|_| StoreUnavailable),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_family_and_a_provable_generation() {
        let gens = Generations::new(b"-----BEGIN PRIVATE KEY----- test").unwrap();
        let other = Generations::new(b"another issuer key").unwrap();
        let fid = new_family().unwrap();
        let (token, hash) = gens.token(&fid, 7).unwrap();
        let r = parse_refresh(&token).unwrap();
        assert_eq!(
            (r.family, r.generation, r.hash.as_str()),
            (fid.as_str(), 7, hash.as_str())
        );
        assert!(gens.issued(&r));
        assert!(!other.issued(&r), "another key did not issue it");
        // A forged token naming the session at an old generation: well formed,
        // but its MAC is not ours.
        let forged = token.replacen("_7_", "_3_", 1);
        let f = parse_refresh(&forged);
        assert!(f.is_none() || !gens.issued(&f.unwrap()));
        let mut typo = token.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse_refresh(&String::from_utf8(typo).unwrap()), None);
        assert_eq!(parse_refresh("sgrt_short"), None);
        let moved = token.replacen(&fid, &new_family().unwrap(), 1);
        assert_eq!(
            parse_refresh(&moved),
            None,
            "the checksum covers the family"
        );
    }
}
