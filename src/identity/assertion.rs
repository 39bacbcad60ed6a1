//! The gateway-signed assertion: a short-lived JWT (EdDSA or ES256) that tells a
//! backend who the caller is, verifiable with any JOSE library against the
//! JWKS the admin listener publishes at `/.well-known/jwks.json`.

use super::settings::{Assertion, PrivateKeySource};
use crate::authn::Principal;
use crate::jose::keys::{public_jwk, signing_key, SigningKey};
use crate::jose::CompactSigner;
use serde_json::{Map, Value};
use std::time::Duration;

pub struct AssertionSigner {
    signer: CompactSigner,
    issuer: String,
    ttl: Duration,
    jwks: bytes::Bytes,
}

/// Reads the PKCS#8 PEM a `PrivateKeySource` names, generating a development
/// key first when asked to (it warns: not for production). `what` names the key.
pub fn load_signing_pem(
    source: &PrivateKeySource,
    what: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    Ok(zeroize::Zeroizing::new(match source {
        PrivateKeySource::DevGenerated(path) => {
            if crate::keygen::ensure_ed25519_private(path)? {
                tracing::warn!(key = %path.display(), "generated a development {what} (not for production)");
            }
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        PrivateKeySource::Secret(r) => r.load(&mut Vec::new())?.expose().to_vec(),
    }))
}

/// The signing key a `PrivateKeySource` names (see `load_signing_pem`).
pub fn load_signing_key(source: &PrivateKeySource, what: &str) -> Result<SigningKey, String> {
    signing_key(&load_signing_pem(source, what)?)
}

impl AssertionSigner {
    pub fn new(cfg: &Assertion) -> Result<AssertionSigner, String> {
        let key = load_signing_key(&cfg.key, "assertion signing key")?;
        let signer = CompactSigner::new(key, None, None)?;
        let mut keys = vec![signer.jwk().clone()];
        for p in &cfg.publish_also {
            let pem = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            keys.push(public_jwk(&pem)?);
        }
        let jwks =
            serde_json::to_vec(&serde_json::json!({ "keys": keys })).map_err(|e| e.to_string())?;
        Ok(AssertionSigner {
            signer,
            issuer: cfg.issuer.clone(),
            ttl: cfg.ttl,
            jwks: jwks.into(),
        })
    }

    /// The JWKS document published on the admin listener.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// The published public keys.
    pub fn public_keys(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice::<serde_json::Value>(&self.jwks)
            .ok()
            .and_then(|d| d.get("keys").and_then(|k| k.as_array()).cloned())
            .unwrap_or_default()
    }

    pub fn kid(&self) -> &str {
        self.signer.kid()
    }

    /// The key's RFC 9421 algorithm name (section 6.2.2).
    pub fn http_signature_alg(&self) -> &'static str {
        match self.signer.algorithm() {
            jsonwebtoken::Algorithm::EdDSA => "ed25519",
            _ => "ecdsa-p256-sha256",
        }
    }

    /// Signs raw bytes (an RFC 9421 signature base) with the assertion key.
    pub fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        self.signer.sign_bytes(input)
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
        if let Some(iss) = p.issuer() {
            claims.insert("orig_iss".into(), Value::from(iss));
        }
        claims.insert("iat".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(now + self.ttl.as_secs()));
        let mut jti = [0u8; uuid::fmt::Simple::LENGTH];
        claims.insert(
            "jti".into(),
            Value::from(&*uuid::Uuid::new_v4().simple().encode_lower(&mut jti)),
        );
        self.encode(&claims)
    }

    fn encode(&self, claims: &Map<String, Value>) -> Result<String, String> {
        self.signer.sign(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::SecretRef;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::Ed25519KeyPair;
    use jsonwebtoken::{jwk::JwkSet, DecodingKey, Validation};

    fn signer(pem: &str) -> (AssertionSigner, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, pem).unwrap();
        let signer = AssertionSigner::new(&Assertion {
            key: PrivateKeySource::Secret(SecretRef::File(path)),
            ttl: Duration::from_secs(60),
            issuer: "sealgate".into(),
            publish_also: vec![],
        })
        .unwrap();
        (signer, dir)
    }

    /// Every key type we accept signs a JWS that an independent verifier accepts
    /// with the key from the published JWKS, selected by the header's kid.
    #[test]
    fn assertions_verify_against_the_published_jwks() {
        let rng = SystemRandom::new();
        let ed_v2 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_v2 = rustls::pki_types::PrivatePkcs8KeyDer::from(ed_v2.as_ref().to_vec());
        let pems: Vec<(&str, String)> = vec![
            (
                "EdDSA pkcs8 v1",
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .unwrap()
                    .serialize_pem(),
            ),
            ("EdDSA pkcs8 v2", pem_of(&ed_v2)),
            (
                "ES256",
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .unwrap()
                    .serialize_pem(),
            ),
        ];
        for (name, pem) in pems {
            let (signer, _dir) = signer(&pem);
            let mut claims = Map::new();
            claims.insert("sub".into(), Value::from("alice"));
            claims.insert("aud".into(), Value::from("orders"));
            claims.insert("exp".into(), Value::from(crate::authn::unix_now() + 60));
            let jws = signer.encode(&claims).unwrap();
            let header = jsonwebtoken::decode_header(&jws).unwrap();
            let set: JwkSet = serde_json::from_slice(&signer.jwks()).unwrap();
            let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
            let mut v = Validation::new(header.alg);
            v.set_audience(&["orders"]);
            let got = jsonwebtoken::decode::<Value>(&jws, &DecodingKey::from_jwk(jwk).unwrap(), &v)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.claims["sub"], "alice", "{name}");
            // One flipped signature bit is refused.
            let mut bad = jws.into_bytes();
            let last = bad.len() - 2;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                jsonwebtoken::decode::<Value>(&bad, &DecodingKey::from_jwk(jwk).unwrap(), &v)
                    .is_err(),
                "{name}"
            );
        }
    }

    fn pem_of(der: &rustls::pki_types::PrivatePkcs8KeyDer<'_>) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.secret_pkcs8_der());
        let body: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            body.join("\n")
        )
    }
}
