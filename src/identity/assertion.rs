//! The gateway-signed assertion: a short-lived JWT (EdDSA or ES256) that tells a
//! backend who the caller is, verifiable with any JOSE library against the
//! JWKS the admin listener publishes at `/.well-known/jwks.json`.

use crate::authn::Principal;
use crate::config::{Assertion, PrivateKeySource};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde_json::{Map, Value};
use std::time::Duration;

const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// Reads a PKCS#8 PEM private key: Ed25519 signs EdDSA, P-256 signs ES256.
pub fn signing_key(pem: &[u8]) -> Result<(EncodingKey, Algorithm), String> {
    let der =
        PrivateKeyDer::from_pem_slice(pem).map_err(|_| "expected a PEM private key".to_string())?;
    let der = der.secret_der();
    let (key, alg) = if contains(der, OID_ED25519) {
        (EncodingKey::from_ed_pem(pem), Algorithm::EdDSA)
    } else if contains(der, OID_P256) {
        (EncodingKey::from_ec_pem(pem), Algorithm::ES256)
    } else {
        return Err(
            "the assertion key must be an Ed25519 or P-256 private key (PKCS#8 PEM)".into(),
        );
    };
    let key = key.map_err(|e| format!("unusable private key: {e}"))?;
    private_to_jwk(pem, alg)?;
    Ok((key, alg))
}

/// A JWK for a raw public key: 32 bytes (Ed25519) or a 65-byte uncompressed P-256 point.
fn jwk_from_raw(raw: &[u8], alg: Algorithm) -> Result<Jwk, String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let doc = match (alg, raw.len()) {
        (Algorithm::EdDSA, 32) => {
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "alg": "EdDSA"})
        }
        (Algorithm::ES256, 65) if raw[0] == 4 => {
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..]), "alg": "ES256"})
        }
        _ => return Err("unexpected public key encoding".into()),
    };
    let mut jwk: Jwk = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_id = Some(
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?,
    );
    Ok(jwk)
}

/// A published public key (SPKI PEM) as a JWK, for rotation (`publish_also`).
pub fn public_jwk(pem: &[u8]) -> Result<Jwk, String> {
    let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
        .map_err(|_| "expected a PEM public key".to_string())?;
    let der = der.as_ref();
    // The key is the BIT STRING that ends the SubjectPublicKeyInfo.
    if contains(der, OID_ED25519) && der.len() >= 32 {
        jwk_from_raw(&der[der.len() - 32..], Algorithm::EdDSA)
    } else if contains(der, OID_P256) && der.len() >= 65 {
        jwk_from_raw(&der[der.len() - 65..], Algorithm::ES256)
    } else {
        Err("published keys must be Ed25519 or P-256 public keys".into())
    }
}

/// The public JWK of a PKCS#8 PEM private key.
fn private_to_jwk(pem: &[u8], alg: Algorithm) -> Result<Jwk, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the key is not PEM text".to_string())?;
    let pair = rcgen::KeyPair::from_pem(text).map_err(|e| format!("unusable private key: {e}"))?;
    jwk_from_raw(pair.public_key_raw(), alg)
}

pub struct AssertionSigner {
    key: EncodingKey,
    header: Header,
    issuer: String,
    ttl: Duration,
    jwks: bytes::Bytes,
}

impl AssertionSigner {
    pub fn new(cfg: &Assertion) -> Result<AssertionSigner, String> {
        let pem = match &cfg.key {
            PrivateKeySource::DevGenerated(path) => {
                if crate::keygen::ensure_ed25519_private(path)? {
                    tracing::warn!(key = %path.display(), "generated a development assertion signing key (not for production)");
                }
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            PrivateKeySource::Secret(r) => r.load(&mut Vec::new())?.expose().to_vec(),
        };
        let (key, alg) = signing_key(&pem)?;
        let jwk = private_to_jwk(&pem, alg)?;
        let mut header = Header::new(alg);
        header.kid = jwk.common.key_id.clone();
        let mut keys = vec![jwk];
        for p in &cfg.publish_also {
            let pem = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            keys.push(public_jwk(&pem)?);
        }
        let jwks =
            serde_json::to_vec(&serde_json::json!({ "keys": keys })).map_err(|e| e.to_string())?;
        Ok(AssertionSigner {
            key,
            header,
            issuer: cfg.issuer.clone(),
            ttl: cfg.ttl,
            jwks: jwks.into(),
        })
    }

    /// The JWKS document published on the admin listener.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// Signs an assertion about `p` for the upstream named `audience`.
    pub fn sign(
        &self,
        p: &Principal,
        audience: &str,
        selected: &[(String, http::HeaderName)],
        now: u64,
    ) -> Result<String, String> {
        let mut claims = Map::new();
        for (name, _) in selected {
            if let Some(v) = p.claims().get(name) {
                claims.insert(name.clone(), v.clone());
            }
        }
        claims.insert("iss".into(), Value::from(self.issuer.as_str()));
        claims.insert("aud".into(), Value::from(audience));
        claims.insert("sub".into(), Value::from(p.subject()));
        claims.insert("orig_iss".into(), Value::from(p.issuer()));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(now + self.ttl.as_secs()));
        let mut jti = [0u8; uuid::fmt::Simple::LENGTH];
        claims.insert(
            "jti".into(),
            Value::from(&*uuid::Uuid::new_v4().simple().encode_lower(&mut jti)),
        );
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|e| e.to_string())
    }
}
