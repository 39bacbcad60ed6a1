//! Post-quantum HPKE KEMs for OHTTP keys (draft-ietf-hpke-pq): ML-KEM-768
//! (KEM 0x0041) and X-Wing, i.e. MLKEM768-X25519 (KEM 0x647a,
//! draft-connolly-cfrg-xwing-kem). Private keys are seeds, as the drafts
//! serialize them: 64 bytes (d || z) for ML-KEM-768, 32 for X-Wing (expanded
//! with SHAKE256 into the ML-KEM seed and the X25519 scalar).
//!
//! The `ml-kem` crate expands a seed once, at load; aws-lc-rs (the binary's
//! provider) decapsulates with the expanded FIPS 203 key, about five times
//! faster, and does X25519 and X-Wing's SHA3-256 combiner. The sender side
//! (the CLI and tests) encapsulates with `ml-kem`, fed from aws-lc's RNG.

use super::suites::{EnvelopeError, KEM_MLKEM768, KEM_XWING};
use aws_lc_rs::{agreement, digest, kem};
use ml_kem::{ml_kem_768, KeyExport};
use shake::{ExtendableOutput, Shake256, Update, XofReader};
use zeroize::Zeroizing;

const MLKEM768_PK: usize = 1184;
const MLKEM768_CT: usize = 1088;
/// X-Wing's combiner label, `\.//^\`.
const XWING_LABEL: &[u8; 6] = br"\.//^\";

/// (Nsk, Npk, Nenc) of a post-quantum KEM.
pub fn lens(kem: u16) -> Option<(usize, usize, usize)> {
    match kem {
        KEM_MLKEM768 => Some((64, MLKEM768_PK, MLKEM768_CT)),
        KEM_XWING => Some((32, MLKEM768_PK + 32, MLKEM768_CT + 32)),
        _ => None,
    }
}

enum Private {
    MlKem768(kem::DecapsulationKey),
    XWing {
        m: kem::DecapsulationKey,
        x: agreement::PrivateKey,
        pk_x: [u8; 32],
    },
}

/// A post-quantum gateway key, expanded for decapsulation, with its public key.
pub struct Recipient {
    sk: Private,
    pk: Vec<u8>,
}

/// ML-KEM-768 from its seed: (aws-lc decapsulation key, encapsulation key).
fn mlkem768_from_seed(seed: &[u8; 64]) -> Result<(kem::DecapsulationKey, Vec<u8>), String> {
    // The expanded encoding is deprecated as a storage format; here it only
    // carries the key from one library to the other, in memory.
    #[allow(deprecated)]
    use ml_kem::ExpandedKeyEncoding;
    let dk = ml_kem_768::DecapsulationKey::from_seed((*seed).into());
    let pk = dk.encapsulation_key().to_bytes().to_vec();
    #[allow(deprecated)]
    let expanded = Zeroizing::new(dk.to_expanded_bytes().to_vec());
    let lc = kem::DecapsulationKey::new(&kem::ML_KEM_768, &expanded)
        .map_err(|_| "aws-lc refused the expanded ML-KEM-768 key".to_string())?;
    Ok((lc, pk))
}

fn mlkem768_decap(dk: &kem::DecapsulationKey, ct: &[u8]) -> Result<[u8; 32], EnvelopeError> {
    let ss = dk
        .decapsulate(kem::Ciphertext::from(ct))
        .map_err(|_| EnvelopeError::DecryptFailed)?;
    ss.as_ref()
        .try_into()
        .map_err(|_| EnvelopeError::DecryptFailed)
}

fn shake256(parts: &[&[u8]], out: &mut [u8]) {
    let mut h = Shake256::default();
    for p in parts {
        h.update(p);
    }
    h.finalize_xof().read(out);
}

/// aws-lc refuses an all-zero result (a small-order peer point).
fn x25519(private: &agreement::PrivateKey, peer: &[u8]) -> Result<[u8; 32], EnvelopeError> {
    agreement::agree(
        private,
        agreement::UnparsedPublicKey::new(&agreement::X25519, peer),
        EnvelopeError::DecryptFailed,
        |dh| dh.try_into().map_err(|_| EnvelopeError::DecryptFailed),
    )
}

/// X-Wing's combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
fn xwing_combiner(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA3_256);
    for part in [ss_m, ss_x, ct_x, pk_x, XWING_LABEL] {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl Recipient {
    /// From a serialized private key (a seed: 64 bytes for ML-KEM-768, 32 for X-Wing).
    pub fn from_private(kem: u16, sk: &[u8]) -> Result<Recipient, String> {
        match kem {
            KEM_MLKEM768 => {
                let seed: &[u8; 64] = sk
                    .try_into()
                    .map_err(|_| "an ML-KEM-768 private key is a 64-byte seed")?;
                let (dk, pk) = mlkem768_from_seed(seed)?;
                Ok(Recipient {
                    sk: Private::MlKem768(dk),
                    pk,
                })
            }
            KEM_XWING => {
                let seed: &[u8; 32] = sk
                    .try_into()
                    .map_err(|_| "an X-Wing private key is a 32-byte seed")?;
                let mut expanded = Zeroizing::new([0u8; 96]);
                shake256(&[seed], &mut expanded[..]);
                let mut m_seed = Zeroizing::new([0u8; 64]);
                m_seed.copy_from_slice(&expanded[..64]);
                let (m, mut pk) = mlkem768_from_seed(&m_seed)?;
                let x =
                    agreement::PrivateKey::from_private_key(&agreement::X25519, &expanded[64..])
                        .map_err(|_| "invalid X-Wing key")?;
                let public = x.compute_public_key().map_err(|_| "invalid X-Wing key")?;
                let pk_x: [u8; 32] = public
                    .as_ref()
                    .try_into()
                    .map_err(|_| "invalid X-Wing key")?;
                pk.extend_from_slice(&pk_x);
                Ok(Recipient {
                    sk: Private::XWing { m, x, pk_x },
                    pk,
                })
            }
            _ => Err("unsupported KEM".into()),
        }
    }

    /// A new private key: both KEMs' private keys are uniformly random seeds.
    pub fn generate_private(kem: u16) -> Result<Vec<u8>, String> {
        let (nsk, _, _) = lens(kem).ok_or("unsupported KEM")?;
        let mut sk = vec![0u8; nsk];
        aws_lc_rs::rand::fill(&mut sk).map_err(|_| "no randomness available")?;
        Ok(sk)
    }

    pub fn public_key(&self) -> &[u8] {
        &self.pk
    }

    /// `Decap(enc, skR)`: the KEM shared secret.
    pub fn decap(&self, enc: &[u8]) -> Result<[u8; 32], EnvelopeError> {
        match &self.sk {
            Private::MlKem768(dk) if enc.len() == MLKEM768_CT => mlkem768_decap(dk, enc),
            Private::XWing { m, x, pk_x } if enc.len() == MLKEM768_CT + 32 => {
                let (ct_m, ct_x) = enc.split_at(MLKEM768_CT);
                let ss_m = mlkem768_decap(m, ct_m)?;
                let ss_x = x25519(x, ct_x)?;
                Ok(xwing_combiner(&ss_m, &ss_x, ct_x, pk_x))
            }
            _ => Err(EnvelopeError::Malformed),
        }
    }
}

/// `Encap(pkR)` with explicit randomness (32 bytes for ML-KEM-768, 64 for
/// X-Wing): (shared secret, enc). Tests reproduce published vectors with it.
pub fn encap_derand(kem: u16, pk: &[u8], rand: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
    let (_, npk, _) = lens(kem).ok_or("unsupported KEM")?;
    if pk.len() != npk {
        return Err("the public key has the wrong length".into());
    }
    let ek_m = |bytes: &[u8]| {
        let arr = bytes
            .try_into()
            .map_err(|_| "ML-KEM public key length".to_string())?;
        // FIPS 203 §7.2: the encapsulation key's modulus check.
        ml_kem_768::EncapsulationKey::new(arr)
            .map_err(|_| "invalid ML-KEM-768 public key".to_string())
    };
    if kem == KEM_MLKEM768 {
        let m: [u8; 32] = rand
            .try_into()
            .map_err(|_| "ML-KEM randomness is 32 bytes")?;
        let (ct, ss) = ek_m(pk)?.encapsulate_deterministic(&m.into());
        return Ok((ss.into(), ct.to_vec()));
    }
    let eseed: &[u8; 64] = rand
        .try_into()
        .map_err(|_| "X-Wing randomness is 64 bytes")?;
    let (pk_m, pk_x) = pk.split_at(MLKEM768_PK);
    let mut m = [0u8; 32];
    m.copy_from_slice(&eseed[..32]);
    let (ct_m, ss_m) = ek_m(pk_m)?.encapsulate_deterministic(&m.into());
    let ek_x = agreement::PrivateKey::from_private_key(&agreement::X25519, &eseed[32..])
        .map_err(|_| "X25519 ephemeral key")?;
    let ct_x = ek_x
        .compute_public_key()
        .map_err(|_| "X25519 ephemeral key")?;
    let ss_x = x25519(&ek_x, pk_x).map_err(|_| "X25519 with the recipient key failed")?;
    let ss = xwing_combiner(&ss_m, &ss_x, ct_x.as_ref(), pk_x);
    let mut enc = ct_m.to_vec();
    enc.extend_from_slice(ct_x.as_ref());
    Ok((ss, enc))
}

/// `Encap(pkR)` with fresh randomness from aws-lc.
pub fn encap(kem: u16, pk: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
    let mut rand = Zeroizing::new([0u8; 64]);
    let n = if kem == KEM_MLKEM768 { 32 } else { 64 };
    aws_lc_rs::rand::fill(&mut rand[..n]).map_err(|_| "no randomness available")?;
    encap_derand(kem, pk, &rand[..n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::schedule::Context;
    use serde_json::Value;

    fn load(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/vectors/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn h(v: &Value, k: &str) -> Vec<u8> {
        hex::decode(v[k].as_str().unwrap()).unwrap()
    }

    /// draft-ietf-hpke-pq-05 Appendix A: the private key gives the public
    /// key; encapsulation with the vector's randomness gives its `enc` and
    /// shared secret; decapsulation, the key schedule (checked through the
    /// sequence-0 ciphertext and the export) agree.
    fn hpke_pq_vector(name: &str) {
        let v = load(name);
        let kem = v["kem_id"].as_u64().unwrap() as u16;
        let aead = v["aead_id"].as_u64().unwrap() as u16;
        let r = Recipient::from_private(kem, &h(&v, "skRm")).unwrap();
        assert_eq!(r.public_key(), &h(&v, "pkRm")[..], "{name}: pkRm");
        let (ss, enc) = encap_derand(kem, &h(&v, "pkRm"), &h(&v, "ikmE")).unwrap();
        assert_eq!(enc, h(&v, "enc"), "{name}: enc");
        assert_eq!(ss.to_vec(), h(&v, "shared_secret"), "{name}: encap");
        let ss = r.decap(&h(&v, "enc")).unwrap();
        assert_eq!(ss.to_vec(), h(&v, "shared_secret"), "{name}: decap");
        let ctx = Context::new(kem, aead, &ss, &h(&v, "info")).unwrap();
        assert_eq!(
            ctx.open_aad(&h(&v, "ct"), &h(&v, "aad")).unwrap(),
            h(&v, "pt")
        );
        let mut out = [0u8; 32];
        ctx.export(&h(&v, "exporter_context"), &mut out).unwrap();
        assert_eq!(out.to_vec(), h(&v, "exported_value"), "{name}: export");
    }

    #[test]
    fn draft_ietf_hpke_pq_05_a2_mlkem768() {
        hpke_pq_vector("hpke-pq-05-a2-mlkem768.json");
    }

    #[test]
    fn draft_ietf_hpke_pq_05_a5_xwing() {
        hpke_pq_vector("hpke-pq-05-a5-xwing.json");
    }

    #[test]
    fn xwing_kem_vectors() {
        for v in load("xwing-kem-draft06.json").as_array().unwrap() {
            let r = Recipient::from_private(KEM_XWING, &h(v, "sk")).unwrap();
            assert_eq!(r.public_key(), &h(v, "pk")[..]);
            let (ss, ct) = encap_derand(KEM_XWING, &h(v, "pk"), &h(v, "eseed")).unwrap();
            assert_eq!((ct.clone(), ss.to_vec()), (h(v, "ct"), h(v, "ss")));
            assert_eq!(r.decap(&ct).unwrap().to_vec(), h(v, "ss"));
        }
    }

    /// Our sender against the gateway's receiver, every AEAD, both KEMs;
    /// a tampered `enc` or ciphertext fails to open, never panics.
    #[test]
    fn envelopes_round_trip_and_refuse_tampering() {
        use crate::envelope::client::{encapsulate, parse_list};
        use crate::envelope::crypto::{config_list, open, GatewayKey};
        for kem in [KEM_XWING, KEM_MLKEM768] {
            for aead in [1u16, 2, 3] {
                let sk = GatewayKey::generate_private(kem).unwrap();
                let key = GatewayKey::from_private(7, kem, &sk, vec![aead]).unwrap();
                let cfg = parse_list(&config_list(std::iter::once(&key))).remove(0);
                let (envelope, opener) = encapsulate(&cfg, b"the request").unwrap();
                let opened = open(std::iter::once(&key), &envelope).unwrap();
                assert_eq!(opened.request, b"the request");
                let sealed = opened.sealer.seal(b"the response").unwrap();
                assert_eq!(opener.open(&sealed).unwrap(), b"the response");
                for at in [10, 600, envelope.len() - 1] {
                    let mut bad = envelope.clone();
                    bad[at] ^= 1;
                    assert!(
                        open(std::iter::once(&key), &bad).is_err(),
                        "kem {kem:#x} byte {at}"
                    );
                }
                assert!(open(std::iter::once(&key), &envelope[..500]).is_err());
            }
        }
    }
}
