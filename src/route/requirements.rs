//! Who may use a route: its authenticators (any-of, or anonymous), the claim
//! rules authorization checks, and its rate limit.

use crate::config::diag::{closest, Diag};
use crate::config::file::{AuthSpec, ClaimRuleFile, FileConfig, RateLimitFile, RouteFile};
use crate::store::Rate;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAuth {
    Anonymous,
    AnyOf(Vec<String>),
}

/// `anonymous`, or the authenticators' names joined by commas.
impl std::fmt::Display for RouteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteAuth::Anonymous => f.write_str("anonymous"),
            RouteAuth::AnyOf(names) => f.write_str(&names.join(",")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey {
    Ip,
    Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per: RateKey,
    pub rate: Rate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRule {
    Equals(String),
    OneOf(Vec<String>),
    Glob(String),
    Contains(String),
}

pub(super) fn auth(
    d: &mut Diag<'_>,
    i: usize,
    name: &str,
    r: &RouteFile,
    raw: &FileConfig,
) -> RouteAuth {
    let path = format!("routes[{i}].auth");
    let auth = match &r.auth {
        None => {
            d.push(&path, "missing; routes deny by default: list authenticators, or write auth = \"anonymous\"");
            RouteAuth::Anonymous
        }
        Some(AuthSpec::One(s)) if s == "anonymous" => RouteAuth::Anonymous,
        Some(AuthSpec::Many(v)) if v.len() == 1 && v[0] == "anonymous" => RouteAuth::Anonymous,
        Some(AuthSpec::One(s)) => auth_names(d, &path, std::slice::from_ref(s), raw),
        Some(AuthSpec::Many(v)) => auth_names(d, &path, v, raw),
    };
    if auth == RouteAuth::Anonymous {
        d.warn(format!(
            "routes[{i}] ({name}): anonymous route; requests reach upstream without authentication"
        ));
        if !r.require.scopes.is_empty() || !r.require.claims.is_empty() {
            d.push(
                format!("routes[{i}].require"),
                "scopes and claims cannot be required on an anonymous route",
            );
        }
    }
    auth
}

fn auth_names(d: &mut Diag<'_>, path: &str, names: &[String], raw: &FileConfig) -> RouteAuth {
    if names.is_empty() {
        d.push(
            path,
            "empty list; name an authenticator or write \"anonymous\"",
        );
    }
    for n in names {
        if n == "anonymous" {
            d.push(path, "\"anonymous\" cannot be combined with authenticators");
        } else if !raw.authenticators.contains_key(n) {
            d.push(
                path,
                format!(
                    "no authenticator named {n:?}{}",
                    closest(n, raw.authenticators.keys())
                ),
            );
        }
    }
    RouteAuth::AnyOf(names.to_vec())
}

pub(super) fn rate_limit(
    d: &mut Diag<'_>,
    i: usize,
    rl: &RateLimitFile,
    r: &RouteFile,
) -> Option<RateLimit> {
    let p = |k: &str| format!("routes[{i}].rate_limit.{k}");
    let per = match rl.per.as_deref().unwrap_or("ip") {
        "ip" => RateKey::Ip,
        "subject" => RateKey::Subject,
        other => {
            d.push(
                p("per"),
                format!("unknown value {other:?}; expected \"ip\" or \"subject\""),
            );
            RateKey::Ip
        }
    };
    let anonymous = r
        .auth
        .as_ref()
        .is_none_or(|a| matches!(a, AuthSpec::One(s) if s == "anonymous"));
    if per == RateKey::Subject && anonymous {
        d.push(p("per"), "\"subject\" needs an authenticated route");
    }
    let rate = Rate::parse(&rl.rate, rl.burst.unwrap_or(1));
    d.take(p("rate"), rate.map(Some), None)
        .map(|rate| RateLimit { per, rate })
}

/// `require.claims`: exactly one rule per claim.
pub(super) fn claim_rules(
    d: &mut Diag<'_>,
    route: usize,
    rules: &BTreeMap<String, ClaimRuleFile>,
) -> Vec<(String, ClaimRule)> {
    let mut out = Vec::new();
    for (claim, r) in rules {
        let rule = match (&r.equals, &r.one_of, &r.glob, &r.contains) {
            (Some(v), None, None, None) => ClaimRule::Equals(v.clone()),
            (None, Some(v), None, None) => ClaimRule::OneOf(v.clone()),
            (None, None, Some(v), None) => ClaimRule::Glob(v.clone()),
            (None, None, None, Some(v)) => ClaimRule::Contains(v.clone()),
            _ => {
                d.push(
                    format!("routes[{route}].require.claims.{claim}"),
                    "write exactly one of equals, one_of, glob, contains",
                );
                continue;
            }
        };
        out.push((claim.clone(), rule));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    #[test]
    fn claim_rules_take_exactly_one_form() {
        let mut s = Scratch::default();
        let mut d = s.diag();
        let mut rules = BTreeMap::new();
        rules.insert(
            "email".to_string(),
            ClaimRuleFile {
                glob: Some("*@x".into()),
                ..ClaimRuleFile::default()
            },
        );
        rules.insert(
            "role".to_string(),
            ClaimRuleFile {
                equals: Some("a".into()),
                contains: Some("b".into()),
                ..ClaimRuleFile::default()
            },
        );
        let out = claim_rules(&mut d, 0, &rules);
        assert_eq!(
            out,
            vec![("email".to_string(), ClaimRule::Glob("*@x".into()))]
        );
        assert_eq!(s.errors[0].path, "routes[0].require.claims.role");
    }
}
