//! Route matching: normalized host, path and method -> the most specific route.
//!
//! Specificity: an exact host beats a wildcard host (longer suffix first), which
//! beats any host; then the longer path prefix; then a route that lists methods.
//! Prefixes match on segment boundaries: `/admin` matches `/admin`, `/admin/x`
//! and `/admin;x` but not `/administrator` (write `/admin` + `/` semantics explicitly
//! with a trailing slash when a plain string prefix is wanted).

mod metrics;
mod path;
mod requirements;
pub mod settings;
mod upgrades;

pub use metrics::RouteMetrics;
pub use path::{normalize_path, PathError};

use crate::authn::{Authenticator, Challenge};
use http::Method;
use settings::{HostMatch, Route, RouteAuth};
use std::collections::HashMap;
use std::sync::Arc;

/// A configured route plus what the hot path needs precomputed.
#[derive(Debug)]
pub struct RouteEntry {
    pub config: Route,
    /// Interned name, used as a metric label and log field without allocating.
    pub name: Arc<str>,
    /// The route's authenticators, in configured order (empty when anonymous).
    pub authn: Vec<Arc<Authenticator>>,
    /// The distinct challenges of those authenticators, for `WWW-Authenticate`.
    pub challenges: Vec<Challenge>,
    /// Required scopes, space-joined, for `WWW-Authenticate: ... scope="..."`.
    pub scope_hint: Option<Arc<str>>,
    /// The route's request metric handles: the duration histogram resolved
    /// when the table is built, the counters on their first request.
    pub metrics: RouteMetrics,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<RouteEntry>>,
}

fn specificity(r: &Route) -> (u8, usize, usize, bool) {
    let (host_rank, host_len) = match &r.host {
        Some(HostMatch::Exact(h)) => (2, h.len()),
        Some(HostMatch::Suffix(s)) => (1, s.len()),
        None => (0, 0),
    };
    (
        host_rank,
        host_len,
        r.path_prefix.len(),
        !r.methods.is_empty(),
    )
}

impl RouteTable {
    pub fn new(
        routes: &[Route],
        authenticators: &HashMap<String, Arc<Authenticator>>,
        metrics: &crate::metrics::Metrics,
    ) -> RouteTable {
        let mut routes: Vec<Arc<RouteEntry>> = routes
            .iter()
            .map(|r| {
                let authn = match &r.auth {
                    RouteAuth::Anonymous => Vec::new(),
                    RouteAuth::AnyOf(names) => names
                        .iter()
                        .filter_map(|n| authenticators.get(n).cloned())
                        .collect(),
                };
                let mut challenges: Vec<Challenge> = Vec::new();
                let all = authn
                    .iter()
                    .flat_map(|a: &Arc<Authenticator>| [Some(a.challenge()), a.dpop_challenge()])
                    .flatten();
                for c in all {
                    if c != Challenge::None && !challenges.contains(&c) {
                        challenges.push(c);
                    }
                }
                Arc::new(RouteEntry {
                    metrics: RouteMetrics::new(metrics, &r.name),
                    name: Arc::from(r.name.as_str()),
                    challenges,
                    config: r.clone(),
                    authn,
                    scope_hint: (!r.require_scopes.is_empty())
                        .then(|| Arc::from(r.require_scopes.join(" ").as_str())),
                })
            })
            .collect();
        // Stable: equally specific routes keep their order in the file.
        routes.sort_by_key(|r| std::cmp::Reverse(specificity(&r.config)));
        RouteTable { routes }
    }

    /// `host` must already be normalized with [`normalize_host`], `path` with [`normalize_path`].
    pub fn find(&self, host: &str, path: &str, method: &Method) -> Option<&Arc<RouteEntry>> {
        self.routes.iter().find(|r| {
            let c = &r.config;
            host_matches(c.host.as_ref(), host)
                && prefix_matches(&c.path_prefix, path)
                && (c.methods.is_empty() || c.methods.contains(method))
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<RouteEntry>> {
        self.routes.iter()
    }
}

fn host_matches(rule: Option<&HostMatch>, host: &str) -> bool {
    match rule {
        None => true,
        Some(HostMatch::Exact(h)) => h == host,
        Some(HostMatch::Suffix(s)) => host.len() > s.len() && host.ends_with(s.as_str()),
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with(';'),
        None => false,
    }
}

/// Lower-cases a Host/authority and strips the port and a trailing dot.
pub fn normalize_host(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        // IPv6 literal: keep the brackets, drop the port after them.
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::settings::{RouteAuth, Sealed};

    fn route(name: &str, host: Option<HostMatch>, prefix: &str, methods: &[Method]) -> Route {
        Route {
            name: name.into(),
            host,
            path_prefix: prefix.into(),
            methods: methods.to_vec(),
            upstream: "u".into(),
            auth: RouteAuth::Anonymous,
            require_scopes: vec![],
            require_claims: vec![],
            sealed: Sealed::Off,
            max_request_body: 0,
            forward_credentials: false,
            allow_on_store_error: false,
            single_use: false,
            rate_limit: None,
            replay_window: None,
            upgrades: Default::default(),
        }
    }

    fn find<'a>(t: &'a RouteTable, host: &str, path: &str, m: Method) -> Option<&'a str> {
        t.find(host, path, &m).map(|r| r.config.name.as_str())
    }

    #[test]
    fn most_specific_wins() {
        let t = RouteTable::new(
            &[
                route("root", None, "/", &[]),
                route("admin", None, "/admin", &[]),
                route("admin-post", None, "/admin", &[Method::POST]),
                route(
                    "wild",
                    Some(HostMatch::Suffix(".example.com".into())),
                    "/",
                    &[],
                ),
                route(
                    "api",
                    Some(HostMatch::Exact("api.example.com".into())),
                    "/",
                    &[],
                ),
            ],
            &HashMap::new(),
            &crate::metrics::Metrics::new().unwrap(),
        );
        assert_eq!(find(&t, "other", "/x", Method::GET), Some("root"));
        assert_eq!(find(&t, "other", "/admin", Method::GET), Some("admin"));
        assert_eq!(
            find(&t, "other", "/admin/x", Method::POST),
            Some("admin-post")
        );
        assert_eq!(
            find(&t, "other", "/administrator", Method::GET),
            Some("root")
        );
        assert_eq!(
            find(&t, "other", "/admin;jsessionid=1", Method::GET),
            Some("admin")
        );
        assert_eq!(
            find(&t, "a.example.com", "/admin", Method::GET),
            Some("wild")
        );
        assert_eq!(find(&t, "a.b.example.com", "/", Method::GET), Some("wild"));
        assert_eq!(find(&t, "example.com", "/", Method::GET), Some("root"));
        assert_eq!(find(&t, "api.example.com", "/", Method::GET), Some("api"));
    }

    #[test]
    fn no_match_and_methods() {
        let t = RouteTable::new(
            &[route("get-only", None, "/api/", &[Method::GET])],
            &HashMap::new(),
            &crate::metrics::Metrics::new().unwrap(),
        );
        assert_eq!(find(&t, "h", "/api/x", Method::GET), Some("get-only"));
        assert_eq!(find(&t, "h", "/api/x", Method::DELETE), None);
        assert_eq!(find(&t, "h", "/apix", Method::GET), None);
        assert_eq!(find(&t, "h", "/api", Method::GET), None);
    }

    #[test]
    fn hosts_normalize() {
        assert_eq!(normalize_host("Example.COM:8443"), "example.com");
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:8443"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
    }
}
