//! `issuer.access_token.encrypt`: JWT access tokens sealed as nested JWEs
//! (RFC 7516, `cty: JWT`) to a key the gateway holds, so clients and
//! intermediaries cannot read their claims. The `issued` authenticator
//! opens them with the same key.

use crate::authn::jwt::decryption::JweSettings;
use crate::config::diag::Diag;
use crate::config::file::EncryptFile;
use crate::config::secret::{Secret, SecretRef};
use crate::jose::jwe::algs::{ContentAlg, KeyAlg};
use crate::jose::jwe::keys::{self, DecryptionKey, Material};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Encryption {
    pub key: Arc<Secret>,
    pub kid: Option<String>,
    pub alg: KeyAlg,
    pub enc: ContentAlg,
    pub file: Option<PathBuf>,
}

/// The algorithm a key does by default: ECDH-ES for EC keys, RSA-OAEP-256
/// for RSA, AES key wrap for a 128- or 256-bit secret.
fn default_alg(m: &Material) -> Option<KeyAlg> {
    match m {
        Material::Ec(..) => Some(KeyAlg::EcdhEs),
        Material::Rsa(_) => Some(KeyAlg::RsaOaep256),
        Material::Oct(k) if k.len() == 16 => Some(KeyAlg::A128Kw),
        Material::Oct(k) if k.len() == 32 => Some(KeyAlg::A256Kw),
        Material::Oct(_) => None,
    }
}

pub fn settings(d: &mut Diag<'_>, f: &EncryptFile) -> Option<Encryption> {
    const P: &str = "issuer.access_token.encrypt";
    let path = format!("{P}.key");
    let mut file = None;
    let loaded = SecretRef::parse(&f.key, d.base).and_then(|r| {
        if let SecretRef::File(p) = &r {
            file = Some(p.clone());
        }
        let bytes = r.load(d.warnings)?;
        let mut parsed = keys::parse(bytes.expose(), f.kid.as_deref())?;
        match parsed.len() {
            1 => Ok(Some((bytes, parsed.remove(0)))),
            _ => Err("name one key, not a JWKS of several".into()),
        }
    });
    let (bytes, key) = d.take(path, loaded, None)?;
    let alg = match f.alg.as_deref() {
        None => default_alg(&key.material),
        Some(a) => KeyAlg::parse(a),
    };
    let enc = ContentAlg::parse(f.enc.as_deref().unwrap_or("A256GCM"));
    let (Some(alg), Some(enc)) = (alg, enc) else {
        d.push(P, "unsupported alg or enc (alg: dir, A128KW, A256KW, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW, RSA-OAEP-256; enc: A128GCM, A256GCM, A128CBC-HS256, A256CBC-HS512)");
        return None;
    };
    if !key.material.fits(alg, enc) {
        let what = key.material.describe();
        d.push(
            P,
            format!(
                "the key ({what}) cannot do {} with {}",
                alg.name(),
                enc.name()
            ),
        );
        return None;
    }
    Some(Encryption {
        key: Arc::new(bytes),
        kid: f.kid.clone(),
        alg,
        enc,
        file,
    })
}

impl Encryption {
    /// The key tokens are encrypted to.
    pub fn key(&self) -> Result<DecryptionKey, String> {
        keys::parse(self.key.expose(), self.kid.as_deref())?
            .pop()
            .ok_or_else(|| "no key".to_string())
    }

    /// What the `issued` authenticator opens these tokens with: this key and pair only.
    pub fn decryption(&self) -> JweSettings {
        JweSettings {
            keys: vec![(self.kid.clone(), self.key.clone())],
            algs: vec![self.alg],
            encs: vec![self.enc],
            allow_unsigned: false,
            files: self.file.iter().cloned().collect(),
        }
    }
}
