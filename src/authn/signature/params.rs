//! The signature parameters this gateway reads (RFC 9421 §2.3), the
//! algorithm they may select, and which components a signature covers.

use super::input::{param, Covered};
use crate::authn::credentials::{Algorithm, Credential};
use crate::authn::failure::AuthFailure;

/// The signature parameters this gateway reads (RFC 9421 §2.3).
pub(super) struct Params<'a> {
    pub keyid: &'a str,
    pub alg: Option<&'a str>,
    pub created: Option<u64>,
    pub expires: Option<u64>,
    pub nonce: Option<&'a str>,
    pub tag: Option<&'a str>,
}

impl<'a> Params<'a> {
    pub(super) fn read(covered: &'a Covered<'a>) -> Result<Params<'a>, AuthFailure> {
        let text = |k: &str| -> Result<Option<&'a str>, AuthFailure> {
            match param(&covered.params, k) {
                None => Ok(None),
                Some(v) => v
                    .as_string()
                    .map(|s| Some(s.as_str()))
                    .ok_or(AuthFailure::Malformed),
            }
        };
        let int = |k: &str| -> Result<Option<u64>, AuthFailure> {
            match param(&covered.params, k) {
                None => Ok(None),
                Some(v) => v
                    .as_integer()
                    .and_then(|i| u64::try_from(i64::from(i)).ok())
                    .map(Some)
                    .ok_or(AuthFailure::Malformed),
            }
        };
        Ok(Params {
            keyid: text("keyid")?.ok_or(AuthFailure::MissingComponent)?,
            alg: text("alg")?,
            created: int("created")?,
            expires: int("expires")?,
            nonce: text("nonce")?,
            tag: text("tag")?,
        })
    }
}

/// The credential's configured algorithm wins: an `alg` parameter must name
/// one of its algorithms; without one, the credential must have exactly one.
pub(super) fn algorithm(cred: &Credential, alg: Option<&str>) -> Result<Algorithm, AuthFailure> {
    match alg {
        Some(name) => Algorithm::parse(name)
            .filter(|a| !a.is_oauth() && cred.algorithms.contains(a))
            .ok_or(AuthFailure::AlgNotAllowed),
        None => match cred.algorithms.as_slice() {
            [only] => Ok(*only),
            _ => Err(AuthFailure::AlgNotAllowed),
        },
    }
}

/// Whether any covered component names `field`, whatever its parameters.
pub(super) fn names(covered: &Covered<'_>, field: &str) -> bool {
    covered
        .items
        .iter()
        .any(|i| i.name.as_string().is_some_and(|s| s.as_str() == field))
}

/// Whether `component` is covered as a plain identifier (no parameters).
pub(super) fn covers(covered: &Covered<'_>, component: &str) -> bool {
    covered
        .items
        .iter()
        .any(|i| i.params.is_empty() && i.name.as_string().is_some_and(|s| s.as_str() == component))
}
