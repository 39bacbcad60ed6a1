//! The serde mirror of `gateway.toml`: exactly the keys an operator may write.
//!
//! Every struct denies unknown fields so a typo fails loudly instead of silently
//! disabling a check. Durations, sizes and addresses stay strings here; the
//! validator in `mod.rs` parses them so it can report every problem at once
//! with its key path.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub listen: ListenFile,
    #[serde(default)]
    pub admin: AdminFile,
    #[serde(default)]
    pub store: StoreFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub log: LogFile,
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamFile>,
    #[serde(default)]
    pub authenticators: BTreeMap<String, AuthenticatorFile>,
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    #[serde(default)]
    pub identity: IdentityFile,
    #[serde(default)]
    pub reload: ReloadFile,
    #[serde(default)]
    pub envelope: EnvelopeFile,
}

/// Oblivious HTTP (RFC 9458) gateway settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeFile {
    pub path: Option<String>,
    pub max_size: Option<String>,
    pub keys_max_age: Option<String>,
    #[serde(default)]
    pub keys: Vec<EnvelopeKeyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeKeyFile {
    pub id: i64,
    pub kem: Option<String>,
    /// `file:`/`env:` reference to the raw private key (hex or 32 bytes).
    pub private_key: String,
    /// "active" (published and accepted) or "retiring" (accepted, not published).
    pub state: Option<String>,
    #[serde(default)]
    pub aeads: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadFile {
    /// Reload when the file or a certificate/key it references changes (SIGHUP always reloads).
    pub watch: Option<bool>,
    pub poll_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenFile {
    pub address: Option<String>,
    #[serde(default)]
    pub tls: TlsFile,
    /// CIDRs whose X-Forwarded-*/Forwarded headers are kept and appended to.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub shutdown_grace: Option<String>,
    pub handshake_timeout: Option<String>,
    /// How long an HTTP/1.1 client may take to send a request head (slowloris guard).
    pub header_read_timeout: Option<String>,
    /// Strict-Transport-Security value sent on every response, e.g. "max-age=31536000".
    pub hsts: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub dev_self_signed: Option<bool>,
    pub client_ca: Option<String>,
    /// Stateless TLS session tickets (RFC 8446 §4.6.1 / RFC 5077) for resumption.
    pub session_tickets: Option<bool>,
    /// Server-side session cache entries (TLS 1.2 session ids, stateful tickets); 0 disables.
    pub session_cache: Option<usize>,
    /// Extra certificates chosen by SNI; the `cert`/`key` pair is the default.
    #[serde(default)]
    pub sni: Vec<SniCertFile>,
    /// "off", "optional" or "required" (default: required when client_ca is set).
    pub client_auth: Option<String>,
    /// PEM CRLs checked for client certificates.
    #[serde(default)]
    pub crls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniCertFile {
    pub names: Vec<String>,
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    pub address: Option<String>,
    /// `env:`/`file:` reference to the admin API bearer token; the API is off without it.
    pub token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    pub kind: Option<String>,
    pub url: Option<String>,
    /// PEM CA bundle that signs the Redis servers' certificates (rediss:// only;
    /// default: the system roots).
    pub ca: Option<String>,
    pub key_prefix: Option<String>,
    pub connect_timeout: Option<String>,
    pub command_timeout: Option<String>,
    /// Memory store only: the most entries kept.
    pub max_entries: Option<u64>,
    /// How long a subject revocation ("tokens issued before T") is kept.
    pub subject_revocation_ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// "ip" or "subject".
    pub per: Option<String>,
    pub rate: String,
    pub burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_request_body: Option<String>,
    pub max_header_count: Option<usize>,
    pub max_header_bytes: Option<String>,
    /// Failed authentications per client IP before 429 (slows token guessing).
    pub failed_auth: Option<RateLimitFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    pub builtin: Option<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    /// "http1" (default) or "h2": HTTP/2 over TLS (ALPN) or cleartext prior knowledge (h2c).
    pub protocol: Option<String>,
    pub connect_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub max_idle_per_target: Option<usize>,
    /// PEM bundle trusted for https targets instead of the system roots.
    pub ca: Option<String>,
    /// Send the client's Host to the upstream (default) instead of the target's.
    pub preserve_host: Option<bool>,
    /// Consecutive connect failures or timeouts that eject a target.
    pub eject_after: Option<u32>,
    pub eject_for: Option<String>,
}

/// A string, or a number or boolean written without quotes (`max_token_size =
/// 16384`, or an environment override the config crate parsed as a number).
/// Inside a kind-tagged table serde buffers the values first, and a buffered
/// number no longer converts to a string by itself.
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Uint(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|v| match v {
        Scalar::Text(s) => s,
        Scalar::Int(n) => n.to_string(),
        Scalar::Uint(n) => n.to_string(),
        Scalar::Float(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }))
}

/// One `[authenticators.NAME]` table, tagged by `kind`: each kind has its own
/// keys, so a key of one kind on another kind's table is an error naming it.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AuthenticatorFile {
    Jwt(JwtFile),
    Mtls(MtlsFile),
    ApiKey(ApiKeyFile),
    Introspection(IntrospectionFile),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtFile {
    #[serde(default, deserialize_with = "lenient")]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// `file:`/`env:` reference: a PEM public key or a JWKS, or the HMAC secret for HS*.
    #[serde(default, deserialize_with = "lenient")]
    pub keys: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_url: Option<String>,
    pub discovery: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_refresh: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_max_stale: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_cooldown: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
    pub require_exp: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_lifetime: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub typ: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_token_size: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub token_cookie: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub token_header: Option<String>,
    /// Generate an Ed25519 key pair at `keys` (public) when missing: development only.
    pub dev_generate: Option<bool>,
    /// RFC 8705: accept only tokens bound to the presented client certificate.
    pub certificate_bound: Option<bool>,
}

/// `kind = "mtls"`: the verified TLS client certificate is the credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsFile {
    /// san_uri (default; SPIFFE IDs), san_dns, san_email or subject_cn.
    #[serde(default, deserialize_with = "lenient")]
    pub identity: Option<String>,
    /// Patterns the identity must match: `*` within a segment, `**` across.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `kind = "api-key"`: hashed keys in the store (or a hashes-only file).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyFile {
    /// Recognisable key prefix (default "sgk_").
    #[serde(default, deserialize_with = "lenient")]
    pub prefix: Option<String>,
    /// Read the key from this header instead of `Authorization: Bearer`.
    #[serde(default, deserialize_with = "lenient")]
    pub header: Option<String>,
    /// A TOML file of `[[keys]]` hashes instead of the store.
    #[serde(default, deserialize_with = "lenient")]
    pub keys_file: Option<String>,
}

/// `kind = "introspection"`: RFC 7662 token introspection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionFile {
    #[serde(default, deserialize_with = "lenient")]
    pub endpoint: Option<String>,
    /// Find `introspection_endpoint` in `{issuer}/.well-known/openid-configuration`.
    pub discovery: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub client_id: Option<String>,
    /// `env:`/`file:` reference.
    #[serde(default, deserialize_with = "lenient")]
    pub client_secret: Option<String>,
    /// client_secret_basic (default) or client_secret_post.
    #[serde(default, deserialize_with = "lenient")]
    pub client_auth: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub token_type_hint: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub cache_max: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub cache_inactive: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_response: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub max_token_size: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub token_header: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub name: Option<String>,
    pub host: Option<String>,
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    pub upstream: Option<String>,
    pub auth: Option<AuthSpec>,
    #[serde(default)]
    pub require: RequireFile,
    pub sealed: Option<String>,
    pub max_request_body: Option<String>,
    pub forward_credentials: Option<bool>,
    /// "deny" (default) or "allow" when the state store is unavailable.
    pub on_store_error: Option<String>,
    /// Accept each token `jti` once (single sign-on hand-off tokens).
    pub single_use: Option<bool>,
    pub rate_limit: Option<RateLimitFile>,
    /// Sealed requests must carry a Date within this window and a fresh encapsulated key.
    pub replay_window: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AuthSpec {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireFile {
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: BTreeMap<String, ClaimRuleFile>,
}

/// A rule on one claim: exactly one of the fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRuleFile {
    pub equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub glob: Option<String>,
    pub contains: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    pub subject_header: Option<String>,
    pub issuer_header: Option<String>,
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    pub max_header_bytes: Option<String>,
    #[serde(default)]
    pub assertion: AssertionFile,
    /// Send the verified client certificate to backends in `client_cert_header`.
    pub forward_client_cert: Option<bool>,
    /// Default "x-forwarded-client-cert"; client-sent copies are always removed.
    pub client_cert_header: Option<String>,
    /// Query parameters removed before forwarding; default ["access_token"].
    pub strip_query: Option<Vec<String>>,
    /// More client-sent headers removed on every route.
    #[serde(default)]
    pub strip_also: Vec<String>,
    /// Headers of the default stripped set to forward deliberately.
    #[serde(default)]
    pub keep: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionFile {
    pub header: Option<String>,
    /// `file:`/`env:` reference to the PKCS#8 PEM signing key (Ed25519 or P-256).
    pub key: Option<String>,
    pub ttl: Option<String>,
    pub issuer: Option<String>,
    /// Extra public keys (PEM paths) published in the JWKS for rotation.
    #[serde(default)]
    pub publish_also: Vec<String>,
    /// Generate an Ed25519 signing key at `key` when missing: development only.
    pub dev_generate: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<AuthenticatorFile, String> {
        ::config::Config::builder()
            .add_source(::config::File::from_str(toml, ::config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn kind_tables_take_numbers_for_text_keys_and_name_foreign_keys() {
        match parse("kind = \"jwt\"\nmax_token_size = 16384\n") {
            Ok(AuthenticatorFile::Jwt(j)) => assert_eq!(j.max_token_size.as_deref(), Some("16384")),
            other => panic!("{other:?}"),
        }
        match parse("kind = \"introspection\"\nclient_id = 123456\n") {
            Ok(AuthenticatorFile::Introspection(i)) => {
                assert_eq!(i.client_id.as_deref(), Some("123456"))
            }
            other => panic!("{other:?}"),
        }
        let e = parse("kind = \"mtls\"\nissuer = \"x\"\n").unwrap_err();
        assert!(
            e.contains("unknown field `issuer`") && e.contains("allow"),
            "{e}"
        );
    }
}
