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

/// A new family id: 128 random bits, hex.
pub fn new_family() -> Result<String, String> {
    let mut raw = [0u8; FAMILY_HEX / 2];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| "no randomness available".to_string())?;
    Ok(hex::encode(raw))
}

/// A new refresh token of family `fid`: (token, hex SHA-256).
pub fn new_refresh(fid: &str) -> Result<(String, String), String> {
    let (token, _, hash) = generate(&format!("{REFRESH_PREFIX}{fid}_"))?;
    Ok((token, hash))
}

/// The family and hash of a well-formed refresh token.
pub fn parse_refresh(token: &str) -> Option<(&str, String)> {
    let rest = token.strip_prefix(REFRESH_PREFIX)?;
    let fid = rest.get(..FAMILY_HEX)?;
    if !fid
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        || rest.as_bytes().get(FAMILY_HEX) != Some(&b'_')
    {
        return None;
    }
    let prefix = &token[..REFRESH_PREFIX.len() + FAMILY_HEX + 1];
    check_shape(prefix, token).ok()?;
    Some((fid, fingerprint(token).1))
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
                self.signer.sign(&claims).map_err(|_| StoreUnavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_family() {
        let fid = new_family().unwrap();
        let (token, hash) = new_refresh(&fid).unwrap();
        assert_eq!(parse_refresh(&token), Some((fid.as_str(), hash)));
        let mut typo = token.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse_refresh(&String::from_utf8(typo).unwrap()), None);
        assert_eq!(parse_refresh("sgrt_short"), None);
        let other = new_family().unwrap();
        let moved = token.replacen(&fid, &other, 1);
        assert_eq!(
            parse_refresh(&moved),
            None,
            "the checksum covers the family"
        );
    }
}
