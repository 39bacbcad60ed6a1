//! A route's `upgrades`: which HTTP/1.1 protocol switches (RFC 9110 §7.8,
//! WebSocket's `Upgrade: websocket`) it relays, and how long an upgraded
//! connection may stay open. Off unless listed: an upgrade asked of any other
//! route is refused before anything is forwarded.

use crate::config::diag::Diag;
use crate::config::file::RouteFile;
use std::time::Duration;

/// The longest an upgraded connection may carry no byte either way, unless set.
const DEFAULT_IDLE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upgrades {
    /// Lowercased protocol names (`websocket`); empty: no upgrades.
    pub protocols: Vec<String>,
    /// Closed after this long without a byte in either direction.
    pub idle_timeout: Duration,
    /// Closed after this long in any case; the credential's own remaining
    /// lifetime is the bound when it is shorter (or when this is unset).
    pub max_lifetime: Option<Duration>,
}

impl Upgrades {
    /// Whether `protocol` (as the client's `Upgrade` header names it) is relayed.
    pub fn allows(&self, protocol: &[u8]) -> bool {
        self.protocols
            .iter()
            .any(|p| p.as_bytes().eq_ignore_ascii_case(protocol))
    }
}

/// Validates `upgrades`, `upgrade_idle_timeout` and `max_upgrade_lifetime`.
pub fn upgrades(d: &mut Diag<'_>, i: usize, r: &RouteFile) -> Upgrades {
    let p = |k: &str| format!("routes[{i}].{k}");
    let mut protocols = Vec::new();
    for (j, name) in r.upgrades.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        let problem = if lower.is_empty() || !lower.bytes().all(is_token_byte) {
            Some(format!("{name:?} is not a protocol name (RFC 9110 token)"))
        } else if lower == "h2c" {
            Some("\"h2c\" cannot be relayed: clients reach the gateway over TLS and negotiate HTTP/2 with ALPN".into())
        } else if protocols.contains(&lower) {
            Some(format!("{name:?} is listed twice"))
        } else {
            None
        };
        match problem {
            Some(m) => d.push(format!("routes[{i}].upgrades[{j}]"), m),
            None => protocols.push(lower),
        }
    }
    if protocols.is_empty() {
        let set = [
            ("upgrade_idle_timeout", r.upgrade_idle_timeout.is_some()),
            ("max_upgrade_lifetime", r.max_upgrade_lifetime.is_some()),
        ];
        for (key, _) in set.iter().filter(|(_, on)| *on) {
            d.push(p(key), "has no effect without upgrades = [\"websocket\"]");
        }
    }
    let idle_timeout = d.duration(
        p("upgrade_idle_timeout"),
        r.upgrade_idle_timeout.as_ref(),
        DEFAULT_IDLE,
    );
    let max_lifetime = r
        .max_upgrade_lifetime
        .as_ref()
        .map(|v| d.duration(p("max_upgrade_lifetime"), Some(v), DEFAULT_IDLE));
    for (key, v) in [
        ("upgrade_idle_timeout", Some(idle_timeout)),
        ("max_upgrade_lifetime", max_lifetime),
    ] {
        if v.is_some_and(|v| v.is_zero()) {
            d.push(p(key), "must be longer than zero");
        }
    }
    Upgrades {
        protocols,
        idle_timeout,
        max_lifetime,
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::errors_of;

    fn file(upgrades: &[&str], idle: Option<&str>, life: Option<&str>) -> RouteFile {
        RouteFile {
            upgrades: upgrades.iter().map(|s| s.to_string()).collect(),
            upgrade_idle_timeout: idle.map(str::to_string),
            max_upgrade_lifetime: life.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn protocols_are_tokens_compared_without_case() {
        let mut got = Upgrades::default();
        let errors = errors_of(|d| got = upgrades(d, 0, &file(&["WebSocket"], None, Some("1h"))));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(got.allows(b"websocket") && got.allows(b"WEBSOCKET") && !got.allows(b"h2c"));
        assert_eq!(got.idle_timeout, DEFAULT_IDLE);
        assert_eq!(got.max_lifetime, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn bad_names_h2c_duplicates_and_orphan_timeouts_are_refused() {
        let errors = errors_of(|d| {
            upgrades(
                d,
                2,
                &file(
                    &["web socket", "h2c", "websocket", "websocket"],
                    Some("0s"),
                    None,
                ),
            );
        });
        assert_eq!(
            errors,
            [
                "routes[2].upgrades[0]",
                "routes[2].upgrades[1]",
                "routes[2].upgrades[3]",
                "routes[2].upgrade_idle_timeout"
            ]
        );
        let errors = errors_of(|d| {
            upgrades(d, 0, &file(&[], Some("1m"), Some("1h")));
        });
        assert_eq!(
            errors,
            [
                "routes[0].upgrade_idle_timeout",
                "routes[0].max_upgrade_lifetime"
            ]
        );
    }
}
