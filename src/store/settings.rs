//! `[store]`: which store serves shared state, and how to reach it.

use crate::config::diag::Diag;
use crate::config::file::StoreFile;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Memory { max_entries: u64 },
    Redis { url: String },
}

impl StoreKind {
    /// A bounded label (spans, logs).
    pub fn label(&self) -> &'static str {
        match self {
            StoreKind::Memory { .. } => "memory",
            StoreKind::Redis { url } if url.starts_with("redis+cluster") => "redis-cluster",
            StoreKind::Redis { .. } => "redis",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub kind: StoreKind,
    /// CA bundle for rediss:// (None: system roots).
    pub ca: Option<PathBuf>,
    pub key_prefix: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub subject_revocation_ttl: Duration,
}

const REDIS_SCHEMES: [&str; 4] = [
    "redis://",
    "rediss://",
    "redis+cluster://",
    "rediss+cluster://",
];

fn kind(d: &mut Diag<'_>, st: &StoreFile) -> StoreKind {
    match (st.kind.as_deref().unwrap_or("memory"), &st.url) {
        ("memory", _) => StoreKind::Memory {
            max_entries: st.max_entries.unwrap_or(1_000_000),
        },
        ("redis", Some(url)) if REDIS_SCHEMES.iter().any(|p| url.starts_with(p)) => {
            StoreKind::Redis { url: url.clone() }
        }
        ("redis", _) => {
            d.push(
                "store.url",
                "set url = \"redis://host:6379\" (or rediss://, redis+cluster://)",
            );
            StoreKind::Memory { max_entries: 1 }
        }
        (other, _) => {
            d.push(
                "store.kind",
                format!("unknown store kind {other:?}; expected \"memory\" or \"redis\""),
            );
            StoreKind::Memory { max_entries: 1 }
        }
    }
}

/// Validates `[store]`.
pub fn store(d: &mut Diag<'_>, st: &StoreFile) -> Store {
    let kind = kind(d, st);
    let ca = st
        .ca
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| d.path(c));
    if let Some(ca) = &ca {
        match &kind {
            StoreKind::Redis { url } if url.starts_with("rediss") => {
                if let Err(m) = crate::net::load_roots(ca) {
                    d.push("store.ca", m);
                }
            }
            _ => d.push("store.ca", "only used with a rediss:// (TLS) store url"),
        }
    }
    Store {
        kind,
        ca,
        key_prefix: st.key_prefix.clone().unwrap_or_else(|| "sealgate:".into()),
        connect_timeout: d.duration(
            "store.connect_timeout",
            st.connect_timeout.as_ref(),
            Duration::from_secs(2),
        ),
        command_timeout: d.duration(
            "store.command_timeout",
            st.command_timeout.as_ref(),
            Duration::from_millis(500),
        ),
        subject_revocation_ttl: d.duration(
            "store.subject_revocation_ttl",
            st.subject_revocation_ttl.as_ref(),
            Duration::from_secs(30 * 86400),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    #[test]
    fn redis_needs_a_redis_url_and_ca_needs_tls() {
        let mut s = Scratch::default();
        let mut d = s.diag();
        let ok = StoreFile {
            kind: Some("redis".into()),
            url: Some("redis+cluster://a:1,b:2".into()),
            ..StoreFile::default()
        };
        assert!(matches!(store(&mut d, &ok).kind, StoreKind::Redis { .. }));
        let bad = StoreFile {
            kind: Some("redis".into()),
            url: Some("http://x".into()),
            ..StoreFile::default()
        };
        store(&mut d, &bad);
        let plain_ca = StoreFile {
            ca: Some("ca.pem".into()),
            ..StoreFile::default()
        };
        store(&mut d, &plain_ca);
        let odd = StoreFile {
            kind: Some("etcd".into()),
            ..StoreFile::default()
        };
        store(&mut d, &odd);
        let paths: Vec<&str> = s.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["store.url", "store.ca", "store.kind"]);
    }
}
