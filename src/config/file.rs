//! The serde mirror of `gateway.toml`: exactly the keys an operator may write.
//!
//! Every struct denies unknown fields so a typo fails loudly instead of silently
//! disabling a check. Durations, sizes and addresses stay strings here; the
//! validator in `mod.rs` parses them so it can report every problem at once
//! with its key path.

pub use super::authn_file::{
    ApiKeyFile, AuthenticatorFile, DecryptionKeyFile, DecryptionKeysFile, DpopFile, DpopTableFile,
    HttpSignatureFile, IntrospectionFile, IssuedFile, JwtFile, MtlsFile, OAuth1File,
};
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
    #[serde(default)]
    pub outbound: OutboundFile,
    /// The token endpoint (RFC 6749 §5), absent unless configured.
    pub issuer: Option<IssuerFile>,
    /// The auth-decision endpoint for other proxies, absent unless configured.
    pub decision: Option<super::decision_file::DecisionFile>,
    /// OpenTelemetry span export, absent unless configured.
    #[serde(default)]
    pub tracing: super::tracing_file::TracingFile,
}

/// `[issuer]`: the gateway's own token endpoint, refresh, revoke and logout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerFile {
    pub path: Option<String>,
    pub revocation_path: Option<String>,
    pub logout_path: Option<String>,
    /// The issuer identifier (`iss`, RFC 8414 `issuer`): an https URL.
    pub url: Option<String>,
    /// The `aud` of access tokens (default: `url`).
    pub audience: Option<String>,
    /// `file:`/`env:` PKCS#8 Ed25519 (EdDSA) or P-256 (ES256) private key.
    pub key: Option<String>,
    pub kid: Option<String>,
    /// Generate an Ed25519 key at `key` when missing: development only.
    pub dev_generate: Option<bool>,
    #[serde(default)]
    pub access_token: AccessTokenFile,
    #[serde(default)]
    pub refresh_token: RefreshTokenFile,
    pub verifier: Option<VerifierFile>,
    #[serde(default)]
    pub failed_logins: FailedLoginsFile,
    pub dpop: Option<DpopFile>,
    /// "off" | "optional" (default) | "required": logins inside OHTTP envelopes.
    pub sealed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenFile {
    /// "jwt" (default) or "opaque".
    pub format: Option<String>,
    pub ttl: Option<String>,
    /// Encrypt JWT access tokens (nested JWE) to a key the gateway holds.
    pub encrypt: Option<EncryptFile>,
}

/// `encrypt = { key = "file:...", kid = "...", alg = "ECDH-ES", enc = "A256GCM" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptFile {
    pub key: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub enc: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenFile {
    pub ttl: Option<String>,
    pub remember_ttl: Option<String>,
    pub idle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierFile {
    pub upstream: Option<String>,
    pub path: Option<String>,
    pub users_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedLoginsFile {
    pub per_user: Option<String>,
    pub per_ip: Option<String>,
    pub burst: Option<u32>,
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
    /// Bind both listeners with SO_REUSEPORT so a second process with the
    /// same addresses can serve beside this one (restarts without refusals).
    pub reuse_port: Option<bool>,
    pub handshake_timeout: Option<String>,
    /// How long an HTTP/1.1 client may take to send a request head (slowloris guard).
    pub header_read_timeout: Option<String>,
    /// The longest pause between request body bytes (408 after it).
    pub body_read_timeout: Option<String>,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Option<String>,
    pub max_connections: Option<u64>,
    /// Per client IP (peers in trusted_proxies are exempt).
    pub max_connections_per_ip: Option<u64>,
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
    /// Key exchange groups accepted, in preference order.
    pub key_exchange: Option<Vec<String>>,
    /// Cipher suites accepted (IANA names), in the server's preference order.
    pub cipher_suites: Option<Vec<String>>,
    /// "server" (default) or "client": whose suite order wins.
    pub cipher_preference: Option<String>,
    /// DER OCSP response stapled to the default certificate (reloaded on SIGHUP).
    pub ocsp_staple: Option<String>,
}

/// `[outbound]`: what the gateway's own connections (upstreams, Redis, JWKS,
/// introspection) offer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundFile {
    #[serde(default)]
    pub tls: OutboundTlsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundTlsFile {
    /// Key exchange groups offered, in preference order.
    pub key_exchange: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniCertFile {
    pub names: Vec<String>,
    pub cert: String,
    pub key: String,
    pub ocsp_staple: Option<String>,
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
    /// The longest pause between response body bytes (the stream ends after it).
    pub read_timeout: Option<String>,
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
    /// Protocols an HTTP/1.1 `Upgrade` may switch to (`["websocket"]`); none by default.
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// An upgraded connection with no byte either way for this long is closed.
    pub upgrade_idle_timeout: Option<String>,
    /// An upgraded connection is closed after this long (and at the credential's expiry).
    pub max_upgrade_lifetime: Option<String>,
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
