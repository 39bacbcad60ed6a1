//! JSON Web Encryption, compact serialization (RFC 7516) with the RFC 7518
//! algorithms in `algs`. `decrypt` opens a token with a key the
//! configuration holds (chosen by `kid`, never by a key the token carries),
//! refusing untrusted or critical headers and compression; `encrypt` makes
//! one (the token endpoint's encrypted access tokens). Header checks come
//! before any key operation; a content key that does not unwrap is replaced
//! by a random one so that it fails at the tag like any other forgery.

pub mod algs;
pub mod content;
pub mod keys;
pub mod kw;

use algs::{ContentAlg, JweFault, KeyAlg};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keys::{Curve, DecryptionKey, Material};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The largest protected header accepted (base64url characters).
const MAX_HEADER: usize = 4096;
/// The largest `apu`/`apv` accepted (bytes).
const MAX_PARTY_INFO: usize = 256;

/// An authenticator's decryption keys and allow-lists.
#[derive(Debug)]
pub struct Decryptor {
    pub keys: Vec<DecryptionKey>,
    pub algs: Vec<KeyAlg>,
    pub encs: Vec<ContentAlg>,
}

/// What an opened token said about itself. `Debug` leaves the plaintext out
/// (a nested JWS is itself a bearer token).
pub struct Opened {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub alg: KeyAlg,
    pub enc: ContentAlg,
    /// The configured key that opened it.
    pub kid: String,
    /// `cty: JWT`: the plaintext is a nested JWS (RFC 7519 §5.2).
    pub nested: bool,
    pub header: Map<String, Value>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Opened({} + {}, key {}, {} bytes)",
            self.alg.name(),
            self.enc.name(),
            self.kid,
            self.plaintext.len()
        )
    }
}

/// Compact JWE: exactly five dot-separated parts.
pub fn jwe_shaped(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 4
}

fn unb64(part: &str) -> Result<Vec<u8>, JweFault> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JweFault::Malformed)
}

/// The protected header, parsed and checked before any key is touched.
pub fn header(h64: &str) -> Result<Map<String, Value>, JweFault> {
    if h64.len() > MAX_HEADER {
        return Err(JweFault::Malformed);
    }
    let bytes = unb64(h64)?;
    let header = serde_json::from_slice::<crate::jose::UniqueObject>(&bytes)
        .map_err(|_| JweFault::Malformed)?
        .0;
    for untrusted in ["jku", "jwk", "x5u", "x5c", "crit"] {
        if header.contains_key(untrusted) {
            return Err(JweFault::UntrustedHeader);
        }
    }
    if header.contains_key("zip") {
        return Err(JweFault::Compressed);
    }
    Ok(header)
}

fn algorithms(h: &Map<String, Value>, d: &Decryptor) -> Result<(KeyAlg, ContentAlg), JweFault> {
    let name = |k: &str| h.get(k).and_then(Value::as_str).ok_or(JweFault::Malformed);
    let alg = KeyAlg::parse(name("alg")?)
        .filter(|a| d.algs.contains(a))
        .ok_or(JweFault::AlgNotAllowed)?;
    let enc = ContentAlg::parse(name("enc")?)
        .filter(|e| d.encs.contains(e))
        .ok_or(JweFault::EncNotAllowed)?;
    Ok((alg, enc))
}

impl Decryptor {
    /// The configured keys that may open a token with this header: the one
    /// with its `kid`, or without one each key that can do `alg` with `enc`
    /// (on the ephemeral key's curve, for ECDH-ES), in configuration order.
    fn candidates<'a>(
        &'a self,
        h: &'a Map<String, Value>,
        alg: KeyAlg,
        enc: ContentAlg,
    ) -> Result<impl Iterator<Item = &'a DecryptionKey> + 'a, JweFault> {
        let kid = match h.get("kid") {
            None => None,
            Some(Value::String(k)) if k.len() <= 256 => Some(k.as_str()),
            Some(_) => return Err(JweFault::Malformed),
        };
        let crv = h
            .get("epk")
            .and_then(|e| e.get("crv"))
            .and_then(Value::as_str);
        Ok(self.keys.iter().filter(move |k| {
            let on_curve = match (&k.material, kid) {
                (Material::Ec(_, c), None) => crv == Some(c.name()),
                _ => true,
            };
            kid.is_none_or(|kid| k.kid == kid)
                && on_curve
                && k.material.fits(alg, enc)
                && k.alg.is_none_or(|a| a == alg)
        }))
    }

    /// Whether some configured key may open `token` (by its header alone):
    /// routes with several decrypting authenticators pick by this. A header
    /// that will be refused counts as yes, so the refusal is reported.
    pub fn may_open(&self, token: &str) -> bool {
        let h64 = token.split('.').next().unwrap_or_default();
        let Ok(h) = header(h64) else {
            return true;
        };
        match algorithms(&h, self) {
            Ok((alg, enc)) => self
                .candidates(&h, alg, enc)
                .is_ok_and(|mut c| c.next().is_some()),
            Err(_) => true,
        }
    }

    /// Opens `token`; the plaintext is at most `max_plaintext` bytes.
    pub fn decrypt(&self, token: &str, max_plaintext: usize) -> Result<Opened, JweFault> {
        let parts: Vec<&str> = token.split('.').collect();
        let [h64, ek, iv, ct, tag] = parts[..] else {
            return Err(JweFault::Malformed);
        };
        let header = header(h64)?;
        let (alg, enc) = algorithms(&header, self)?;
        let (ek, iv, ct, tag) = (unb64(ek)?, unb64(iv)?, unb64(ct)?, unb64(tag)?);
        if ct.len() > max_plaintext.saturating_add(16) {
            return Err(JweFault::TooLarge);
        }
        let parts = Parts {
            h64,
            ek: &ek,
            iv: &iv,
            ct: &ct,
            tag: &tag,
        };
        let mut fault = JweFault::UnknownKey;
        for key in self.candidates(&header, alg, enc)? {
            match open_with(key, alg, enc, &header, &parts) {
                Ok(plaintext) if plaintext.len() > max_plaintext => return Err(JweFault::TooLarge),
                Ok(plaintext) => {
                    let nested = header.get("cty").and_then(Value::as_str).is_some_and(|c| {
                        c.eq_ignore_ascii_case("JWT") || c.eq_ignore_ascii_case("application/jwt")
                    });
                    let kid = key.kid.clone();
                    return Ok(Opened {
                        plaintext,
                        alg,
                        enc,
                        kid,
                        nested,
                        header: header.clone(),
                    });
                }
                Err(f) => fault = f,
            }
        }
        Err(fault)
    }
}

/// The decoded parts of a compact JWE after its header.
struct Parts<'a> {
    h64: &'a str,
    ek: &'a [u8],
    iv: &'a [u8],
    ct: &'a [u8],
    tag: &'a [u8],
}

/// One key's attempt: the content key, then the content.
fn open_with(
    key: &DecryptionKey,
    alg: KeyAlg,
    enc: ContentAlg,
    header: &Map<String, Value>,
    p: &Parts<'_>,
) -> Result<Zeroizing<Vec<u8>>, JweFault> {
    let agreement = match alg.ecdh() {
        true => Some(agreement_inputs(header, &key.material)?),
        false => None,
    };
    let (cek, unwrap_fault) =
        match kw::content_key(alg, enc, &key.material, p.ek, agreement.as_ref()) {
            Ok(cek) => (cek, None),
            Err(JweFault::KeyUnwrap) => match kw::substitute(enc) {
                Some(random) => (random, Some(JweFault::KeyUnwrap)),
                None => return Err(JweFault::KeyUnwrap),
            },
            Err(f) => return Err(f),
        };
    content::open(enc, &cek, p.h64.as_bytes(), p.iv, p.ct, p.tag)
        .map(Zeroizing::new)
        .map_err(|_| unwrap_fault.unwrap_or(JweFault::Decryption))
}

/// The ephemeral public key (as aws-lc takes it) and party infos. The
/// `epk` must be a public key on the configured key's own curve.
fn agreement_inputs(h: &Map<String, Value>, key: &Material) -> Result<kw::Agreement, JweFault> {
    let Material::Ec(_, curve) = key else {
        return Err(JweFault::UnknownKey);
    };
    let epk = h
        .get("epk")
        .and_then(Value::as_object)
        .ok_or(JweFault::Malformed)?;
    let coord = |m: &str| {
        epk.get(m)
            .and_then(Value::as_str)
            .map(unb64)
            .transpose()?
            .filter(|c| c.len() == curve.coordinate_len())
            .ok_or(JweFault::BadEphemeralKey)
    };
    let (kty, crv) = (
        epk.get("kty").and_then(Value::as_str),
        epk.get("crv").and_then(Value::as_str),
    );
    let expected_kty = if *curve == Curve::X25519 { "OKP" } else { "EC" };
    if kty != Some(expected_kty) || crv != Some(curve.name()) || epk.contains_key("d") {
        return Err(JweFault::BadEphemeralKey);
    }
    let point = match curve {
        Curve::X25519 => coord("x")?,
        _ => [&[4u8][..], &coord("x")?, &coord("y")?].concat(),
    };
    let party = |m: &str| match h.get(m) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => unb64(s)
            .ok()
            .filter(|b| b.len() <= MAX_PARTY_INFO)
            .ok_or(JweFault::Malformed),
        Some(_) => Err(JweFault::Malformed),
    };
    Ok(kw::Agreement {
        epk: point,
        apu: party("apu")?,
        apv: party("apv")?,
    })
}

/// A compact JWE of `plaintext` to `key` (the sender side: public half only
/// for asymmetric keys). `cty` is `JWT` for a nested token.
pub fn encrypt(
    plaintext: &[u8],
    key: &DecryptionKey,
    alg: KeyAlg,
    enc: ContentAlg,
    cty: Option<&str>,
) -> Result<String, String> {
    if !key.material.fits(alg, enc) {
        return Err(format!(
            "key {} cannot do {} with {}",
            key.kid,
            alg.name(),
            enc.name()
        ));
    }
    let w = kw::wrap_for(alg, enc, &key.material).map_err(|f| f.reason().to_string())?;
    let mut header = serde_json::json!({"alg": alg.name(), "enc": enc.name(), "kid": key.kid});
    if let Some(cty) = cty {
        header["cty"] = Value::from(cty);
    }
    if let (Some(epk), Material::Ec(_, curve)) = (&w.epk, &key.material) {
        header["epk"] = keys::public_jwk_of(*curve, epk).ok_or("ephemeral key encoding")?;
    }
    let h64 = URL_SAFE_NO_PAD.encode(header.to_string());
    let sealed = content::seal(enc, &w.cek, h64.as_bytes(), plaintext)
        .map_err(|_| "content encryption failed".to_string())?;
    let b = |s: &[u8]| URL_SAFE_NO_PAD.encode(s);
    Ok(format!(
        "{h64}.{}.{}.{}.{}",
        b(&w.encrypted_key),
        b(&sealed.iv),
        b(&sealed.ciphertext),
        b(&sealed.tag)
    ))
}

#[cfg(test)]
mod tests;
