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
pub use super::envelope_file::{EnvelopeFile, EnvelopeKeyFile};
pub use super::issuer_file::{
    AccessTokenFile, EncryptFile, FailedLoginsFile, IssuerFile, RefreshTokenFile, VerifierFile,
};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The main TLS listener (HTTP/1.1 and HTTP/2).
    #[serde(default)]
    pub listen: ListenFile,
    /// The plain-HTTP admin listener: /metrics, /livez, /readyz, the JWKS, /admin/revocations.
    #[serde(default)]
    pub admin: AdminFile,
    /// Shared state (revocations, single use, rate limits, sessions): in memory or Redis.
    #[serde(default)]
    pub store: StoreFile,
    /// Request size limits and the failed-authentication limit.
    #[serde(default)]
    pub limits: LimitsFile,
    /// Log format and level.
    #[serde(default)]
    pub log: LogFile,
    /// The backends routes forward to, by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamFile>,
    /// How credentials are verified, by name; routes list them in `auth`.
    #[serde(default)]
    pub authenticators: BTreeMap<String, AuthenticatorFile>,
    /// What a request matches, who may use it, and where it goes; the most specific route wins.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    /// What the backend receives: identity headers, the signed assertion, what is stripped.
    #[serde(default)]
    pub identity: IdentityFile,
    /// Reloading on file changes.
    #[serde(default)]
    pub reload: ReloadFile,
    /// The Oblivious HTTP (RFC 9458) gateway endpoint and its keys.
    #[serde(default)]
    pub envelope: EnvelopeFile,
    /// TLS for the gateway's own connections (upstreams, Redis, JWKS, introspection).
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadFile {
    /// Reload when the file or a certificate/key it references changes (SIGHUP always reloads). Default `true`.
    pub watch: Option<bool>,
    /// How often watched files are checked for changes. Default `1s`.
    pub poll_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenFile {
    /// Address and port, e.g. `"0.0.0.0:8443"`. Default `127.0.0.1:8443`.
    pub address: Option<String>,
    /// Certificates, client certificates and TLS parameters.
    #[serde(default)]
    pub tls: TlsFile,
    /// CIDRs whose X-Forwarded-*/Forwarded headers are kept and appended to.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Drain time after SIGTERM before remaining connections are closed. Default `30s`.
    pub shutdown_grace: Option<String>,
    /// Bind both listeners with SO_REUSEPORT so a second process with the
    /// same addresses can serve beside this one (restarts without refusals). Default `false`.
    pub reuse_port: Option<bool>,
    /// Serving threads, each running its own single-threaded runtime with its
    /// own upstream connections (the nginx worker model): a new connection
    /// goes to the least busy one and stays there. `0` serves connections on
    /// the shared work-stealing runtime instead. Takes effect at start-up.
    /// Default: the CPUs available to the process (its affinity and, on
    /// Linux, a cgroup CPU quota).
    pub workers: Option<usize>,
    /// The longest a TLS handshake may take. Default `10s`.
    pub handshake_timeout: Option<String>,
    /// How long an HTTP/1.1 client may take to send a request head (slowloris guard). Default `30s`.
    pub header_read_timeout: Option<String>,
    /// The longest pause between request body bytes (408 after it). Default `30s`.
    pub body_read_timeout: Option<String>,
    /// A connection with no request in flight for this long is closed. Default `60s`.
    pub idle_timeout: Option<String>,
    /// Open connections at most; more are closed on accept. Default `10000`.
    pub max_connections: Option<u64>,
    /// Per client IP (peers in trusted_proxies are exempt). Default `1000`.
    pub max_connections_per_ip: Option<u64>,
    /// Strict-Transport-Security value sent on every response, e.g. "max-age=31536000".
    pub hsts: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// PEM certificate chain, leaf first. Default `certs/gateway.crt`.
    pub cert: Option<String>,
    /// PEM private key of `cert` (mode 0600). Default `certs/gateway.key`.
    pub key: Option<String>,
    /// Generate a self-signed certificate for localhost when the files are missing (development). Default `false`.
    pub dev_self_signed: Option<bool>,
    /// PEM bundle of the CAs that sign client certificates (mTLS). Default none.
    pub client_ca: Option<String>,
    /// Stateless TLS session tickets (RFC 8446 §4.6.1 / RFC 5077) for resumption. Default `true`.
    pub session_tickets: Option<bool>,
    /// Server-side session cache entries (TLS 1.2 session ids, stateful tickets); 0 disables. Default `10000`.
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
    /// Key exchange groups offered to upstreams, Redis, JWKS, introspection and the OTLP collector (read at start-up).
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
    /// Server names this certificate answers, e.g. `["api.example.com", "*.example.org"]`.
    pub names: Vec<String>,
    /// PEM certificate chain for these names.
    pub cert: String,
    /// PEM private key of `cert`.
    pub key: String,
    /// DER OCSP response stapled for this certificate. Default none.
    pub ocsp_staple: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    /// Address and port of the admin listener (plain HTTP: keep it private). Default `127.0.0.1:9090`.
    pub address: Option<String>,
    /// `env:`/`file:` reference to the admin API bearer token; the API is off without it.
    pub token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// `"memory"` (one process; default) or `"redis"` (replicas share state).
    pub kind: Option<String>,
    /// Redis URL: `redis://`, `rediss://` (TLS), `redis+cluster://host:port,host:port` or `rediss+cluster://...`.
    pub url: Option<String>,
    /// PEM CA bundle that signs the Redis servers' certificates (rediss:// only;
    /// default: the system roots).
    pub ca: Option<String>,
    /// Prefix of every Redis key (one per gateway sharing a Redis). Default `sealgate:`.
    pub key_prefix: Option<String>,
    /// Redis connect timeout. Default `2s`.
    pub connect_timeout: Option<String>,
    /// Redis command timeout (then 503, or serving per `on_store_error`). Default `500ms`.
    pub command_timeout: Option<String>,
    /// Memory store only: the most entries kept. Default `1000000`.
    pub max_entries: Option<u64>,
    /// How long a subject revocation ("tokens issued before T") is kept. Default `30d`.
    pub subject_revocation_ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// `"ip"` (default) or `"subject"`; ignored in `limits.failed_auth`, which always counts per client IP.
    pub per: Option<String>,
    /// Requests per period, e.g. `"100/s"`, `"10/m"` (GCRA).
    pub rate: String,
    /// Requests allowed at once before pacing starts (`1`: strictly paced). Default `1`.
    pub burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Request body limit (413 beyond it; routes may set their own). Default `10MiB`.
    pub max_request_body: Option<String>,
    /// Request header fields at most (431 beyond). Default `100`.
    pub max_header_count: Option<usize>,
    /// Request header bytes at most (431 beyond). Default `64KiB`.
    pub max_header_bytes: Option<String>,
    /// Failed authentications per client IP before 429 (slows token guessing).
    pub failed_auth: Option<RateLimitFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// `"json"` (default) or `"text"`.
    pub format: Option<String>,
    /// `error`, `warn`, `info` (default), `debug` or `trace`; `RUST_LOG` overrides it.
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    /// `"echo"`: the built-in upstream that answers with what it received, as JSON (instead of `targets`).
    pub builtin: Option<String>,
    /// Target URLs, round-robin, e.g. `["http://10.0.0.5:8080", "https://orders.internal"]`: origins only (no path, query or `user:password@`).
    #[serde(default)]
    pub targets: Vec<String>,
    /// "http1" (default) or "h2": HTTP/2 over TLS (ALPN) or cleartext prior knowledge (h2c).
    pub protocol: Option<String>,
    /// Connect timeout per target (502 after it). Default `2s`.
    pub connect_timeout: Option<String>,
    /// The longest wait for the response head (504 after it). Default `30s`.
    pub request_timeout: Option<String>,
    /// The longest pause between response body bytes (the stream ends after it). Default `60s` (`0s`: none).
    pub read_timeout: Option<String>,
    /// How long an idle pooled connection is kept. Default `90s`.
    pub idle_timeout: Option<String>,
    /// Idle pooled connections kept per target, by each serving thread
    /// (`listen.workers`: each has its own pool). Default `256`.
    pub max_idle_per_target: Option<usize>,
    /// PEM bundle trusted for https targets instead of the system roots.
    pub ca: Option<String>,
    /// Send the client's Host to the upstream (default) instead of the target's (HTTP/1.1 only: h2 upstreams always get the target's authority).
    pub preserve_host: Option<bool>,
    /// Consecutive connect failures or timeouts that eject a target. Default `3`.
    pub eject_after: Option<u32>,
    /// How long an ejected target is skipped. Default `10s`.
    pub eject_for: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// The route's name (labels metrics and logs); required and unique.
    pub name: Option<String>,
    /// Exact host or `*.example.com` (any depth); none matches every host.
    pub host: Option<String>,
    /// Path prefix, matched on segment boundaries, normalized form. Default `/`.
    pub path_prefix: Option<String>,
    /// Methods matched, e.g. `["GET", "POST"]`; none matches every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The upstream (an `[upstreams.NAME]`) requests go to; required.
    pub upstream: Option<String>,
    /// `"anonymous"`, or a list of authenticators of which any may admit a request; required.
    pub auth: Option<AuthSpec>,
    /// Authorization rules: scopes and claims every admitted request must have.
    #[serde(default)]
    pub require: RequireFile,
    /// `"off"` (default), `"optional"` or `"required"`: requests inside OHTTP envelopes.
    pub sealed: Option<String>,
    /// This route's body limit (instead of `limits.max_request_body`).
    pub max_request_body: Option<String>,
    /// Forward Authorization, DPoP and signature headers to the backend. Default `false`.
    pub forward_credentials: Option<bool>,
    /// "deny" (default) or "allow" when the state store is unavailable.
    pub on_store_error: Option<String>,
    /// Accept each token `jti` once (single sign-on hand-off tokens).
    pub single_use: Option<bool>,
    /// `{ per = "ip" | "subject", rate = "100/s", burst = 200 }`; 429 with Retry-After beyond it. Default none.
    pub rate_limit: Option<RateLimitFile>,
    /// Sealed requests must carry a Date within this window and a fresh encapsulated key.
    pub replay_window: Option<String>,
    /// Protocols an HTTP/1.1 `Upgrade` may switch to (`["websocket"]`); none by default.
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// An upgraded connection with no byte either way for this long is closed. Default `5m`.
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
    /// Scopes every request must carry (`scope`/`scp` claims), e.g. `["orders:read"]`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claim rules by claim name, e.g. `{ tenant = { equals = "acme" } }`.
    #[serde(default)]
    pub claims: BTreeMap<String, ClaimRuleFile>,
}

/// A rule on one claim: exactly one of the fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRuleFile {
    /// The claim must equal this value.
    pub equals: Option<String>,
    /// The claim must be one of these values.
    pub one_of: Option<Vec<String>>,
    /// The claim must match this pattern: `*` any run of characters, `?` one, e.g. `"*@example.com"`.
    pub glob: Option<String>,
    /// The claim (a list) must contain this value.
    pub contains: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    /// Header carrying the verified subject. Default `x-auth-subject`.
    pub subject_header: Option<String>,
    /// Header carrying the credential's issuer. Default `x-auth-issuer`.
    pub issuer_header: Option<String>,
    /// Claims forwarded as headers, claim -> header, e.g. `{ email = "x-auth-email" }`.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Largest identity header value (431 rather than truncation). Default `8KiB`.
    pub max_header_bytes: Option<String>,
    /// The signed JWT asserting the identity to backends (`x-sealgate-assertion`).
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
    /// Header of the assertion. Default `x-sealgate-assertion`.
    pub header: Option<String>,
    /// `file:`/`env:` reference to the PKCS#8 PEM signing key (Ed25519 or P-256).
    pub key: Option<String>,
    /// Lifetime of an assertion (`exp` - `iat`). Default `60s`.
    pub ttl: Option<String>,
    /// The assertion's `iss`. Default `sealgate`.
    pub issuer: Option<String>,
    /// Extra public keys (PEM paths) published in the JWKS for rotation.
    #[serde(default)]
    pub publish_also: Vec<String>,
    /// Generate an Ed25519 signing key at `key` when missing: development only.
    pub dev_generate: Option<bool>,
}
