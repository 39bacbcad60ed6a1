//! `[decision]`: the auth-decision endpoint that nginx `auth_request`, Envoy
//! `ext_authz`, Traefik `forwardAuth` and Caddy `forward_auth` call. Checked
//! here: a usable path, routes that exist, and no route whose authenticators
//! need what a decision never sees (the body, the response).

use crate::authn::settings::AuthenticatorSettings;
use crate::config::decision_file::DecisionFile;
use crate::config::diag::Diag;
use crate::route::settings::{Route, RouteAuth};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Decision {
    /// Where the endpoint answers; `<path>/<original path>` is Envoy's form.
    pub path: String,
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
            if let Some(why) = authenticators
                .get(n)
                .and_then(|a| a.settings.body_dependent())
            {
                d.push(
                    format!("routes[{i}].auth"),
                    format!("authenticator {n:?} cannot be used in decision mode, which never sees the body or the response: {why} (or leave route {:?} out of decision.routes)", r.name),
                );
            }
        }
    }
    Some(decision)
}
