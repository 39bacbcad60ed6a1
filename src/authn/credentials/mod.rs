//! Signed-request credentials (RFC 9421 keys, OAuth 1.0a consumers): one
//! entry per client, chosen by `keyid` / `oauth_consumer_key`, each with its
//! configured algorithms, key material, expiry, scopes and claims.
//!
//! `file` is the TOML on disk, `kek` the envelope encryption of HMAC secrets,
//! `public` the parsing of public keys, `algorithm` the names both protocols
//! use. [`CredentialSet::load`] opens everything once, at start-up or reload;
//! a request then only looks up an id and verifies.

pub mod algorithm;
pub mod file;
pub mod jwk;
pub mod kek;
pub(crate) mod public;
pub mod source;

pub use algorithm::{Algorithm, KeyKind};
pub use kek::Kek;

use super::failure::AuthFailure;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::ParsedPublicKey;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Most clients a file may hold, and the longest id, so a bad file is bounded.
const MAX_ENTRIES: usize = 100_000;
const MAX_ID: usize = 256;

/// One client's verification material, opened.
pub struct Credential {
    pub id: String,
    pub name: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub expires: Option<u64>,
    pub scopes: Vec<String>,
    pub claims: Map<String, Value>,
    /// The claims a principal carries: `claims` and the scopes as `scope`.
    pub identity_claims: Map<String, Value>,
    key: KeyMaterial,
}

enum KeyMaterial {
    Hmac(Vec<HmacSecret>),
    Public(Vec<(Algorithm, ParsedPublicKey)>),
}

/// A decrypted HMAC secret: zeroized on drop, never printed.
struct HmacSecret {
    raw: Zeroizing<Vec<u8>>,
    /// Built once for RFC 9421 `hmac-sha256`, the hot path.
    sha256: hmac::Key,
    not_after: Option<u64>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            KeyMaterial::Hmac(s) => format!("{} HMAC secret(s) redacted", s.len()),
            KeyMaterial::Public(k) => format!("{} public key(s)", k.len()),
        };
        write!(f, "Credential({}, {:?}, {key})", self.id, self.algorithms)
    }
}

impl Credential {
    /// The algorithm must be one of the credential's own, and the credential unexpired.
    fn admit(&self, alg: Algorithm, now: u64) -> Result<(), AuthFailure> {
        if !self.algorithms.contains(&alg) {
            return Err(AuthFailure::AlgNotAllowed);
        }
        if self.expires.is_some_and(|e| now >= e) {
            return Err(AuthFailure::Expired);
        }
        Ok(())
    }

    /// Verifies `signature` over `message` with `alg`, which must be one of the
    /// credential's own algorithms. HMAC tags are compared in constant time;
    /// during a rotation every secret still in its overlap is tried.
    pub fn verify(
        &self,
        alg: Algorithm,
        now: u64,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthFailure> {
        self.admit(alg, now)?;
        let ok = match &self.key {
            KeyMaterial::Hmac(secrets) => live(secrets, now).any(|s| match alg {
                Algorithm::HmacSha256 => hmac::verify(&s.sha256, message, signature).is_ok(),
                _ => alg.hmac().is_some_and(|h| {
                    hmac::verify(&hmac::Key::new(h, &s.raw), message, signature).is_ok()
                }),
            }),
            KeyMaterial::Public(keys) => keys
                .iter()
                .find(|(a, _)| *a == alg)
                .is_some_and(|(_, k)| k.verify_sig(message, signature).is_ok()),
        };
        ok.then_some(()).ok_or(AuthFailure::BadSignature)
    }

    /// HMAC with a key derived from each live secret by `derive` (OAuth 1.0a
    /// keys are `encode(secret)&`, RFC 5849 §3.4.2), compared in constant time.
    pub fn verify_derived_hmac(
        &self,
        alg: Algorithm,
        now: u64,
        derive: impl Fn(&[u8]) -> Zeroizing<Vec<u8>>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthFailure> {
        self.admit(alg, now)?;
        let (KeyMaterial::Hmac(secrets), Some(h)) = (&self.key, alg.hmac()) else {
            return Err(AuthFailure::AlgNotAllowed);
        };
        let ok = live(secrets, now)
            .any(|s| hmac::verify(&hmac::Key::new(h, &derive(&s.raw)), message, signature).is_ok());
        ok.then_some(()).ok_or(AuthFailure::BadSignature)
    }
}

/// The secrets still valid at `now` (during a rotation, the old ones until their overlap ends).
fn live(secrets: &[HmacSecret], now: u64) -> impl Iterator<Item = &HmacSecret> {
    secrets
        .iter()
        .filter(move |s| s.not_after.is_none_or(|t| now < t))
}

/// The store key that makes a signed request's nonce single-use: per kind,
/// authenticator and key, hashed so its length is bounded whatever the
/// client sent.
pub fn nonce_key(kind: &str, authenticator: &str, key_id: &str, nonce: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [key_id, "\0", nonce] {
        ctx.update(part.as_bytes());
    }
    format!(
        "{kind}:{authenticator}:{}",
        hex::encode(ctx.finish().as_ref())
    )
}

/// Every credential of one file, by id.
pub struct CredentialSet {
    pub path: PathBuf,
    by_id: HashMap<String, Arc<Credential>>,
}

impl fmt::Debug for CredentialSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CredentialSet({}, {} entries)",
            self.path.display(),
            self.by_id.len()
        )
    }
}

impl CredentialSet {
    /// Reads and opens the file: every secret is decrypted with `kek` now, so a
    /// wrong KEK or a damaged entry fails start-up (and `check`), naming the file.
    /// `oauth` says which protocol's algorithm names the authenticator accepts.
    pub fn load(path: &Path, kek: &Kek, oauth: bool) -> Result<CredentialSet, String> {
        let f = file::read(path)?;
        if f.credentials.len() > MAX_ENTRIES {
            return Err(format!(
                "{}: more than {MAX_ENTRIES} credentials",
                path.display()
            ));
        }
        let mut by_id = HashMap::with_capacity(f.credentials.len());
        for e in &f.credentials {
            let c = open(e, kek, oauth)
                .map_err(|m| format!("{}: credential {:?}: {m}", path.display(), e.id))?;
            if by_id.insert(e.id.clone(), Arc::new(c)).is_some() {
                return Err(format!(
                    "{}: credential id {:?} appears twice",
                    path.display(),
                    e.id
                ));
            }
        }
        Ok(CredentialSet {
            path: path.to_path_buf(),
            by_id,
        })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Credential>> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Validates one entry and opens its key material.
fn open(e: &file::Entry, kek: &Kek, oauth: bool) -> Result<Credential, String> {
    if e.id.is_empty() || e.id.len() > MAX_ID || e.id.chars().any(|c| c.is_control()) {
        return Err(format!("id must be 1-{MAX_ID} printable characters"));
    }
    let algorithms = algorithms(&e.algorithms, oauth)?;
    let kind = algorithms[0].key_kind();
    let key = if kind == KeyKind::Hmac {
        if e.public_key.is_some() {
            return Err("an HMAC credential has sealed secrets, not a public_key".into());
        }
        KeyMaterial::Hmac(hmac_secrets(e, kek)?)
    } else {
        if !e.secrets.is_empty() {
            return Err("a public-key credential stores no secret".into());
        }
        let pem = e
            .public_key
            .as_deref()
            .ok_or_else(|| format!("{} needs a public_key (PEM)", algorithms[0].name()))?;
        let (found, raw) = public::parse_pem(pem)?;
        let keys = algorithms
            .iter()
            .map(|a| public::for_algorithm(*a, found, &raw).map(|k| (*a, k)))
            .collect::<Result<_, _>>()?;
        KeyMaterial::Public(keys)
    };
    let claims = serde_json::to_value(&e.claims)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut identity_claims = claims.clone();
    if !e.scopes.is_empty() {
        identity_claims.insert("scope".into(), Value::from(e.scopes.join(" ")));
    }
    Ok(Credential {
        identity_claims,
        id: e.id.clone(),
        name: e.name.clone(),
        algorithms,
        expires: e.expires,
        scopes: e.scopes.clone(),
        claims,
        key,
    })
}

/// Parses the names; all must be of one protocol and need one kind of key.
pub fn algorithms(names: &[String], oauth: bool) -> Result<Vec<Algorithm>, String> {
    let protocol = if oauth { "OAuth 1.0a" } else { "RFC 9421" };
    let mut out = Vec::new();
    for n in names {
        let a = Algorithm::parse(n)
            .filter(|a| a.is_oauth() == oauth)
            .ok_or_else(|| match n.as_str() {
                "PLAINTEXT" => "PLAINTEXT is refused: it sends the secret itself".to_string(),
                _ => format!("{n:?} is not a supported {protocol} algorithm"),
            })?;
        out.push(a);
    }
    let Some(first) = out.first() else {
        return Err("algorithms must name at least one algorithm".into());
    };
    if out.iter().any(|a| a.key_kind() != first.key_kind()) {
        return Err("all algorithms of one credential must use the same kind of key".into());
    }
    Ok(out)
}

fn hmac_secrets(e: &file::Entry, kek: &Kek) -> Result<Vec<HmacSecret>, String> {
    if e.secrets.is_empty() {
        return Err(
            "an HMAC credential needs a sealed secret; add one with `sealgate credentials add`"
                .into(),
        );
    }
    e.secrets
        .iter()
        .map(|s| {
            let raw = kek.open(&e.id, &s.sealed).map_err(|err| err.to_string())?;
            Ok(HmacSecret {
                sha256: hmac::Key::new(hmac::HMAC_SHA256, &raw),
                raw,
                not_after: s.not_after,
            })
        })
        .collect()
}
