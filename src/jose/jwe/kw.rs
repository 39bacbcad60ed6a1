//! Key management (RFC 7518 §4): the content encryption key from the
//! encrypted key (AES key wrap, RSA-OAEP-256), from ECDH-ES key agreement
//! through the Concat KDF (§4.6.2, NIST SP 800-56A with SHA-256), or the
//! configured key itself (`dir`). The primitives are aws-lc's; only the
//! KDF's input layout is written here, as the RFC gives it.

use super::algs::{ContentAlg, JweFault, KeyAlg};
use super::keys::{Curve, Material};
use aws_lc_rs::agreement::{self, UnparsedPublicKey};
use aws_lc_rs::key_wrap::{AesKek, KeyWrap, AES_128, AES_256};
use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use zeroize::Zeroizing;

/// The ECDH-ES inputs from the header: the sender's ephemeral public key
/// (already decoded, not yet validated) and the PartyUInfo/PartyVInfo.
pub struct Agreement {
    pub epk: Vec<u8>,
    pub apu: Vec<u8>,
    pub apv: Vec<u8>,
}

/// RFC 7518 §4.6.2: Concat KDF with SHA-256 for `len` bytes of key.
pub fn concat_kdf(
    z: &[u8],
    alg_id: &str,
    apu: &[u8],
    apv: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let prefixed = |d: &[u8]| (d.len() as u32).to_be_bytes();
    let bits = ((len * 8) as u32).to_be_bytes();
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&counter.to_be_bytes());
        ctx.update(z);
        for field in [alg_id.as_bytes(), apu, apv] {
            ctx.update(&prefixed(field));
            ctx.update(field);
        }
        ctx.update(&bits);
        out.extend_from_slice(ctx.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn kek(key: &[u8]) -> Result<AesKek, JweFault> {
    let cipher = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(JweFault::KeyUnwrap),
    };
    AesKek::new(cipher, key).map_err(|_| JweFault::KeyUnwrap)
}

/// AES key unwrap (RFC 3394) of the content key.
fn unwrap(key: &[u8], wrapped: &[u8], cek_len: usize) -> Result<Zeroizing<Vec<u8>>, JweFault> {
    if wrapped.len() != cek_len + 8 {
        return Err(JweFault::KeyUnwrap);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let n = kek(key)?
        .unwrap(wrapped, &mut out)
        .map_err(|_| JweFault::KeyUnwrap)?
        .len();
    out.truncate(n);
    Ok(out)
}

fn wrap(key: &[u8], cek: &[u8]) -> Result<Vec<u8>, JweFault> {
    let mut out = vec![0u8; cek.len() + 8];
    let n = kek(key)?
        .wrap(cek, &mut out)
        .map_err(|_| JweFault::KeyUnwrap)?
        .len();
    out.truncate(n);
    Ok(out)
}

/// The shared secret with the sender's ephemeral key. aws-lc checks the point
/// is on the key's curve (invalid-curve attacks) and refuses X25519's
/// all-zero output (small-order points).
fn agree(
    private: &agreement::PrivateKey,
    curve: Curve,
    epk: &[u8],
) -> Result<Zeroizing<Vec<u8>>, JweFault> {
    let peer = UnparsedPublicKey::new(curve.agreement(), epk);
    agreement::agree(private, peer, JweFault::BadEphemeralKey, |z| {
        Ok(Zeroizing::new(z.to_vec()))
    })
}

/// The key the agreement yields: the content key (`ECDH-ES`) or the key
/// that wraps it; the KDF's AlgorithmID says which (RFC 7518 §4.6.2).
fn agreed_key(alg: KeyAlg, enc: ContentAlg, z: &[u8], a: &Agreement) -> Zeroizing<Vec<u8>> {
    match alg.wrap_len() {
        Some(len) => concat_kdf(z, alg.name(), &a.apu, &a.apv, len),
        None => concat_kdf(z, enc.name(), &a.apu, &a.apv, enc.key_len()),
    }
}

/// The content encryption key, or the fault that prevented it. Callers
/// continue with a random key on `KeyUnwrap` so that a bad wrapped key costs
/// the same as a bad tag (RFC 7516 §11.5).
pub fn content_key(
    alg: KeyAlg,
    enc: ContentAlg,
    key: &Material,
    encrypted_key: &[u8],
    agreement: Option<&Agreement>,
) -> Result<Zeroizing<Vec<u8>>, JweFault> {
    let direct = matches!(alg, KeyAlg::Dir | KeyAlg::EcdhEs);
    if direct != encrypted_key.is_empty() {
        return Err(JweFault::Malformed);
    }
    match (alg, key) {
        (KeyAlg::Dir, Material::Oct(k)) if k.len() == enc.key_len() => Ok(k.clone()),
        (KeyAlg::A128Kw | KeyAlg::A256Kw, Material::Oct(k)) if Some(k.len()) == alg.wrap_len() => {
            unwrap(k, encrypted_key, enc.key_len())
        }
        (KeyAlg::RsaOaep256, Material::Rsa(k)) => {
            let k = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(k.clone())
                .map_err(|_| JweFault::KeyUnwrap)?;
            let mut out = Zeroizing::new(vec![0u8; k.min_output_size()]);
            let n = k
                .decrypt(&OAEP_SHA256_MGF1SHA256, encrypted_key, &mut out, None)
                .map_err(|_| JweFault::KeyUnwrap)?
                .len();
            out.truncate(n);
            match out.len() == enc.key_len() {
                true => Ok(out),
                false => Err(JweFault::KeyUnwrap),
            }
        }
        (_, Material::Ec(private, curve)) if alg.ecdh() => {
            let a = agreement.ok_or(JweFault::Malformed)?;
            let z = agree(private, *curve, &a.epk)?;
            let derived = agreed_key(alg, enc, &z, a);
            match alg {
                KeyAlg::EcdhEs => Ok(derived),
                _ => unwrap(&derived, encrypted_key, enc.key_len()),
            }
        }
        _ => Err(JweFault::UnknownKey),
    }
}

/// What the sender side produces: the content key, the encrypted key, and
/// (ECDH-ES) the ephemeral public key to put in the header.
pub struct Wrapped {
    pub cek: Zeroizing<Vec<u8>>,
    pub encrypted_key: Vec<u8>,
    pub epk: Option<Vec<u8>>,
}

fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>, JweFault> {
    let mut k = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(&mut k).map_err(|_| JweFault::KeyUnwrap)?;
    Ok(k)
}

/// A random content key, for substituting a key that did not unwrap; none
/// (fail closed) if the system has no randomness.
pub fn substitute(enc: ContentAlg) -> Option<Zeroizing<Vec<u8>>> {
    random_key(enc.key_len()).ok()
}

/// The sender's side of `content_key`: encrypts to the public half of `key`.
pub fn wrap_for(alg: KeyAlg, enc: ContentAlg, key: &Material) -> Result<Wrapped, JweFault> {
    match (alg, key) {
        (KeyAlg::Dir, Material::Oct(k)) if k.len() == enc.key_len() => Ok(Wrapped {
            cek: k.clone(),
            encrypted_key: Vec::new(),
            epk: None,
        }),
        (KeyAlg::A128Kw | KeyAlg::A256Kw, Material::Oct(k)) if Some(k.len()) == alg.wrap_len() => {
            let cek = random_key(enc.key_len())?;
            let encrypted_key = wrap(k, &cek)?;
            Ok(Wrapped {
                cek,
                encrypted_key,
                epk: None,
            })
        }
        (KeyAlg::RsaOaep256, Material::Rsa(k)) => {
            let cek = random_key(enc.key_len())?;
            let public = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(k.public_key())
                .map_err(|_| JweFault::KeyUnwrap)?;
            let mut out = vec![0u8; public.ciphertext_size()];
            let n = public
                .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut out, None)
                .map_err(|_| JweFault::KeyUnwrap)?
                .len();
            out.truncate(n);
            Ok(Wrapped {
                cek,
                encrypted_key: out,
                epk: None,
            })
        }
        (_, Material::Ec(private, curve)) if alg.ecdh() => {
            let recipient = private
                .compute_public_key()
                .map_err(|_| JweFault::KeyUnwrap)?;
            let ephemeral = agreement::PrivateKey::generate(curve.agreement())
                .map_err(|_| JweFault::KeyUnwrap)?;
            let epk = ephemeral
                .compute_public_key()
                .map_err(|_| JweFault::KeyUnwrap)?
                .as_ref()
                .to_vec();
            let z = agree(&ephemeral, *curve, recipient.as_ref())?;
            let a = Agreement {
                epk: epk.clone(),
                apu: Vec::new(),
                apv: Vec::new(),
            };
            let derived = agreed_key(alg, enc, &z, &a);
            let (cek, encrypted_key) = match alg {
                KeyAlg::EcdhEs => (derived, Vec::new()),
                _ => {
                    let cek = random_key(enc.key_len())?;
                    let wrapped = wrap(&derived, &cek)?;
                    (cek, wrapped)
                }
            };
            Ok(Wrapped {
                cek,
                encrypted_key,
                epk: Some(epk),
            })
        }
        _ => Err(JweFault::UnknownKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// RFC 7518 Appendix C: the ECDH-ES key agreement example (P-256,
    /// A128GCM, apu "Alice", apv "Bob") derives "VqqN6vgjbSBcIijNcacQGg".
    #[test]
    fn concat_kdf_matches_rfc7518_appendix_c() {
        let b64 = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let d = b64("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
        let epk_x = b64("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0");
        let epk_y = b64("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps");
        let private = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &d).unwrap();
        let mut point = vec![4u8];
        point.extend_from_slice(&epk_x);
        point.extend_from_slice(&epk_y);
        let z = agree(&private, Curve::P256, &point).unwrap();
        let k = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*k),
            "VqqN6vgjbSBcIijNcacQGg"
        );
    }

    /// RFC 7516 Appendix A.3: A128KW unwraps the example's content key.
    #[test]
    fn aes_key_wrap_matches_rfc7516_appendix_a3() {
        let b64 = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let kek = Material::Oct(Zeroizing::new(b64("GawgguFyGrWKav7AX4VKUg")));
        let wrapped = b64("6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ");
        let cek = content_key(
            KeyAlg::A128Kw,
            ContentAlg::A128CbcHs256,
            &kek,
            &wrapped,
            None,
        )
        .unwrap();
        assert_eq!(cek[..4], [4, 211, 31, 197]);
        let mut bad = wrapped.clone();
        bad[3] ^= 1;
        let r = content_key(KeyAlg::A128Kw, ContentAlg::A128CbcHs256, &kek, &bad, None);
        assert_eq!(r.err(), Some(JweFault::KeyUnwrap));
    }

    #[test]
    fn points_off_the_curve_are_refused() {
        let private = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
        let mut point = vec![4u8];
        point.extend_from_slice(&[1u8; 64]);
        assert_eq!(
            agree(&private, Curve::P256, &point).err(),
            Some(JweFault::BadEphemeralKey)
        );
        let x = agreement::PrivateKey::generate(&agreement::X25519).unwrap();
        // A small-order point: the shared secret would be all zeros.
        assert_eq!(
            agree(&x, Curve::X25519, &[0u8; 32]).err(),
            Some(JweFault::BadEphemeralKey)
        );
    }
}
