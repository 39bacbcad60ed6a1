//! `[upstreams.NAME]`: where a route's requests go, and the client settings
//! for getting there.

use crate::config::diag::Diag;
use crate::config::file::UpstreamFile;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamKind {
    Echo,
    Targets(Vec<http::Uri>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    Http1,
    Http2,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub kind: UpstreamKind,
    pub protocol: UpstreamProtocol,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_idle_per_target: usize,
    pub ca: Option<PathBuf>,
    pub preserve_host: bool,
    pub eject_after: u32,
    pub eject_for: Duration,
}

fn kind(d: &mut Diag<'_>, name: &str, u: &UpstreamFile) -> UpstreamKind {
    let p = |k: &str| format!("upstreams.{name}.{k}");
    let kind = match (u.builtin.as_deref(), u.targets.is_empty()) {
        (Some("echo"), true) => UpstreamKind::Echo,
        (Some(other), true) => {
            d.push(
                p("builtin"),
                format!("unknown builtin {other:?}; the only builtin is \"echo\""),
            );
            UpstreamKind::Echo
        }
        (Some(_), false) => {
            d.push(p("targets"), "set either builtin or targets, not both");
            UpstreamKind::Echo
        }
        (None, true) => {
            d.push(p("targets"), "list at least one target such as \"http://127.0.0.1:8080\", or set builtin = \"echo\"");
            UpstreamKind::Echo
        }
        (None, false) => UpstreamKind::Targets(
            u.targets
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    d.take(
                        format!("{}[{i}]", p("targets")),
                        target_uri(t).map(Some),
                        None,
                    )
                })
                .collect(),
        ),
    };
    if let UpstreamKind::Targets(ts) = &kind {
        if ts.iter().any(|t| t.scheme_str() == Some("http")) {
            d.warn(format!(
                "upstreams.{name}: plaintext http target; traffic to it is not encrypted"
            ));
        }
    }
    kind
}

/// Validates one `[upstreams.NAME]` table.
pub fn upstream(d: &mut Diag<'_>, name: &str, u: &UpstreamFile) -> Upstream {
    let p = |k: &str| format!("upstreams.{name}.{k}");
    let kind = kind(d, name, u);
    let protocol = match u.protocol.as_deref().unwrap_or("http1") {
        "http1" => UpstreamProtocol::Http1,
        "h2" => UpstreamProtocol::Http2,
        other => {
            d.push(
                p("protocol"),
                format!("unknown protocol {other:?}; expected \"http1\" or \"h2\""),
            );
            UpstreamProtocol::Http1
        }
    };
    let ca = u.ca.as_ref().map(|c| d.path(c));
    if let Some(ca) = &ca {
        if let Err(m) = crate::net::load_roots(ca) {
            d.push(p("ca"), m);
        }
    }
    Upstream {
        name: name.to_string(),
        kind,
        protocol,
        connect_timeout: d.duration(
            p("connect_timeout"),
            u.connect_timeout.as_ref(),
            Duration::from_secs(2),
        ),
        request_timeout: d.duration(
            p("request_timeout"),
            u.request_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        read_timeout: d.duration(
            p("read_timeout"),
            u.read_timeout.as_ref(),
            Duration::from_secs(60),
        ),
        idle_timeout: d.duration(
            p("idle_timeout"),
            u.idle_timeout.as_ref(),
            Duration::from_secs(90),
        ),
        max_idle_per_target: u.max_idle_per_target.unwrap_or(256),
        ca,
        preserve_host: u.preserve_host.unwrap_or(true),
        eject_after: u.eject_after.unwrap_or(3).max(1),
        eject_for: d.duration(
            p("eject_for"),
            u.eject_for.as_ref(),
            Duration::from_secs(10),
        ),
    }
}

fn target_uri(t: &str) -> Result<http::Uri, String> {
    // A target has no path or query, so an '@' can only end userinfo.
    if t.contains('@') {
        // Not echoed: the part before '@' is a credential.
        return Err(
            "a target URL must not carry credentials (user:password@): the gateway never sends them"
                .into(),
        );
    }
    let uri: http::Uri = t.parse().map_err(|_| format!("invalid target URL {t:?}"))?;
    match (uri.scheme_str(), uri.authority(), uri.path()) {
        (Some("http" | "https"), Some(_), "/" | "") if uri.query().is_none() => Ok(uri),
        (Some("http" | "https"), Some(_), _) => {
            Err(format!("target {t:?} must not have a path or query"))
        }
        _ => Err(format!(
            "target {t:?} must be an http:// or https:// URL with a host"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    #[test]
    fn targets_are_origins_and_kinds_are_exclusive() {
        assert!(target_uri("http://127.0.0.1:8080").is_ok());
        assert!(target_uri("https://api.internal/").is_ok());
        assert!(target_uri("https://api.internal/v1").is_err());
        assert!(target_uri("ftp://x").is_err());
        let with_credentials = target_uri("https://user:hunter2@api.internal").unwrap_err();
        assert!(with_credentials.contains("credentials"));
        assert!(!with_credentials.contains("hunter2"), "{with_credentials}");
        let mut s = Scratch::default();
        let mut d = s.diag();
        let both = UpstreamFile {
            builtin: Some("echo".into()),
            targets: vec!["http://a:1".into()],
            ..UpstreamFile::default()
        };
        upstream(&mut d, "u", &both);
        let plain = UpstreamFile {
            targets: vec!["http://a:1".into()],
            protocol: Some("h3".into()),
            ..UpstreamFile::default()
        };
        let u = upstream(&mut d, "v", &plain);
        assert_eq!(
            u.kind,
            UpstreamKind::Targets(vec!["http://a:1".parse().unwrap()])
        );
        let paths: Vec<&str> = s.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["upstreams.u.targets", "upstreams.v.protocol"]);
        assert_eq!(s.warnings.len(), 1, "plaintext targets are warned about");
    }
}
