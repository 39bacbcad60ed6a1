//! The cross-references of `[issuer]` and `kind = "issued"`: what the token
//! endpoint requires of the store, the upstreams, the envelope, the identity
//! assertion and the other authenticators.

use crate::authn::settings::{AuthenticatorSettings, AuthnSettings};
use crate::config::diag::Diag;
use crate::config::file::FileConfig;
use crate::route::settings::Sealed;
use std::collections::BTreeMap;

/// What `[issuer]` and `kind = "issued"` require of the other sections.
pub(super) fn references(
    d: &mut Diag<'_>,
    issuer: Option<&crate::issuer::settings::IssuerSettings>,
    authenticators: &BTreeMap<String, AuthenticatorSettings>,
    raw: &FileConfig,
    (have_envelope, assertion_issuer): (bool, Option<&str>),
) {
    use crate::issuer::settings::Verifier;
    for (name, a) in authenticators {
        if matches!(a.settings, AuthnSettings::Issued(_)) && raw.issuer.is_none() {
            d.push(
                format!("authenticators.{name}"),
                "kind = \"issued\" verifies the token endpoint's tokens: configure [issuer]",
            );
        }
    }
    let redis = raw.store.kind.as_deref() == Some("redis");
    for (name, a) in authenticators {
        let dpop = match &a.settings {
            AuthnSettings::Jwt(j) => &j.dpop,
            AuthnSettings::Introspection(x) => &x.dpop,
            AuthnSettings::Issued(x) => &x.dpop,
            _ => continue,
        };
        if redis && matches!(dpop.nonce, Some(None)) {
            d.push(
                format!("authenticators.{name}.dpop.nonce_secret"),
                "required with a shared (redis) store: replicas must accept each other's nonces",
            );
        }
    }
    let Some(i) = issuer else { return };
    if redis && matches!(i.dpop.nonce, Some(None)) {
        d.push(
            "issuer.dpop.nonce_secret",
            "required with a shared (redis) store: replicas must accept each other's nonces",
        );
    }
    let paths = [&i.path, &i.revocation_path, &i.logout_path];
    if paths
        .iter()
        .enumerate()
        .any(|(n, p)| paths[..n].contains(p))
    {
        d.push(
            "issuer",
            "path, revocation_path and logout_path must differ",
        );
    }
    for (name, a) in authenticators {
        match &a.settings {
            // Its tokens carry a session that only `issued` checks for revocation.
            AuthnSettings::Jwt(j) if j.issuer == i.url => d.push(
                format!("authenticators.{name}.issuer"),
                "this is [issuer].url: verify the endpoint's tokens with kind = \"issued\"",
            ),
            AuthnSettings::Issued(x)
                if x.dpop.mode == crate::authn::dpop::DpopMode::Off
                    && i.dpop.mode != crate::authn::dpop::DpopMode::Off =>
            {
                d.warn(format!("authenticators.{name}: dpop is off, so it refuses the DPoP-bound tokens [issuer] hands out; set dpop = \"optional\""));
            }
            _ => {}
        }
    }
    if assertion_issuer == Some(i.url.as_str()) {
        d.push(
            "identity.assertion.issuer",
            "must differ from [issuer].url: backends must not take an access token for an assertion",
        );
    }
    if let Verifier::Upstream { upstream, .. } = &i.verifier {
        if !raw.upstreams.contains_key(upstream) {
            d.push(
                "issuer.verifier.upstream",
                format!("no upstream named {upstream:?}"),
            );
        }
    }
    if i.sealed == Sealed::Required && !have_envelope {
        d.push("issuer.sealed", "sealed logins need [[envelope.keys]]");
    }
}
