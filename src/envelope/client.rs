//! The sender side of RFC 9458, for `sealgate ohttp request` and tests: key
//! configuration lists (RFC 9540 §3) and encapsulation to a post-quantum key
//! (ML-KEM-768 or X-Wing), which no client crate offers; requests to DH keys
//! go through the independent `ohttp` crate.

use super::crypto::{KDF_HKDF_SHA256, KEM_MLKEM768, KEM_P256, KEM_X25519, KEM_XWING};
use super::schedule::Context;
use super::seal::ResponseSealer;
use super::suites::{enc_len, export_len, request_header, request_info, RESPONSE_LABEL};

/// One key configuration (RFC 9458 §3.1) with its HKDF-SHA256 AEADs.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub id: u8,
    pub kem: u16,
    pub pk: Vec<u8>,
    pub aeads: Vec<u16>,
}

fn public_len(kem: u16) -> Option<usize> {
    match kem {
        KEM_X25519 => Some(32),
        KEM_P256 => Some(65),
        KEM_MLKEM768 | KEM_XWING => super::pq::lens(kem).map(|(_, npk, _)| npk),
        _ => None,
    }
}

fn one(c: &[u8]) -> Option<KeyConfig> {
    let (&id, rest) = c.split_first()?;
    let kem = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    let npk = public_len(kem)?;
    let pk = rest.get(2..2 + npk)?.to_vec();
    let suites = rest.get(2 + npk..)?;
    let n = usize::from(u16::from_be_bytes([*suites.first()?, *suites.get(1)?]));
    let list = suites.get(2..2 + n).filter(|l| l.len() % 4 == 0)?;
    let aeads = list
        .chunks(4)
        .filter(|s| u16::from_be_bytes([s[0], s[1]]) == KDF_HKDF_SHA256)
        .map(|s| u16::from_be_bytes([s[2], s[3]]))
        .filter(|a| (1..=3).contains(a))
        .collect::<Vec<_>>();
    (!aeads.is_empty()).then_some(KeyConfig { id, kem, pk, aeads })
}

/// The configurations of an `application/ohttp-keys` list this client can
/// use; unknown KEMs and malformed entries are skipped.
pub fn parse_list(list: &[u8]) -> Vec<KeyConfig> {
    let mut out = Vec::new();
    let mut rest = list;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let Some(c) = rest.get(2..2 + n) else { break };
        out.extend(one(c));
        rest = &rest[2 + n..];
    }
    out
}

/// Seals `request` to a post-quantum configuration with its first AEAD:
/// the envelope, and what opens the response.
pub fn encapsulate(c: &KeyConfig, request: &[u8]) -> Result<(Vec<u8>, ResponseSealer), String> {
    if !matches!(c.kem, KEM_MLKEM768 | KEM_XWING) {
        return Err("not a post-quantum key configuration".into());
    }
    let aead = *c.aeads.first().ok_or("no AEAD")?;
    let header = request_header(c.id, c.kem, aead);
    let info = request_info(&header);
    let (ss, enc) = super::pq::encap(c.kem, &c.pk)?;
    debug_assert_eq!(enc.len(), enc_len(c.kem));
    let fail = |e: super::suites::EnvelopeError| e.reason().to_string();
    let ctx = Context::new(c.kem, aead, &ss, &info).map_err(fail)?;
    let ct = ctx.seal(request).map_err(fail)?;
    let mut secret = vec![0u8; export_len(aead)];
    ctx.export(RESPONSE_LABEL, &mut secret).map_err(fail)?;
    let mut envelope = header.to_vec();
    envelope.extend_from_slice(&enc);
    envelope.extend_from_slice(&ct);
    Ok((envelope, ResponseSealer::new(aead, secret, enc)))
}
