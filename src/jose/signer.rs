//! A compact JWS signer (RFC 7515 §7.1) over a loaded Ed25519 or P-256 key,
//! with its protected header encoded once, and the public JWK it publishes.

use super::keys::{jwk_from_raw, SigningKey};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::Header;
use serde_json::{Map, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct CompactSigner {
    key: SigningKey,
    /// `base64url(protected header) + "."`, the same for every token.
    header_b64: String,
    jwk: Jwk,
}

impl CompactSigner {
    /// `kid`: the JWK's id (default: its RFC 7638 thumbprint); `typ` goes in the header.
    pub fn new(
        key: SigningKey,
        kid: Option<&str>,
        typ: Option<&str>,
    ) -> Result<CompactSigner, String> {
        let mut jwk = jwk_from_raw(key.public_raw(), key.algorithm())?;
        if let Some(kid) = kid {
            jwk.common.key_id = Some(kid.to_string());
        }
        let mut header = Header::new(key.algorithm());
        header.kid = jwk.common.key_id.clone();
        header.typ = typ.map(str::to_string);
        let header_json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let mut header_b64 = B64.encode(header_json);
        header_b64.push('.');
        Ok(CompactSigner {
            key,
            header_b64,
            jwk,
        })
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap_or_default()
    }

    pub fn algorithm(&self) -> jsonwebtoken::Algorithm {
        self.key.algorithm()
    }

    /// Signs raw bytes (an RFC 9421 signature base, say) with the key.
    pub fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        Ok(self.key.sign(input)?.as_ref().to_vec())
    }

    /// `b64(header) "." b64(claims) "." b64(signature)`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let mut jws = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 100);
        jws.push_str(&self.header_b64);
        B64.encode_string(&payload, &mut jws);
        // The signing input is everything before the second dot.
        let signature = self.key.sign(jws.as_bytes())?;
        jws.push('.');
        B64.encode_string(signature, &mut jws);
        Ok(jws)
    }
}
