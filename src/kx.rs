//! TLS key exchange groups, chosen by configuration for both directions:
//! `listen.tls.key_exchange` (what the gateway accepts, in preference order)
//! and `outbound.tls.key_exchange` (what it offers upstreams, Redis, JWKS and
//! introspection endpoints). The default puts the post-quantum hybrid
//! X25519MLKEM768 first, so a recording of today's traffic stays sealed
//! against a future quantum computer; X25519, P-256 and P-384 follow for
//! peers that lack it. Handshakes are counted by negotiated group and version.

use crate::config::diag::Diag;
use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{NamedGroup, ProtocolVersion};
use std::sync::Arc;

pub type Groups = Vec<&'static dyn SupportedKxGroup>;

/// The names accepted, with the group each stands for.
const NAMES: &[(&str, &dyn SupportedKxGroup)] = &[
    ("X25519MLKEM768", kx_group::X25519MLKEM768),
    ("SecP256r1MLKEM768", kx_group::SECP256R1MLKEM768),
    ("X25519", kx_group::X25519),
    ("secp256r1", kx_group::SECP256R1),
    ("secp384r1", kx_group::SECP384R1),
];

/// P-384 last, for peers that only do it (CNSA-style configurations).
pub const DEFAULT: [&str; 4] = ["X25519MLKEM768", "X25519", "secp256r1", "secp384r1"];

pub fn group(name: &str) -> Option<&'static dyn SupportedKxGroup> {
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, g)| *g)
}

pub fn default_groups() -> Groups {
    DEFAULT.iter().filter_map(|n| group(n)).collect()
}

/// A `key_exchange` list: known names, no repeats, at least one.
pub fn settings(d: &mut Diag<'_>, path: &str, names: Option<&Vec<String>>) -> Groups {
    let Some(names) = names else {
        return default_groups();
    };
    let mut out: Groups = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match group(n) {
            Some(g) if out.iter().any(|o| o.name() == g.name()) => {
                d.push(format!("{path}[{i}]"), format!("{n:?} is listed twice"))
            }
            Some(g) => out.push(g),
            None => d.push(
                format!("{path}[{i}]"),
                format!("unknown group {n:?}; expected one of X25519MLKEM768, SecP256r1MLKEM768, X25519, secp256r1, secp384r1"),
            ),
        }
    }
    if names.is_empty() {
        d.push(path, "must name at least one group");
    }
    if !out.is_empty() && !out.iter().any(|g| !is_post_quantum(g.name())) {
        d.warn(format!(
            "{path}: only post-quantum hybrids; peers without ML-KEM cannot connect"
        ));
    }
    out
}

fn is_post_quantum(g: NamedGroup) -> bool {
    matches!(
        g,
        NamedGroup::X25519MLKEM768 | NamedGroup::secp256r1MLKEM768 | NamedGroup::MLKEM768
    )
}

/// aws-lc-rs with `groups` in this order (the one crypto provider).
pub fn provider(groups: &[&'static dyn SupportedKxGroup]) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    p.kx_groups = groups.to_vec();
    Arc::new(p)
}

/// The metric label of a negotiated group (`resumed` when a TLS 1.2
/// resumption skipped the key exchange).
pub fn group_label(g: Option<NamedGroup>) -> &'static str {
    let Some(g) = g else {
        return "resumed";
    };
    NAMES
        .iter()
        .find(|(_, k)| k.name() == g)
        .map_or("other", |(n, _)| *n)
}

pub fn version_label(v: Option<ProtocolVersion>) -> &'static str {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "other",
    }
}

/// The group and version labels of an established connection.
pub fn labels<D>(conn: &rustls::ConnectionCommon<D>) -> [&'static str; 2] {
    [
        group_label(conn.negotiated_key_exchange_group().map(|g| g.name())),
        version_label(conn.protocol_version()),
    ]
}
