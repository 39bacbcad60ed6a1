//! W3C Trace Context (Level 1): the gateway continues a client's valid
//! `traceparent` (or starts a trace), is a span of its own in it, passes
//! that span to the upstream as the new parent, and writes both ids into
//! the access log line. `tracestate` travels on untouched with a continued
//! trace and is dropped with a new one; an invalid `traceparent` is
//! replaced, as the specification asks, not forwarded.

use http::{HeaderMap, HeaderName, HeaderValue};

pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// One request's place in a trace: the trace, the gateway's span, the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
    /// The client's trace (else one this request started).
    pub continued: bool,
    /// The client's span, the gateway span's parent (when continued).
    parent: Option<[u8; 8]>,
}

impl TraceContext {
    /// Continues the request's `traceparent` when it is valid, else starts
    /// a new, unsampled trace; either way with a new span id.
    pub fn continue_or_start(headers: &HeaderMap) -> TraceContext {
        let incoming = headers
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse);
        let span_id = new_span_id();
        match incoming {
            // Only the sampled bit is defined (a later version's others are not ours).
            Some((trace_id, parent, flags)) => TraceContext {
                trace_id,
                span_id,
                flags: flags & 0x01,
                continued: true,
                parent: Some(parent),
            },
            None => {
                let mut trace_id = [0u8; 16];
                random(&mut trace_id);
                TraceContext {
                    trace_id,
                    span_id,
                    flags: 0,
                    continued: false,
                    parent: None,
                }
            }
        }
    }

    /// `traceparent` for the upstream: this trace, the gateway's span as parent.
    pub fn traceparent(&self) -> HeaderValue {
        // Written in place: 00-<32 hex>-<16 hex>-<2 hex>.
        let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
        let hexed = hex::encode_to_slice(self.trace_id, &mut buf[3..35])
            .and_then(|()| hex::encode_to_slice(self.span_id, &mut buf[36..52]))
            .and_then(|()| hex::encode_to_slice([self.flags], &mut buf[53..55]));
        let mut value = match hexed {
            Ok(()) => {
                HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static(""))
            }
            Err(_) => HeaderValue::from_static(""),
        };
        // A new span id per request: HPACK never-indexed toward an HTTP/2
        // upstream, like the request id (see request_id::request_id).
        value.set_sensitive(true);
        value
    }

    /// Whether the trace is sampled (its `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 0x01 == 1
    }

    /// Marks a trace this gateway started as sampled (it records it).
    pub fn set_sampled(&mut self) {
        self.flags |= 0x01;
    }

    /// The same trace with `span_id` as the span the upstream sees as parent.
    pub fn with_span(self, span_id: [u8; 8]) -> TraceContext {
        TraceContext { span_id, ..self }
    }

    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    pub fn span_id_bytes(&self) -> [u8; 8] {
        self.span_id
    }

    /// The client's span this request continues, if any.
    pub fn parent_id(&self) -> Option<[u8; 8]> {
        self.parent
    }

    pub fn trace_id(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_id(&self) -> String {
        hex::encode(self.span_id)
    }
}

/// Never all zeros (an invalid id). Ids must be unique, not secret: SipHash
/// under per-process random keys (std's `RandomState`) of a counter costs
/// tens of nanoseconds, where the system CSPRNG measured 1.6 us of gateway
/// CPU per request on the cached-JWT path (bench/pair.sh).
pub fn new_span_id() -> [u8; 8] {
    let mut id = [0u8; 8];
    random(&mut id);
    id
}

fn random(out: &mut [u8]) {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
    for chunk in out.chunks_mut(8) {
        let v = keys.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    if out.iter().all(|&b| b == 0) {
        out[0] = 1;
    }
}

/// `version-traceid-parentid-flags`: version 00 exactly (a later version by
/// its first four fields, §3.2.4), lowercase hex, no all-zero id.
fn parse(v: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    let b = v.as_bytes();
    let version = v.get(0..2)?;
    let exact = version == "00";
    if version == "ff" || (exact && b.len() != 55) || (!exact && b.len() < 55) {
        return None;
    }
    if !exact && b.len() > 55 && b[55] != b'-' {
        return None;
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let lower_hex = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    };
    let (trace, parent, flags) = (v.get(3..35)?, v.get(36..52)?, v.get(53..55)?);
    if !lower_hex(version) || !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags) {
        return None;
    }
    let mut trace_id = [0u8; 16];
    hex::decode_to_slice(trace, &mut trace_id).ok()?;
    let mut parent_id = [0u8; 8];
    hex::decode_to_slice(parent, &mut parent_id).ok()?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, parent_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(&TRACEPARENT, v.parse().unwrap());
        h
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        // The W3C specification's example.
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::continue_or_start(&with(v));
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(t.span_id(), "00f067aa0ba902b7");
        assert_eq!(
            t.parent_id().map(hex::encode).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert!(t.sampled());
        let out = t.traceparent();
        assert!(out.is_sensitive(), "unique per request: never indexed");
        let out = out.to_str().unwrap();
        assert!(
            out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{out}"
        );
        assert!(out.ends_with(&format!("{}-01", t.span_id())), "{out}");
        // A later version is read by its first four fields.
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-what-the-future-holds";
        let t2 = TraceContext::continue_or_start(&with(later));
        assert_eq!(t2.trace_id(), t.trace_id());
        // Only the sampled bit of a later version's flags is carried.
        assert!(t2.traceparent().to_str().unwrap().ends_with("-01"));
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "junk",
        ] {
            let t = TraceContext::continue_or_start(&with(bad));
            assert_ne!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_ne!(t.trace_id(), "0".repeat(32), "{bad}");
            assert!(t.traceparent().to_str().unwrap().ends_with("-00"), "{bad}");
        }
    }
}
