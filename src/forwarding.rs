//! Forwarding hygiene (RFC 9110 §7.6.1, RFC 7239): drop hop-by-hop headers and
//! everything `Connection` names, then set X-Forwarded-* and Forwarded from what
//! the gateway saw, keeping a client's values only when its peer is a trusted proxy.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The fixed hop-by-hop set (RFC 9110 §7.6.1 and the de-facto ones);
/// `Connection` first (`strip_hop_by_hop` reads its bit as 1).
static HOP_BY_HOP: [&HeaderName; 8] = [
    &header::CONNECTION,
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &header::PROXY_AUTHENTICATE,
    &header::PROXY_AUTHORIZATION,
    &header::TRAILER,
    &header::TRANSFER_ENCODING,
    &header::UPGRADE,
];

/// Removes hop-by-hop headers: those listed in `Connection` first, then the fixed set.
/// `TE: trailers` survives because it is the one TE value HTTP/2 allows end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names finds which are present (most messages carry
    // none, an upstream's answer often `Connection: keep-alive`); only
    // those are then removed, each a hash lookup.
    let mut present = 0u16;
    for k in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| *h == k) {
            present |= 1 << i;
        } else if k == header::TE {
            present |= TE_BIT;
        }
    }
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        // Names the fixed set already covers (keep-alive, upgrade) and
        // options that name no header here (close) need no removal of their own.
        let named: Vec<HeaderName> = connection_tokens(headers)
            .filter(|t| {
                !HOP_BY_HOP
                    .iter()
                    .any(|h| h.as_str().eq_ignore_ascii_case(t))
            })
            .filter(|t| headers.contains_key(*t))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
    if present & TE_BIT != 0 {
        let te_trailers = headers
            .get(header::TE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
        if !te_trailers {
            headers.remove(header::TE);
        }
    }
}

/// `strip_hop_by_hop`'s mark for a `TE` header (bits 0-7: `HOP_BY_HOP`).
const TE_BIT: u16 = 1 << 15;

/// The options of every `Connection` header (RFC 9110 §7.6.1), trimmed.
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The client address the gateway saw, for backends that read X-Real-IP.
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The peer's address as the forwarding headers write it, made once per connection.
#[derive(Debug)]
pub struct PeerForwarding {
    /// `X-Forwarded-For` when no earlier hop is kept: the bare address.
    xff: HeaderValue,
    /// The address as text, to append after a trusted proxy's list.
    text: Box<str>,
    /// RFC 7239 `for=` element: `for=192.0.2.1` or `for="[2001:db8::1]"`.
    forwarded_for: Box<str>,
    /// The values that depend on the Host too, made for the first Host the
    /// connection's requests name (nearly always their only one).
    by_host: std::sync::OnceLock<HostValues>,
}

#[derive(Debug)]
struct HostValues {
    host: Box<str>,
    /// `X-Forwarded-Host`; `None` when the Host cannot be a header value.
    forwarded_host: Option<HeaderValue>,
    /// `Forwarded` with no earlier hop kept.
    forwarded: Option<HeaderValue>,
}

impl PeerForwarding {
    pub fn new(peer: IpAddr) -> PeerForwarding {
        let peer = peer.to_canonical();
        let text = peer.to_string();
        let forwarded_for = match peer {
            IpAddr::V4(_) => format!("for={text}"),
            IpAddr::V6(_) => format!("for=\"[{text}]\""),
        };
        PeerForwarding {
            xff: HeaderValue::from_str(&text)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            text: text.into(),
            forwarded_for: forwarded_for.into(),
            by_host: std::sync::OnceLock::new(),
        }
    }

    /// The Host-dependent values for `host`, when it is the connection's first.
    fn for_host(&self, host: &str) -> Option<&HostValues> {
        let values = self.by_host.get_or_init(|| {
            let mut forwarded = String::new();
            self.push_forwarded(&mut forwarded, host);
            HostValues {
                host: host.into(),
                forwarded_host: HeaderValue::from_str(host).ok(),
                forwarded: HeaderValue::from_str(&forwarded).ok(),
            }
        });
        (*values.host == *host).then_some(values)
    }

    /// This hop's `Forwarded` element: `for=...;host=...;proto=https`.
    fn push_forwarded(&self, out: &mut String, host: &str) {
        out.push_str(&self.forwarded_for);
        if !host.is_empty() {
            out.push_str(";host=");
            push_forwarded_value(out, host);
        }
        out.push_str(";proto=https");
    }
}

/// What the gateway knows about the downstream side of one request.
pub struct Downstream<'a> {
    pub peer: &'a PeerForwarding,
    pub peer_trusted: bool,
    /// The Host/authority the client used, as sent (with port).
    pub host: &'a str,
}

/// Sets X-Forwarded-For/Proto/Host and Forwarded for the upstream request.
pub fn set_forwarded(headers: &mut HeaderMap, d: &Downstream<'_>) {
    let earlier_xff = d.peer_trusted && headers.contains_key(&X_FORWARDED_FOR);
    if earlier_xff {
        let mut xff = String::with_capacity(64);
        for v in headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            xff.push_str(v);
            xff.push_str(", ");
        }
        xff.push_str(&d.peer.text);
        set(headers, &X_FORWARDED_FOR, &xff);
    } else {
        headers.insert(&X_FORWARDED_FOR, d.peer.xff.clone());
    }

    // The client address as the gateway saw it (identity::strip removed any
    // client-sent copy); behind trusted proxies, X-Forwarded-For has the chain.
    headers.insert(&X_REAL_IP, d.peer.xff.clone());

    if !(d.peer_trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
    }
    let memo = d.peer.for_host(d.host);
    if !(d.peer_trusted && headers.contains_key(&X_FORWARDED_HOST)) {
        match memo {
            Some(m) => put(headers, &X_FORWARDED_HOST, m.forwarded_host.clone()),
            None => set(headers, &X_FORWARDED_HOST, d.host),
        }
    }

    let earlier = d.peer_trusted && headers.contains_key(header::FORWARDED);
    if let Some(m) = memo.filter(|_| !earlier) {
        put(headers, &header::FORWARDED, m.forwarded.clone());
        return;
    }
    let mut fwd = String::with_capacity(d.peer.forwarded_for.len() + d.host.len() + 24);
    if earlier {
        for v in headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            fwd.push_str(v);
            fwd.push_str(", ");
        }
    }
    d.peer.push_forwarded(&mut fwd, d.host);
    set(headers, &header::FORWARDED, &fwd);
}

/// Sets `name` to `value`, or removes it when there is none.
fn put(headers: &mut HeaderMap, name: &HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(v) => drop(headers.insert(name, v)),
        None => drop(headers.remove(name)),
    }
}

/// RFC 7239 values are tokens, or quoted strings when they hold other characters.
fn push_forwarded_value(out: &mut String, v: &str) {
    let token = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        out.push_str(v);
    } else {
        out.push('"');
        for c in v.chars() {
            if c == '\\' || c == '"' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
}

fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    put(headers, name, HeaderValue::from_str(value).ok());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_listed_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "websocket"),
            ("te", "gzip"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
        let mut h = headers(&[("te", "trailers")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h["te"], "trailers");
        // Listed in an upper-case, spaced Connection, or only as a TE.
        let mut h = headers(&[
            ("connection", " Close ,X-HOP "),
            ("x-hop", "1"),
            ("proxy-authorization", "Basic x"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        let mut h = headers(&[("te", "gzip"), ("x-kept", "yes")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
    }

    #[test]
    fn untrusted_peer_values_are_replaced() {
        let mut h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "evil"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        let d = Downstream {
            peer: &PeerForwarding::new("10.1.2.3".parse().unwrap()),
            peer_trusted: false,
            host: "api.example.com:8443",
        };
        set_forwarded(&mut h, &d);
        assert_eq!(h["x-forwarded-for"], "10.1.2.3");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "api.example.com:8443");
        assert_eq!(
            h["forwarded"],
            "for=10.1.2.3;host=\"api.example.com:8443\";proto=https"
        );
    }

    #[test]
    fn trusted_peer_values_are_appended() {
        let mut h = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=1.1.1.1")]);
        let d = Downstream {
            peer: &PeerForwarding::new("::1".parse().unwrap()),
            peer_trusted: true,
            host: "h",
        };
        set_forwarded(&mut h, &d);
        assert_eq!(h["x-forwarded-for"], "1.1.1.1, ::1");
        assert_eq!(
            h["forwarded"],
            "for=1.1.1.1, for=\"[::1]\";host=h;proto=https"
        );
        // An IPv4 client on a dual-stack listener is written as IPv4; a host
        // that is not a token is quoted with its quotes escaped.
        let mut h = HeaderMap::new();
        let d = Downstream {
            peer: &PeerForwarding::new("::ffff:10.0.0.9".parse().unwrap()),
            peer_trusted: false,
            host: "a\"b",
        };
        set_forwarded(&mut h, &d);
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
        assert_eq!(h["forwarded"], "for=10.0.0.9;host=\"a\\\"b\";proto=https");
    }

    #[test]
    fn a_connections_later_requests_get_the_same_values_and_other_hosts_their_own() {
        let peer = PeerForwarding::new("10.1.2.3".parse().unwrap());
        let run = |host: &str, trusted: bool, earlier: &[(&str, &str)]| {
            let mut h = headers(earlier);
            let d = Downstream {
                peer: &peer,
                peer_trusted: trusted,
                host,
            };
            set_forwarded(&mut h, &d);
            (h["x-forwarded-host"].clone(), h["forwarded"].clone())
        };
        let first = run("a.example", false, &[]);
        assert_eq!(run("a.example", false, &[]), first);
        assert_eq!(first.1, "for=10.1.2.3;host=a.example;proto=https");
        let other = run("b.example:8443", false, &[]);
        assert_eq!(other.0, "b.example:8443");
        assert_eq!(other.1, "for=10.1.2.3;host=\"b.example:8443\";proto=https");
        // A trusted proxy's earlier hop is kept even on the memo's host.
        let chained = run("a.example", true, &[("forwarded", "for=1.1.1.1")]);
        assert_eq!(
            chained.1,
            "for=1.1.1.1, for=10.1.2.3;host=a.example;proto=https"
        );
    }
}
