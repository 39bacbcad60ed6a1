//! Sender-constrained credentials: a token whose `cnf` claim binds it to a
//! key (RFC 7800) is accepted only when the request proves possession of that
//! key. A client certificate binding (RFC 8705 `x5t#S256`) is checked against
//! the connection's certificate; a DPoP `jkt` by the authenticator's DPoP
//! policy (`dpop`); any other (a `jwk`, a malformed `cnf`) is refused:
//! accepting a bound token as a plain bearer token would defeat the binding.

use super::dpop::Dpop;
use super::failure::AuthFailure;
use super::kind::{Attempt, Verdict};
use super::principal::{Binding, Principal};
use crate::conn::ClientCert;
use serde_json::{Map, Value};

/// The verdict for a verified `token`: its certificate binding and its
/// authenticator's DPoP policy checked, a proof's `jti` to be marked used.
pub fn verdict(
    p: Principal,
    at: &Attempt<'_>,
    token: &str,
    dpop: &Dpop,
    certificate_required: bool,
) -> Result<Verdict, AuthFailure> {
    check(p.binding(), at.client_cert, certificate_required)?;
    let replay = dpop.enforce(at, token, p.binding())?;
    let verdict = Verdict::of(p);
    Ok(match replay {
        Some((key, ttl)) => verdict.with_replay_key(key, ttl),
        None => verdict,
    })
}

/// The binding a token's claims (or an introspection answer) declare.
pub fn parse(claims: &Map<String, Value>) -> Result<Option<Binding>, AuthFailure> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let Some(cnf) = cnf.as_object() else {
        return Err(AuthFailure::UnsupportedBinding);
    };
    match (cnf.len(), cnf.get("x5t#S256"), cnf.get("jkt")) {
        (1, Some(Value::String(x5t_s256)), None) => Ok(Some(Binding::Certificate {
            x5t_s256: x5t_s256.clone(),
        })),
        (1, None, Some(Value::String(jkt))) => Ok(Some(Binding::Dpop { jkt: jkt.clone() })),
        _ => Err(AuthFailure::UnsupportedBinding),
    }
}

/// Whether the request holds the key the credential is bound to;
/// `certificate_required` refuses unbound credentials too.
pub fn check(
    binding: Option<&Binding>,
    cert: Option<&ClientCert>,
    certificate_required: bool,
) -> Result<(), AuthFailure> {
    match (binding, cert) {
        (Some(Binding::Certificate { x5t_s256 }), Some(cert)) => {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                x5t_s256.as_bytes(),
                cert.x5t_s256.as_bytes(),
            )
            .map_err(|_| AuthFailure::CertificateMismatch)
        }
        (Some(Binding::Certificate { .. }), None) => Err(AuthFailure::CertificateMismatch),
        // A route that demands a certificate-bound token gets one, DPoP or not.
        (Some(Binding::Dpop { .. }), _) if certificate_required => {
            Err(AuthFailure::CertificateMismatch)
        }
        // Checked by the authenticator's DPoP policy (`dpop::Dpop::enforce`).
        (Some(Binding::Dpop { .. }), _) => Ok(()),
        (None, _) if certificate_required => Err(AuthFailure::CertificateMismatch),
        (None, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_checkable_bindings_pass() {
        assert_eq!(parse(&claims(json!({"sub": "a"}))), Ok(None));
        let cert = parse(&claims(json!({"cnf": {"x5t#S256": "abc"}}))).unwrap();
        assert_eq!(
            cert,
            Some(Binding::Certificate {
                x5t_s256: "abc".into()
            })
        );
        for bad in [
            json!({"cnf": "abc"}),
            json!({"cnf": {"x5t#S256": 1}}),
            json!({"cnf": {"jwk": {"kty": "EC"}}}),
            json!({"cnf": {"x5t#S256": "a", "jkt": "b"}}),
        ] {
            assert_eq!(
                parse(&claims(bad.clone())),
                Err(AuthFailure::UnsupportedBinding),
                "{bad}"
            );
        }
        let dpop = parse(&claims(json!({"cnf": {"jkt": "t"}}))).unwrap();
        assert_eq!(dpop, Some(Binding::Dpop { jkt: "t".into() }));
        assert_eq!(check(dpop.as_ref(), None, false), Ok(()));
        assert_eq!(
            check(dpop.as_ref(), None, true),
            Err(AuthFailure::CertificateMismatch)
        );
        assert_eq!(
            check(cert.as_ref(), None, false),
            Err(AuthFailure::CertificateMismatch)
        );
        assert_eq!(
            check(None, None, true),
            Err(AuthFailure::CertificateMismatch)
        );
        assert_eq!(check(None, None, false), Ok(()));
    }
}
