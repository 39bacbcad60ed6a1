//! RFC 9458 §4.4: sealing the response to one opened request (and, for the
//! CLI and tests, opening it), with HKDF and the AEAD of the binary's one
//! provider (aws-lc-rs).

use super::suites::{aead_algorithm, aead_lens, EnvelopeError, Len};
use aws_lc_rs::{aead, hkdf};

/// Seals the response to one opened request (RFC 9458 §4.4).
pub struct ResponseSealer {
    aead: u16,
    secret: Vec<u8>,
    enc: Vec<u8>,
}

impl ResponseSealer {
    /// For the request just opened (or sent): its AEAD, HPKE exported secret and encapsulated key.
    pub(super) fn new(aead: u16, secret: Vec<u8>, enc: Vec<u8>) -> ResponseSealer {
        ResponseSealer { aead, secret, enc }
    }

    /// The exported secret, for tests that check it against RFC vectors.
    #[cfg(test)]
    pub(super) fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub fn seal(&self, response: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (n_k, n_n) = aead_lens(self.aead);
        let mut nonce = vec![0u8; n_k.max(n_n)];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| EnvelopeError::DecryptFailed)?;
        self.seal_with_nonce(response, &nonce)
    }

    /// The response key and nonce for `response_nonce`.
    fn key(&self, response_nonce: &[u8]) -> Result<(aead::LessSafeKey, [u8; 12]), EnvelopeError> {
        let (n_k, n_n) = aead_lens(self.aead);
        let fail = |_| EnvelopeError::DecryptFailed;
        let mut salt = self.enc.clone();
        salt.extend_from_slice(response_nonce);
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&self.secret);
        let mut key = vec![0u8; n_k];
        prk.expand(&[b"key"], Len(n_k))
            .map_err(fail)?
            .fill(&mut key)
            .map_err(fail)?;
        let mut nonce = [0u8; 12];
        prk.expand(&[b"nonce"], Len(n_n))
            .map_err(fail)?
            .fill(&mut nonce)
            .map_err(fail)?;
        let alg = aead_algorithm(self.aead);
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).map_err(fail)?);
        Ok((key, nonce))
    }

    /// Sealing with a given response nonce (tests reproduce the RFC's example).
    pub fn seal_with_nonce(
        &self,
        response: &[u8],
        response_nonce: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let (key, nonce) = self.key(response_nonce)?;
        let mut out = response.to_vec();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::empty(),
            &mut out,
        )
        .map_err(|_| EnvelopeError::DecryptFailed)?;
        let mut sealed = response_nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    /// The client's side: opens a sealed response to the request it sent.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (n_k, n_n) = aead_lens(self.aead);
        if sealed.len() < n_k.max(n_n) + 16 {
            return Err(EnvelopeError::Malformed);
        }
        let (response_nonce, ct) = sealed.split_at(n_k.max(n_n));
        let (key, nonce) = self.key(response_nonce)?;
        let mut buf = ct.to_vec();
        let n = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::empty(),
                &mut buf,
            )
            .map_err(|_| EnvelopeError::DecryptFailed)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}
