//! Content encryption (RFC 7518 §5): AES-GCM through aws-lc's AEAD, and
//! AES_CBC_HMAC_SHA2 (§5.2) composed exactly as the RFC says from aws-lc's
//! AES-CBC and HMAC: MAC over AAD || IV || ciphertext || AL, first half of
//! the HMAC output as the tag, checked in constant time before decrypting.

use super::algs::ContentAlg;
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey,
};
use aws_lc_rs::{constant_time, hmac};

/// A failed open; the caller reports one fault for every cause.
#[derive(Debug)]
pub struct Failed;

/// Ciphertext and tag of sealed content.
pub struct Sealed {
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub tag: Vec<u8>,
}

fn gcm(enc: ContentAlg, cek: &[u8]) -> Result<LessSafeKey, Failed> {
    let alg = match enc {
        ContentAlg::A128Gcm => &aead::AES_128_GCM,
        ContentAlg::A256Gcm => &aead::AES_256_GCM,
        _ => return Err(Failed),
    };
    UnboundKey::new(alg, cek)
        .map(LessSafeKey::new)
        .map_err(|_| Failed)
}

/// The CBC-HMAC halves: MAC key, encryption key, HMAC algorithm.
fn cbc_parts(enc: ContentAlg, cek: &[u8]) -> Result<(hmac::Key, UnboundCipherKey), Failed> {
    let (mac, aes) = match enc {
        ContentAlg::A128CbcHs256 => (hmac::HMAC_SHA256, &aws_lc_rs::cipher::AES_128),
        ContentAlg::A256CbcHs512 => (hmac::HMAC_SHA512, &aws_lc_rs::cipher::AES_256),
        _ => return Err(Failed),
    };
    if cek.len() != enc.key_len() {
        return Err(Failed);
    }
    let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
    let cipher = UnboundCipherKey::new(aes, enc_key).map_err(|_| Failed)?;
    Ok((hmac::Key::new(mac, mac_key), cipher))
}

/// RFC 7518 §5.2.2.1 step 5: the first half of HMAC(AAD || IV || C || AL).
fn cbc_tag(key: &hmac::Key, enc: ContentAlg, aad: &[u8], iv: &[u8], ct: &[u8]) -> Vec<u8> {
    let al = (aad.len() as u64).saturating_mul(8).to_be_bytes();
    let mut ctx = hmac::Context::with_key(key);
    for part in [aad, iv, ct, &al[..]] {
        ctx.update(part);
    }
    let mut tag = ctx.sign().as_ref().to_vec();
    tag.truncate(enc.tag_len());
    tag
}

/// Opens `ciphertext` with `cek`; `aad` is the protected header as sent.
pub fn open(
    enc: ContentAlg,
    cek: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, Failed> {
    if iv.len() != enc.iv_len() || tag.len() != enc.tag_len() || cek.len() != enc.key_len() {
        return Err(Failed);
    }
    match enc {
        ContentAlg::A128Gcm | ContentAlg::A256Gcm => {
            let key = gcm(enc, cek)?;
            let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Failed)?;
            let mut buf = Vec::with_capacity(ciphertext.len() + tag.len());
            buf.extend_from_slice(ciphertext);
            buf.extend_from_slice(tag);
            let n = key
                .open_in_place(nonce, Aad::from(aad), &mut buf)
                .map_err(|_| Failed)?
                .len();
            buf.truncate(n);
            Ok(buf)
        }
        ContentAlg::A128CbcHs256 | ContentAlg::A256CbcHs512 => {
            let (mac, cipher) = cbc_parts(enc, cek)?;
            let expected = cbc_tag(&mac, enc, aad, iv, ciphertext);
            constant_time::verify_slices_are_equal(&expected, tag).map_err(|_| Failed)?;
            let key = PaddedBlockDecryptingKey::cbc_pkcs7(cipher).map_err(|_| Failed)?;
            let iv: [u8; 16] = iv.try_into().map_err(|_| Failed)?;
            let mut buf = ciphertext.to_vec();
            let n = key
                .decrypt(&mut buf, DecryptionContext::Iv128(iv.into()))
                .map_err(|_| Failed)?
                .len();
            buf.truncate(n);
            Ok(buf)
        }
    }
}

/// Seals `plaintext` under `cek` with a fresh random IV.
pub fn seal(enc: ContentAlg, cek: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed, Failed> {
    let mut iv = vec![0u8; enc.iv_len()];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| Failed)?;
    let mut buf = plaintext.to_vec();
    match enc {
        ContentAlg::A128Gcm | ContentAlg::A256Gcm => {
            let key = gcm(enc, cek)?;
            let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| Failed)?;
            let tag = key
                .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf)
                .map_err(|_| Failed)?;
            Ok(Sealed {
                iv,
                ciphertext: buf,
                tag: tag.as_ref().to_vec(),
            })
        }
        ContentAlg::A128CbcHs256 | ContentAlg::A256CbcHs512 => {
            let (mac, cipher) = cbc_parts(enc, cek)?;
            let key = PaddedBlockEncryptingKey::cbc_pkcs7(cipher).map_err(|_| Failed)?;
            let iv16: [u8; 16] = iv.as_slice().try_into().map_err(|_| Failed)?;
            key.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(iv16.into()))
                .map_err(|_| Failed)?;
            let tag = cbc_tag(&mac, enc, aad, &iv, &buf);
            Ok(Sealed {
                iv,
                ciphertext: buf,
                tag,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7516 Appendix B.7: A128CBC-HS256 computed with the key, IV, AAD
    /// and plaintext of Appendix A.3 (the tag B.7 gives).
    #[test]
    fn cbc_hmac_matches_rfc7516_appendix_b() {
        let cek: [u8; 32] = [
            4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124,
            212, 45, 111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
        ];
        let iv: [u8; 16] = [
            3, 22, 60, 12, 43, 67, 104, 105, 108, 108, 105, 99, 111, 116, 104, 101,
        ];
        let aad = b"eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0";
        let plaintext = b"Live long and prosper.";
        let ciphertext: [u8; 32] = [
            40, 57, 83, 181, 119, 33, 133, 148, 198, 185, 243, 24, 152, 230, 6, 75, 129, 223, 127,
            19, 210, 82, 183, 230, 168, 33, 215, 104, 143, 112, 56, 102,
        ];
        let tag: [u8; 16] = [
            83, 73, 191, 98, 104, 205, 211, 128, 201, 189, 199, 133, 32, 38, 194, 85,
        ];
        let opened = open(ContentAlg::A128CbcHs256, &cek, aad, &iv, &ciphertext, &tag).unwrap();
        assert_eq!(opened, plaintext);
        let mut bad = tag;
        bad[0] ^= 1;
        assert!(open(ContentAlg::A128CbcHs256, &cek, aad, &iv, &ciphertext, &bad).is_err());
    }

    #[test]
    fn every_content_algorithm_round_trips_and_detects_tampering() {
        for enc in ContentAlg::ALL {
            let cek = vec![7u8; enc.key_len()];
            let s = seal(enc, &cek, b"aad", b"hello").unwrap();
            assert_eq!(
                open(enc, &cek, b"aad", &s.iv, &s.ciphertext, &s.tag).unwrap(),
                b"hello"
            );
            assert!(open(enc, &cek, b"aae", &s.iv, &s.ciphertext, &s.tag).is_err());
            let mut ct = s.ciphertext.clone();
            ct[0] ^= 1;
            assert!(open(enc, &cek, b"aad", &s.iv, &ct, &s.tag).is_err());
        }
    }
}
