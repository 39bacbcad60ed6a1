//! `[[routes]]`: what a route matches, who may use it, and how. Each route is
//! validated on its own; names of upstreams and authenticators are checked
//! against the file's tables (with a "did you mean").

use super::requirements::{auth, claim_rules, rate_limit};
pub use super::requirements::{ClaimRule, RateKey, RateLimit, RouteAuth};
pub use super::upgrades::Upgrades;
use crate::config::diag::{closest, Diag};
use crate::config::file::{FileConfig, RouteFile};
use http::Method;
use std::collections::BTreeSet;
use std::time::Duration;

/// Which hosts a route answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    Exact(String),
    /// `*.example.com`, stored as the suffix `.example.com`.
    Suffix(String),
}

/// As the configuration writes it (`*.example.com` for a suffix).
impl std::fmt::Display for HostMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostMatch::Exact(h) => f.write_str(h),
            HostMatch::Suffix(s) => write!(f, "*{s}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    Off,
    Optional,
    Required,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub host: Option<HostMatch>,
    pub path_prefix: String,
    pub methods: Vec<Method>,
    pub upstream: String,
    pub auth: RouteAuth,
    pub require_scopes: Vec<String>,
    pub require_claims: Vec<(String, ClaimRule)>,
    pub sealed: Sealed,
    pub max_request_body: u64,
    pub forward_credentials: bool,
    /// Serve the request when the store is unavailable (default: deny with 503).
    pub allow_on_store_error: bool,
    pub single_use: bool,
    pub rate_limit: Option<RateLimit>,
    pub replay_window: Option<Duration>,
    pub upgrades: Upgrades,
}

/// Validates every `[[routes]]` table; names must be unique.
pub fn routes(d: &mut Diag<'_>, raw: &FileConfig, default_body: u64) -> Vec<Route> {
    let mut names = BTreeSet::new();
    let routes: Vec<Route> = raw
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| route(d, &mut names, i, r, raw, default_body))
        .collect();
    if routes.is_empty() {
        d.push("routes", "no routes: add at least one [[routes]] table");
    }
    routes
}

fn route(
    d: &mut Diag<'_>,
    names: &mut BTreeSet<String>,
    i: usize,
    r: &RouteFile,
    raw: &FileConfig,
    default_body: u64,
) -> Route {
    let p = |k: &str| format!("routes[{i}].{k}");
    let name = r.name.clone().unwrap_or_else(|| format!("route{i}"));
    if r.name.is_none() {
        d.push(
            p("name"),
            "every route needs a name (it labels metrics and logs)",
        );
    } else if !names.insert(name.clone()) {
        d.push(p("name"), format!("duplicate route name {name:?}"));
    }
    let auth = auth(d, i, &name, r, raw);
    Route {
        upstream: upstream(d, i, r, raw),
        require_claims: claim_rules(d, i, &r.require.claims),
        path_prefix: path_prefix(d, i, r),
        host: host(d, i, r),
        methods: methods(d, i, r),
        sealed: sealed(d, i, r),
        name,
        auth,
        require_scopes: r.require.scopes.clone(),
        max_request_body: d.size(
            p("max_request_body"),
            r.max_request_body.as_ref(),
            default_body,
        ),
        forward_credentials: r.forward_credentials.unwrap_or(false),
        allow_on_store_error: match r.on_store_error.as_deref().unwrap_or("deny") {
            "deny" => false,
            "allow" => true,
            other => {
                d.push(
                    p("on_store_error"),
                    format!("unknown value {other:?}; expected \"deny\" or \"allow\""),
                );
                false
            }
        },
        single_use: r.single_use.unwrap_or(false),
        rate_limit: r.rate_limit.as_ref().and_then(|rl| rate_limit(d, i, rl, r)),
        replay_window: r
            .replay_window
            .as_ref()
            .map(|w| d.duration(p("replay_window"), Some(w), Duration::from_secs(30))),
        upgrades: super::upgrades::upgrades(d, i, r),
    }
}

fn upstream(d: &mut Diag<'_>, i: usize, r: &RouteFile, raw: &FileConfig) -> String {
    let path = format!("routes[{i}].upstream");
    match &r.upstream {
        None => {
            d.push(path, "missing; name one of the [upstreams] tables");
            String::new()
        }
        Some(u) if !raw.upstreams.contains_key(u) => {
            d.push(
                path,
                format!(
                    "no upstream named {u:?}{}",
                    closest(u, raw.upstreams.keys())
                ),
            );
            u.clone()
        }
        Some(u) => u.clone(),
    }
}

fn path_prefix(d: &mut Diag<'_>, i: usize, r: &RouteFile) -> String {
    let prefix = r.path_prefix.clone().unwrap_or_else(|| "/".into());
    let path = format!("routes[{i}].path_prefix");
    if !prefix.starts_with('/') {
        d.push(path, "must start with \"/\"");
    } else if super::path::normalize_path(&prefix).as_deref() != Ok(prefix.as_str()) {
        d.push(
            path,
            format!(
                "{prefix:?} is not in normalized form (no dot-segments, //, or encoded characters)"
            ),
        );
    }
    prefix
}

fn host(d: &mut Diag<'_>, i: usize, r: &RouteFile) -> Option<HostMatch> {
    let h = r.host.as_deref()?.to_ascii_lowercase();
    Some(match h.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
            HostMatch::Suffix(suffix.to_string())
        }
        Some(_) => {
            d.push(
                format!("routes[{i}].host"),
                "wildcards are written as \"*.example.com\"",
            );
            HostMatch::Exact(h)
        }
        None => HostMatch::Exact(h),
    })
}

fn methods(d: &mut Diag<'_>, i: usize, r: &RouteFile) -> Vec<Method> {
    r.methods
        .iter()
        .enumerate()
        .filter_map(|(j, m)| {
            let m = m.to_ascii_uppercase();
            let parsed = Method::from_bytes(m.as_bytes())
                .map(Some)
                .map_err(|_| format!("invalid method {m:?}"));
            d.take(format!("routes[{i}].methods[{j}]"), parsed, None)
        })
        .collect()
}

fn sealed(d: &mut Diag<'_>, i: usize, r: &RouteFile) -> Sealed {
    match r.sealed.as_deref().unwrap_or("off") {
        "off" => Sealed::Off,
        "optional" => Sealed::Optional,
        "required" => Sealed::Required,
        other => {
            d.push(
                format!("routes[{i}].sealed"),
                format!("unknown value {other:?}; expected \"off\", \"optional\" or \"required\""),
            );
            Sealed::Off
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;
    use crate::config::file::{AuthSpec, RateLimitFile};

    #[test]
    fn routes_name_their_problems() {
        let mut raw = FileConfig::default();
        raw.upstreams.insert("orders".into(), Default::default());
        let bad = RouteFile {
            name: Some("r".into()),
            upstream: Some("ordres".into()),
            auth: Some(AuthSpec::Many(vec!["anonymous".into(), "x".into()])),
            path_prefix: Some("/a/../b".into()),
            host: Some("*example.com".into()),
            methods: vec!["GET".into(), "BAD METHOD".into()],
            sealed: Some("maybe".into()),
            ..RouteFile::default()
        };
        let mut dup = RouteFile {
            name: Some("r".into()),
            upstream: Some("orders".into()),
            ..RouteFile::default()
        };
        dup.auth = Some(AuthSpec::One("anonymous".into()));
        dup.require.scopes = vec!["read".into()];
        dup.rate_limit = Some(RateLimitFile {
            per: Some("subject".into()),
            rate: "10/s".into(),
            burst: None,
        });
        raw.routes = vec![bad, dup];
        let mut s = Scratch::default();
        let mut d = s.diag();
        let routes = routes(&mut d, &raw, 1024);
        assert_eq!(routes.len(), 2);
        let got: Vec<String> = s.errors.iter().map(|e| e.path.clone()).collect();
        for want in [
            "routes[0].upstream",
            "routes[0].auth",
            "routes[0].path_prefix",
            "routes[0].host",
            "routes[0].methods[1]",
            "routes[0].sealed",
            "routes[1].name",
            "routes[1].require",
            "routes[1].rate_limit.per",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} missing from {got:?}");
        }
        assert!(s
            .errors
            .iter()
            .any(|e| e.message.contains("did you mean \"orders\"")));
    }
}
