//! The API key format: `PREFIX` + base64url(32 random bytes) + a 6-character
//! checksum. The prefix lets secret scanners recognise a leaked key; the
//! checksum lets a typo fail without a store lookup. What the store knows of a
//! key is its fingerprint: an id (the first 8 bytes of SHA-256, hex) and the
//! whole hash.

use crate::authn::failure::AuthFailure;
use base64::Engine;

pub(super) const SECRET_CHARS: usize = 43;
pub(super) const CHECKSUM_CHARS: usize = 6;
pub(super) const B64: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn checksum(prefix: &str, secret: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(prefix.as_bytes());
    ctx.update(secret.as_bytes());
    let d = ctx.finish();
    B64.encode(&d.as_ref()[..4])
}

/// `(id, hex SHA-256)` of a key: what the store knows of it.
pub fn fingerprint(key: &str) -> (String, String) {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    (hex::encode(&d.as_ref()[..8]), hex::encode(d.as_ref()))
}

/// A new key with `prefix`: (key, id, hash). The key is shown once and never stored.
pub fn generate(prefix: &str) -> Result<(String, String, String), String> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| "no randomness available".to_string())?;
    let secret = B64.encode(raw);
    let key = format!("{prefix}{secret}{}", checksum(prefix, &secret));
    let (id, hash) = fingerprint(&key);
    Ok((key, id, hash))
}

/// Checks a presented key's shape and checksum: no store lookup for a typo.
pub fn check_shape(prefix: &str, key: &str) -> Result<(), AuthFailure> {
    let body = key.strip_prefix(prefix).ok_or(AuthFailure::Malformed)?;
    if body.len() != SECRET_CHARS + CHECKSUM_CHARS
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AuthFailure::Malformed);
    }
    let (secret, sum) = body.split_at(SECRET_CHARS);
    let want = checksum(prefix, secret);
    if aws_lc_rs::constant_time::verify_slices_are_equal(want.as_bytes(), sum.as_bytes()).is_err() {
        return Err(AuthFailure::BadChecksum);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_prefix_and_checksum() {
        let (key, id, hash) = generate("sgk_").unwrap();
        assert!(key.starts_with("sgk_"));
        assert_eq!(key.len(), 4 + SECRET_CHARS + CHECKSUM_CHARS);
        assert_eq!(check_shape("sgk_", &key), Ok(()));
        assert_eq!(fingerprint(&key), (id.clone(), hash.clone()));
        assert_eq!(&hash[..16], id);
        // One changed character: the checksum catches it.
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(check_shape("sgk_", &typo), Err(AuthFailure::BadChecksum));
        assert_eq!(check_shape("other_", &key), Err(AuthFailure::Malformed));
        assert_eq!(
            check_shape("sgk_", "sgk_short"),
            Err(AuthFailure::Malformed)
        );
        assert_ne!(generate("sgk_").unwrap().0, key);
    }
}
