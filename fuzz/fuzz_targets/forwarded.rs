//! Forwarding hygiene on arbitrary client headers: hop-by-hop removal (with
//! `Connection` naming any header), X-Forwarded-For/Proto/Host and RFC 7239
//! `Forwarded` from a trusted or untrusted peer, and the request id. Checks:
//! no hop-by-hop header survives, the peer the gateway saw is always the last
//! X-Forwarded-For element and the last `Forwarded` element, and an untrusted
//! peer's own chain never survives.
#![no_main]
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sealgate::forwarding::{self, Downstream, PeerForwarding, X_FORWARDED_FOR};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let host = lines
        .next()
        .and_then(|h| std::str::from_utf8(h).ok())
        .unwrap_or("");
    let mut headers = HeaderMap::new();
    for line in lines.take(16) {
        let Some(i) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..i]),
            HeaderValue::from_bytes(&line[i + 1..]),
        ) else {
            continue;
        };
        headers.append(n, v);
    }
    let _ = forwarding::request_id(&headers);
    forwarding::strip_hop_by_hop(&mut headers);
    for h in [header::CONNECTION, header::UPGRADE, header::TRANSFER_ENCODING] {
        assert!(!headers.contains_key(h));
    }
    if let Some(te) = headers.get(header::TE) {
        assert!(te.as_bytes().eq_ignore_ascii_case(b"trailers"));
    }
    let peer_ip = if flags & 2 == 0 {
        std::net::IpAddr::from([192, 0, 2, flags])
    } else {
        std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(flags)])
    };
    let peer = PeerForwarding::new(peer_ip);
    let trusted = flags & 1 == 1;
    let before_xff = headers.get_all(&X_FORWARDED_FOR).iter().count();
    forwarding::set_forwarded(
        &mut headers,
        &Downstream {
            peer: &peer,
            peer_trusted: trusted,
            host,
        },
    );
    let ip = peer_ip.to_string();
    let xff: Vec<_> = headers.get_all(&X_FORWARDED_FOR).iter().collect();
    if let Some(last) = xff.last() {
        let text = last.to_str().expect("gateway-written XFF is ASCII");
        assert!(text.rsplit(',').next().map(str::trim) == Some(ip.as_str()), "{text}");
        if !trusted {
            assert_eq!(text, ip);
        }
    } else {
        // Only a trusted chain that cannot be written back is dropped.
        assert!(trusted && before_xff > 0);
    }
    if let Some(fwd) = headers.get(header::FORWARDED) {
        // A quoted host may carry obs-text (RFC 7239 quoted-string allows it).
        let text = String::from_utf8_lossy(fwd.as_bytes());
        assert!(text.ends_with(";proto=https"), "{text}");
        if !trusted {
            // Only the gateway's own element: the client's list is gone.
            let own = match peer_ip {
                std::net::IpAddr::V4(_) => format!("for={ip}"),
                std::net::IpAddr::V6(_) => format!("for=\"[{ip}]\""),
            };
            assert!(text.starts_with(&own), "{text}");
        }
    }
});
