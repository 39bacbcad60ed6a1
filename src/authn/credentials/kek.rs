//! Envelope encryption for signed-request secrets: each secret is encrypted
//! with its own random data key (AES-256-GCM), and the data key is wrapped
//! with the key-encryption key (KEK), also AES-256-GCM. The credential id is
//! bound into both as associated data, so a sealed secret copied onto another
//! entry does not open. Rotating the KEK rewraps data keys only.
//!
//! A sealed secret reads `v1.<kek id>.<wrapped data key>.<ciphertext>`
//! (base64url, each with its nonce first): the KEK id is the key version, so
//! a wrong KEK is named as such instead of failing as "tampered".

use crate::config::secret::{Secret, SecretRef};
use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use std::fmt;
use zeroize::Zeroizing;

const VERSION: &str = "v1";

/// A loaded key-encryption key. `Debug` prints only its id.
pub struct Kek {
    key: RandomizedNonceKey,
    id: String,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({})", self.id)
    }
}

/// A new random KEK, encoded as the CLI prints it (base64url, 32 bytes).
pub fn generate() -> Result<String, String> {
    let mut key = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut key[..]).map_err(|_| "no randomness available".to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(&key[..]))
}

impl Kek {
    /// Reads a KEK reference (`env:NAME` or `file:PATH`).
    pub fn load(reference: &str, base: &std::path::Path) -> Result<Kek, String> {
        let r = SecretRef::parse(reference, base)?;
        let secret = r.load(&mut Vec::new())?;
        Kek::from_secret(&secret).map_err(|e| format!("KEK {reference}: {e}"))
    }

    /// 32 bytes, written as base64 (either alphabet, padded or not) or 64 hex digits.
    pub fn from_secret(secret: &Secret) -> Result<Kek, String> {
        let text = std::str::from_utf8(secret.expose())
            .map_err(|_| "not text; write the 32-byte key as base64url or hex".to_string())?
            .trim();
        let bytes = Zeroizing::new(decode_key(text).ok_or_else(|| {
            "not a 32-byte key in base64url or hex; make one with `sealgate credentials new-kek`"
                .to_string()
        })?);
        let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "unusable AES-256 key".to_string())?;
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"sealgate credentials KEK id\0");
        ctx.update(&bytes);
        let id = format!("kek-{}", hex::encode(&ctx.finish().as_ref()[..5]));
        Ok(Kek { key, id })
    }

    /// The key version recorded with every secret it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `secret` for credential `id` under a fresh data key.
    pub fn seal(&self, id: &str, secret: &[u8]) -> Result<String, String> {
        let mut dek = Zeroizing::new(vec![0u8; 32]);
        aws_lc_rs::rand::fill(&mut dek[..]).map_err(|_| "no randomness available".to_string())?;
        let data_key = RandomizedNonceKey::new(&AES_256_GCM, &dek)
            .map_err(|_| "unusable data key".to_string())?;
        let ciphertext = encrypt(&data_key, &aad("secret", id), secret)?;
        let wrapped = encrypt(&self.key, &aad("dek", id), &dek)?;
        Ok(format!("{VERSION}.{}.{wrapped}.{ciphertext}", self.id))
    }

    /// Decrypts a sealed secret of credential `id`.
    pub fn open(&self, id: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let (kek_id, wrapped, ciphertext) = split(sealed).ok_or(OpenError::Malformed)?;
        if kek_id != self.id {
            return Err(OpenError::OtherKek(kek_id.to_string()));
        }
        let dek = decrypt(&self.key, &aad("dek", id), wrapped)?;
        let data_key =
            RandomizedNonceKey::new(&AES_256_GCM, &dek).map_err(|_| OpenError::Tampered)?;
        decrypt(&data_key, &aad("secret", id), ciphertext)
    }

    /// Re-wraps a sealed secret's data key under `new`; the ciphertext is unchanged.
    pub fn rewrap(&self, id: &str, sealed: &str, new: &Kek) -> Result<String, OpenError> {
        let (kek_id, wrapped, ciphertext) = split(sealed).ok_or(OpenError::Malformed)?;
        if kek_id != self.id {
            return Err(OpenError::OtherKek(kek_id.to_string()));
        }
        let dek = decrypt(&self.key, &aad("dek", id), wrapped)?;
        let rewrapped =
            encrypt(&new.key, &aad("dek", id), &dek).map_err(|_| OpenError::Tampered)?;
        Ok(format!("{VERSION}.{}.{rewrapped}.{ciphertext}", new.id))
    }
}

/// Why a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Malformed,
    /// Sealed under another KEK (its id).
    OtherKek(String),
    /// Authentication failed: altered, moved to another entry, or a KEK id collision.
    Tampered,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Malformed => write!(
                f,
                "the sealed secret is not in the v1.<kek>.<key>.<data> form"
            ),
            OpenError::OtherKek(id) => write!(
                f,
                "it is encrypted under {id}, not under the configured KEK"
            ),
            OpenError::Tampered => write!(
                f,
                "it does not decrypt: the file was altered or the entry was copied from another id"
            ),
        }
    }
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        let std = text.replace('-', "+").replace('_', "/");
        STANDARD
            .decode(&std)
            .or_else(|_| STANDARD_NO_PAD.decode(&std))
            .ok()?
    };
    (bytes.len() == 32).then_some(bytes)
}

fn aad(what: &str, id: &str) -> Vec<u8> {
    format!("sealgate/credentials/{VERSION}/{what}/{id}").into_bytes()
}

fn split(sealed: &str) -> Option<(&str, &str, &str)> {
    let mut parts = sealed.split('.');
    let (v, kek, wrapped, data) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (v == VERSION && parts.next().is_none()).then_some((kek, wrapped, data))
}

fn encrypt(key: &RandomizedNonceKey, aad: &[u8], plain: &[u8]) -> Result<String, String> {
    let mut buf = Zeroizing::new(plain.to_vec());
    let nonce = key
        .seal_in_place_append_tag(Aad::from(aad), &mut *buf)
        .map_err(|_| "encryption failed".to_string())?;
    let mut out = nonce.as_ref().to_vec();
    out.extend_from_slice(&buf);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

fn decrypt(
    key: &RandomizedNonceKey,
    aad: &[u8],
    text: &str,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let raw = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| OpenError::Malformed)?;
    if raw.len() < NONCE_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Malformed)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| OpenError::Tampered)?
        .len();
    buf.truncate(plain_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> Kek {
        Kek::from_secret(&Secret::new(generate().unwrap().into_bytes())).unwrap()
    }

    #[test]
    fn seals_opens_and_binds_the_id() {
        let k = kek();
        let sealed = k.seal("partner-a", b"s3cret").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(&k.open("partner-a", &sealed).unwrap()[..], b"s3cret");
        assert_eq!(k.open("partner-b", &sealed), Err(OpenError::Tampered));
        let other = kek();
        assert!(matches!(
            other.open("partner-a", &sealed),
            Err(OpenError::OtherKek(_))
        ));
        let moved = k.rewrap("partner-a", &sealed, &other).unwrap();
        assert_eq!(&other.open("partner-a", &moved).unwrap()[..], b"s3cret");
    }

    #[test]
    fn accepts_hex_and_base64_and_refuses_short_keys() {
        let hex_key = Secret::new("00".repeat(32).into_bytes());
        assert!(Kek::from_secret(&hex_key).is_ok());
        let short = Secret::new(URL_SAFE_NO_PAD.encode([1u8; 16]).into_bytes());
        assert!(Kek::from_secret(&short).is_err());
    }
}
