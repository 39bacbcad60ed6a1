//! Cross-section checks of the validated configuration: what one section
//! requires of another (client certificates for the kinds that read them,
//! an assertion key for signed responses, envelope keys for sealed routes).

use crate::authn::settings::{AuthenticatorSettings, AuthnSettings};
use crate::config::diag::Diag;
use crate::identity::settings::Identity;
use crate::listener::settings::{ClientAuth, Listen};
use crate::route::settings::{Route, Sealed};
use std::collections::BTreeMap;

/// What one section requires of another.
pub(super) fn cross_check(
    d: &mut Diag<'_>,
    listen: &Listen,
    identity: &Identity,
    authenticators: &BTreeMap<String, AuthenticatorSettings>,
    routes: &[Route],
    have_envelope: bool,
) {
    let certs = listen.tls.client_auth != ClientAuth::Off;
    if identity.forward_client_cert && !certs {
        d.push(
            "identity.forward_client_cert",
            "needs listen.tls.client_auth = \"optional\" or \"required\"",
        );
    }
    for (name, a) in authenticators {
        let signs = matches!(&a.settings, AuthnSettings::HttpSignature(h) if h.sign_responses);
        if signs && identity.assertion.is_none() {
            d.push(
                format!("authenticators.{name}.sign_responses"),
                "responses are signed with the assertion key: configure [identity.assertion] key",
            );
        }
        if let (Some(what), false) = (a.settings.needs_client_certificates(), certs) {
            d.push(
                format!("authenticators.{name}"),
                format!("{what} needs client certificates: set listen.tls.client_ca and listen.tls.client_auth = \"optional\" or \"required\""),
            );
        }
    }
    if !have_envelope {
        for (i, r) in routes.iter().enumerate() {
            if r.sealed != Sealed::Off {
                d.push(
                    format!("routes[{i}].sealed"),
                    "sealed routes need [[envelope.keys]]",
                );
            }
        }
    }
}
