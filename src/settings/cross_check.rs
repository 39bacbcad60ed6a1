//! Cross-section checks of the validated configuration: what one section
//! requires of another (client certificates for the kinds that read them,
//! an assertion key for signed responses, envelope keys for sealed routes).

use crate::authn::settings::{AuthenticatorSettings, AuthnSettings};
use crate::config::diag::Diag;
use crate::identity::settings::Identity;
use crate::listener::settings::{ClientAuth, Listen};
use crate::route::settings::{Route, Sealed};
use crate::upstream::settings::{Upstream, UpstreamKind, UpstreamProtocol};
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

/// Upgraded connections are relayed to an HTTP/1.1 target: the built-in
/// echo upstream has no socket to relay to, and an HTTP/2 upstream would
/// need extended CONNECT (RFC 8441), which the gateway does not send.
pub(super) fn upgrades(
    d: &mut Diag<'_>,
    routes: &[Route],
    upstreams: &BTreeMap<String, Upstream>,
    authenticators: &BTreeMap<String, AuthenticatorSettings>,
) {
    for (i, r) in routes.iter().enumerate() {
        let Some(u) = upstreams.get(&r.upstream) else {
            continue;
        };
        let signs = match &r.auth {
            crate::route::settings::RouteAuth::AnyOf(names) => names.iter().any(|n| {
                authenticators.get(n).is_some_and(
                    |a| matches!(&a.settings, AuthnSettings::HttpSignature(h) if h.sign_responses),
                )
            }),
            crate::route::settings::RouteAuth::Anonymous => false,
        };
        let problem = match (&u.kind, u.protocol) {
            _ if r.upgrades.protocols.is_empty() => None,
            // A switched connection's answer is a 101 and then raw bytes:
            // there is no response to sign.
            _ if signs => Some("responses of a route with sign_responses cannot be upgraded"),
            (UpstreamKind::Echo, _) => {
                Some("the built-in echo upstream cannot take upgraded connections")
            }
            (_, UpstreamProtocol::Http2) => {
                Some("upgraded connections need an HTTP/1.1 upstream (protocol = \"http1\")")
            }
            _ => None,
        };
        if let Some(m) = problem {
            d.push(
                format!("routes[{i}].upgrades"),
                format!("{m}; upstream {:?}", r.upstream),
            );
        }
    }
}
