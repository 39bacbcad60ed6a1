//! `[decision]`: the auth-decision endpoint that nginx `auth_request`, Envoy
//! `ext_authz`, Traefik `forwardAuth` and Caddy `forward_auth` call. Checked
//! here: a usable path, the caller whose header conventions are believed
//! (each proxy overwrites its own headers and passes a client's copies of
//! the others through, so no one order of headers is safe for all), trusted
//! proxies to believe, routes that exist, and no decided route whose
//! authenticators need what a decision never sees (the body, the response,
//! the client's TLS certificate).

use crate::authn::settings::AuthenticatorSettings;
use crate::config::decision_file::DecisionFile;
use crate::config::diag::Diag;
use crate::route::settings::{Route, RouteAuth};
use std::collections::BTreeMap;

/// Which proxy asks, and so where the original request is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// nginx `auth_request`: `X-Original-URI`, `X-Original-Method`, `Host`.
    Nginx,
    /// Traefik `forwardAuth`, Caddy `forward_auth`: `X-Forwarded-Uri`,
    /// `X-Forwarded-Method`, `X-Forwarded-Host`.
    Forwarded,
    /// Envoy `ext_authz` HTTP: the original path below the decision path,
    /// the request's own method and host.
    Envoy,
}

#[derive(Debug, Clone)]
pub struct Decision {
    /// Where the endpoint answers; `<path>/<original path>` is Envoy's form.
    pub path: String,
    pub caller: Caller,
    /// The routes it decides for (`None`: all).
    pub routes: Option<Vec<String>>,
}

impl Decision {
    pub fn covers(&self, route: &str) -> bool {
        self.routes
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == route))
    }

    /// Whether `path` is the endpoint or under it (Envoy's path-prefix form).
    pub fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

pub fn decision(
    d: &mut Diag<'_>,
    f: Option<&DecisionFile>,
    routes: &[Route],
    authenticators: &BTreeMap<String, AuthenticatorSettings>,
    have_trusted_proxies: bool,
) -> Option<Decision> {
    let f = f?;
    let path = f.path.clone().unwrap_or_else(|| "/auth/verify".to_string());
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
    if !path.starts_with('/') || path == "/" || path.ends_with('/') || !plain {
        d.push(
            "decision.path",
            format!("{path:?} must be a plain absolute path below the root, e.g. \"/auth/verify\""),
        );
    }
    let caller = match f.caller.as_deref() {
        Some("nginx") => Caller::Nginx,
        Some("forwarded") => Caller::Forwarded,
        Some("envoy") => Caller::Envoy,
        other => {
            let what = other.map_or("missing".to_string(), |o| format!("unknown caller {o:?}"));
            d.push(
                "decision.caller",
                format!("{what}; say which proxy asks: \"nginx\" (auth_request), \"forwarded\" (Traefik, Caddy) or \"envoy\" (ext_authz)"),
            );
            Caller::Nginx
        }
    };
    if !have_trusted_proxies {
        d.push(
            "listen.trusted_proxies",
            "decision mode answers only trusted proxies: list the addresses of the proxies that ask",
        );
    }
    if let Some(names) = &f.routes {
        for (i, n) in names.iter().enumerate() {
            if !routes.iter().any(|r| &r.name == n) {
                d.push(
                    format!("decision.routes[{i}]"),
                    format!("no route is named {n:?}"),
                );
            }
        }
    }
    let decision = Decision {
        path,
        caller,
        routes: f.routes.clone(),
    };
    for (i, r) in routes.iter().enumerate() {
        let RouteAuth::AnyOf(names) = &r.auth else {
            continue;
        };
        if !decision.covers(&r.name) {
            continue;
        }
        for n in names {
            let Some(a) = authenticators.get(n) else {
                continue;
            };
            let why = a.settings.body_dependent().or_else(|| {
                a.settings
                    .needs_client_certificates()
                    .map(|_| "the TLS client certificate is the asking proxy's, not the client's")
            });
            if let Some(why) = why {
                d.push(
                    format!("routes[{i}].auth"),
                    format!("authenticator {n:?} cannot be used in decision mode, which never sees the body, the response or the client's certificate: {why} (or leave route {:?} out of decision.routes)", r.name),
                );
            }
        }
    }
    Some(decision)
}
