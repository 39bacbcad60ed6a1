//! Authorization: a [`Principal`] against a route's requirements. Scopes come
//! from `scope` (space-separated, RFC 8693/9068) or `scp` (array or string).

use crate::authn::Principal;
use crate::route::settings::{ClaimRule, Route};
use serde_json::Value;

fn scope_list(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => s.split(' ').filter(|s| !s.is_empty()).collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn scopes(p: &Principal) -> Vec<&str> {
    let mut all = scope_list(p.claims().get("scope"));
    all.extend(scope_list(p.claims().get("scp")));
    all
}

/// `*` matches any run of characters, `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn rule_holds(rule: &ClaimRule, claim: Option<&Value>) -> bool {
    match (rule, claim) {
        (ClaimRule::Equals(v), Some(Value::String(s))) => s == v,
        (ClaimRule::OneOf(vs), Some(Value::String(s))) => vs.iter().any(|v| v == s),
        (ClaimRule::Glob(g), Some(Value::String(s))) => glob(g, s),
        (ClaimRule::Contains(v), Some(Value::Array(items))) => {
            items.iter().any(|i| i.as_str() == Some(v))
        }
        _ => false,
    }
}

/// Why an authenticated caller may not use a route. 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    InsufficientScope,
    ClaimMismatch,
}

impl Denied {
    pub fn reason(self) -> &'static str {
        match self {
            Denied::InsufficientScope => "insufficient_scope",
            Denied::ClaimMismatch => "claim_mismatch",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Denied::InsufficientScope => "the token lacks a scope this route requires",
            Denied::ClaimMismatch => "the token's claims do not meet this route's requirements",
        }
    }
}

pub fn authorize(route: &Route, p: &Principal) -> Result<(), Denied> {
    if !route.require_scopes.is_empty() {
        let have = scopes(p);
        if !route
            .require_scopes
            .iter()
            .all(|s| have.contains(&s.as_str()))
        {
            return Err(Denied::InsufficientScope);
        }
    }
    for (claim, rule) in &route.require_claims {
        if !rule_holds(rule, p.claims().get(claim)) {
            return Err(Denied::ClaimMismatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*@example.com", "a@example.com"));
        assert!(!glob("*@example.com", "a@example.com.evil"));
        assert!(glob("team-?", "team-a"));
        assert!(!glob("team-?", "team-ab"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
    }

    #[test]
    fn rules() {
        use serde_json::json;
        assert!(rule_holds(
            &ClaimRule::Equals("x".into()),
            Some(&json!("x"))
        ));
        assert!(!rule_holds(
            &ClaimRule::Equals("x".into()),
            Some(&json!(["x"]))
        ));
        assert!(rule_holds(
            &ClaimRule::OneOf(vec!["a".into(), "b".into()]),
            Some(&json!("b"))
        ));
        assert!(rule_holds(
            &ClaimRule::Contains("admin".into()),
            Some(&json!(["dev", "admin"]))
        ));
        assert!(!rule_holds(&ClaimRule::Contains("admin".into()), None));
    }
}
