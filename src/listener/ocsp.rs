//! OCSP stapling (RFC 6066 §8, RFC 6960): an operator-fetched OCSP response
//! (e.g. `openssl ocsp ... -respout staple.der` from cron, then SIGHUP) sent
//! in the handshake, so clients need not ask the CA. A staple is checked
//! against the certificate it is for before it is served: a response for
//! another certificate, a revoked or unknown status, or one not yet valid is
//! refused (`check` names the key); an expired one is dropped with a warning,
//! because a stale staple makes strict clients fail where none would not.

use der::asn1::ObjectIdentifier;
use der::Decode;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse, OcspResponseStatus};

/// RFC 6960 §4.2.1 `id-pkix-ocsp-basic`.
const OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// Clock skew allowed for a `thisUpdate` slightly in the future.
const SKEW_SECS: u64 = 300;
/// OCSP responses are a few KiB; anything far larger is not one.
const MAX_STAPLE: u64 = 64 * 1024;

/// A staple that matched its certificate.
#[derive(Debug)]
pub enum Staple {
    /// The DER response, served until `until` (its `nextUpdate`, Unix
    /// seconds; `u64::MAX` when it has none).
    Current { der: Vec<u8>, until: u64 },
    /// Past its `nextUpdate` (seconds ago): not served.
    Expired(u64),
}

/// Reads and checks the DER OCSP response at `path` for `chain[0]` (issued
/// by `chain[1]` when the chain includes it), at `now` (Unix seconds).
pub fn load(path: &Path, chain: &[CertificateDer<'_>], now: u64) -> Result<Staple, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_STAPLE {
        return Err(format!(
            "{} is {} bytes: not an OCSP response",
            path.display(),
            meta.len()
        ));
    }
    let der = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let until = check(&der, chain, now).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(if until <= now {
        Staple::Expired(now - until)
    } else {
        Staple::Current { der, until }
    })
}

/// The response's `nextUpdate` (`u64::MAX` without one) once it is known to
/// be a good answer for this certificate.
fn check(der: &[u8], chain: &[CertificateDer<'_>], now: u64) -> Result<u64, String> {
    let resp = OcspResponse::from_der(der)
        .map_err(|e| format!("not a DER OCSP response ({e}); write it with -respout"))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(format!("the responder answered {:?}", resp.response_status));
    }
    let bytes = resp
        .response_bytes
        .filter(|b| b.response_type == OCSP_BASIC)
        .ok_or("not a basic OCSP response")?;
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("malformed basic OCSP response: {e}"))?;
    let leaf = parse(chain.first().ok_or("no certificate")?)?;
    let issuer = chain.get(1).map(parse).transpose()?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| {
            r.cert_id.serial_number.as_bytes() == leaf.raw_serial()
                && issuer.as_ref().is_none_or(|i| same_issuer(&r.cert_id, i))
        })
        .ok_or("the response is for another certificate")?;
    match single.cert_status {
        CertStatus::Good(_) => {}
        CertStatus::Revoked(_) => return Err("the certificate is revoked".into()),
        CertStatus::Unknown(_) => return Err("the responder does not know the certificate".into()),
    }
    let this = single.this_update.0.to_unix_duration().as_secs();
    if this > now + SKEW_SECS {
        return Err(format!("not valid for another {} s", this - now));
    }
    Ok(single
        .next_update
        .map_or(u64::MAX, |t| t.0.to_unix_duration().as_secs()))
}

fn parse<'a>(
    der: &'a CertificateDer<'_>,
) -> Result<x509_parser::certificate::X509Certificate<'a>, String> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| format!("unreadable certificate: {e}"))
}

/// RFC 6960 §4.1.1: the hash of the issuer's public key (the BIT STRING's
/// contents), in the algorithm the response names.
fn same_issuer(
    id: &x509_ocsp::CertId,
    issuer: &x509_parser::certificate::X509Certificate<'_>,
) -> bool {
    let alg = if id.hash_algorithm.oid == SHA1 {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if id.hash_algorithm.oid == SHA256 {
        &aws_lc_rs::digest::SHA256
    } else {
        return false;
    };
    let key = &issuer.public_key().subject_public_key.data;
    aws_lc_rs::digest::digest(alg, key).as_ref() == id.issuer_key_hash.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// 2026-12-02; the fixtures are valid 2026-01-01 to 2126-01-01.
    const NOW: u64 = 1_796_169_600;
    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ocsp");

    fn chain() -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(format!("{DIR}/leaf.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn load_at(file: &str, chain: &[CertificateDer<'_>], now: u64) -> Result<Staple, String> {
        load(Path::new(&format!("{DIR}/{file}")), chain, now)
    }

    #[test]
    fn a_good_staple_for_the_certificate_is_served() {
        let chain = chain();
        for file in ["good.der", "good-sha256.der"] {
            let der = std::fs::read(format!("{DIR}/{file}")).unwrap();
            match load_at(file, &chain, NOW).unwrap() {
                Staple::Current { der: bytes, until } => {
                    assert_eq!(bytes, der);
                    assert_eq!(until, 4_922_899_200);
                }
                other => panic!("{file}: {other:?}"),
            }
            // Without the issuer in the chain, the serial number decides.
            assert!(matches!(
                load_at(file, &chain[..1], NOW),
                Ok(Staple::Current { .. })
            ));
        }
    }

    #[test]
    fn staples_that_would_mislead_clients_are_refused() {
        let chain = chain();
        let err = |file: &str| load_at(file, &chain, NOW).unwrap_err();
        assert!(
            err("revoked.der").contains("revoked"),
            "{}",
            err("revoked.der")
        );
        assert!(err("other.der").contains("another certificate"));
        assert!(err("unauthorized.der").contains("Unauthorized"));
        assert!(err("leaf.pem").contains("not a DER OCSP response"));
        assert!(err("missing.der").contains("cannot read"));
        // Before thisUpdate (beyond the allowed skew).
        let early = load_at("good.der", &chain, 1_767_225_600 - 3_600).unwrap_err();
        assert!(early.contains("not valid for another"), "{early}");
        // A chain whose issuer did not sign the response.
        let mut wrong_issuer = chain.clone();
        wrong_issuer[1] = wrong_issuer[0].clone();
        assert!(load_at("good.der", &wrong_issuer, NOW).is_err());
    }

    #[test]
    fn an_expired_staple_is_reported_not_served() {
        let after = 4_922_899_200 + 60; // 2126-01-01 plus a minute
        assert!(matches!(
            load_at("good.der", &chain(), after),
            Ok(Staple::Expired(60))
        ));
    }
}
