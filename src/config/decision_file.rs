//! `[decision]` as written: the auth-decision endpoint for other proxies.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionFile {
    /// The endpoint's path on the main listener (Envoy's path-prefix form adds
    /// the original path below it); not `/`, no trailing slash. Default `/auth/verify`.
    pub path: Option<String>,
    /// The routes that may be decided (default: every route).
    pub routes: Option<Vec<String>>,
    /// Which proxy asks, and so which headers name the original request:
    /// "nginx", "forwarded" (Traefik, Caddy) or "envoy"; required.
    pub caller: Option<String>,
}
