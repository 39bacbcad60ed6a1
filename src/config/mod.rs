//! Configuration: load `gateway.toml` plus `SEALGATE__SECTION__KEY` environment
//! overrides, validate everything, and hand out a typed [`Config`].
//!
//! Loading never stops at the first semantic problem: [`load`] returns every
//! error with its key path so `sealgate check` can print them all.

mod authn;
pub mod diag;
pub mod file;
pub mod secret;
pub mod units;
mod validate;

use http::{HeaderName, Method};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use authn::algorithm as jwt_algorithm;
pub use authn::fetch_url;
pub use validate::validate;

/// The validated configuration the gateway is built from.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub listen: Listen,
    pub admin: Admin,
    pub store: Store,
    pub limits: Limits,
    pub log: Log,
    pub upstreams: BTreeMap<String, Upstream>,
    pub authenticators: BTreeMap<String, Authenticator>,
    pub routes: Vec<Route>,
    pub identity: Identity,
    pub reload: Reload,
    pub envelope: Option<Envelope>,
    /// Insecure or questionable choices, logged at startup.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Listen {
    pub address: SocketAddr,
    pub tls: Tls,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub shutdown_grace: Duration,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dev_self_signed: bool,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// PEM certificate revocation lists for client certificates.
    pub crls: Vec<PathBuf>,
    pub sni: Vec<SniCert>,
    /// Issue stateless, rotating session tickets so returning clients resume.
    pub session_tickets: bool,
    /// Entries in the server-side session cache (0: none).
    pub session_cache: usize,
}

#[derive(Debug, Clone)]
pub struct SniCert {
    pub names: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Envelope {
    pub path: String,
    pub max_size: usize,
    pub keys_max_age: Duration,
    pub keys: Vec<EnvelopeKey>,
}

#[derive(Debug, Clone)]
pub struct EnvelopeKey {
    pub key: Arc<crate::envelope::crypto::GatewayKey>,
    pub active: bool,
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
pub struct Reload {
    pub watch: bool,
    pub poll_interval: Duration,
}

impl Config {
    /// Files whose change triggers a reload: the config itself and every
    /// certificate, key or CA bundle it references (authenticators add theirs:
    /// `Gateway::watched_files`).
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let t = &self.listen.tls;
        let mut files = vec![self.source.clone(), t.cert.clone(), t.key.clone()];
        files.extend(t.client_ca.iter().cloned());
        files.extend(t.crls.iter().cloned());
        files.extend(t.sni.iter().flat_map(|s| [s.cert.clone(), s.key.clone()]));
        files.extend(self.upstreams.values().filter_map(|u| u.ca.clone()));
        files.extend(self.store.ca.iter().cloned());
        if let Some(a) = &self.identity.assertion {
            if let PrivateKeySource::Secret(secret::SecretRef::File(p))
            | PrivateKeySource::DevGenerated(p) = &a.key
            {
                files.push(p.clone());
            }
            files.extend(a.publish_also.iter().cloned());
        }
        if let Some(e) = &self.envelope {
            files.extend(e.keys.iter().filter_map(|k| k.file.clone()));
        }
        files
    }
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub address: SocketAddr,
    pub token: Option<secret::Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Memory { max_entries: u64 },
    Redis { url: String },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey {
    Ip,
    Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per: RateKey,
    pub rate: crate::store::Rate,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_request_body: u64,
    pub max_header_count: usize,
    pub max_header_bytes: usize,
    pub failed_auth: Option<crate::store::Rate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

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
    pub idle_timeout: Duration,
    pub max_idle_per_target: usize,
    pub ca: Option<PathBuf>,
    pub preserve_host: bool,
    pub eject_after: u32,
    pub eject_for: Duration,
}

/// Which hosts a route answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    Exact(String),
    /// `*.example.com`, stored as the suffix `.example.com`.
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAuth {
    Anonymous,
    AnyOf(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    Off,
    Optional,
    Required,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub host: Option<HostMatch>,
    pub path_prefix: String,
    pub methods: Vec<Method>,
    pub upstream: String,
    pub auth: RouteAuth,
    pub require_scopes: Vec<String>,
    pub require_claims: Vec<(String, ClaimRule)>,
    pub sealed: Sealed,
    pub max_request_body: u64,
    pub forward_credentials: bool,
    /// Serve the request when the store is unavailable (default: deny with 503).
    pub allow_on_store_error: bool,
    pub single_use: bool,
    pub rate_limit: Option<RateLimit>,
    pub replay_window: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRule {
    Equals(String),
    OneOf(Vec<String>),
    Glob(String),
    Contains(String),
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub subject_header: HeaderName,
    pub issuer_header: HeaderName,
    pub claims: Vec<(String, HeaderName)>,
    pub max_header_bytes: usize,
    pub assertion_header: HeaderName,
    pub assertion: Option<Assertion>,
    /// Where the verified client certificate goes (always stripped from clients).
    pub client_cert_header: HeaderName,
    pub forward_client_cert: bool,
}

/// Where a private key comes from: a secret reference, or a dev key generated when missing.
#[derive(Debug, Clone)]
pub enum PrivateKeySource {
    Secret(secret::SecretRef),
    DevGenerated(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Assertion {
    pub key: PrivateKeySource,
    pub ttl: Duration,
    pub issuer: String,
    pub publish_also: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Authenticator {
    pub name: String,
    pub settings: AuthnSettings,
}

/// The validated settings of each authenticator kind.
#[derive(Debug, Clone)]
pub enum AuthnSettings {
    Jwt(JwtSettings),
    Mtls(crate::authn::mtls::MtlsSettings),
    ApiKey(crate::authn::api_key::ApiKeySettings),
    Introspection(crate::authn::introspect::IntrospectionSettings),
}

/// Whether the TLS listener asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Off,
    /// Asked for and verified when sent; connections without one are served too.
    Optional,
    Required,
}

#[derive(Debug, Clone)]
pub enum KeySource {
    /// Keys from the file: PEM, JWKS, or an HMAC secret (already loaded and checked).
    Static(Arc<crate::authn::jwt::keys::KeySet>),
    /// A public key generated with its private half when missing (development).
    DevGenerated(PathBuf),
    Jwks(http::Uri),
    /// OpenID Connect Discovery: the issuer's `/.well-known/openid-configuration`.
    Discovery(http::Uri),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie(String),
    Header(HeaderName),
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    pub keys: KeySource,
    pub refresh: Duration,
    pub max_stale: Duration,
    pub cooldown: Duration,
    pub leeway: Duration,
    pub require_exp: bool,
    pub max_lifetime: Option<Duration>,
    pub typ: Option<String>,
    pub max_token_size: usize,
    pub token_from: TokenSource,
    /// The file static keys came from, watched for reload.
    pub key_file: Option<PathBuf>,
    /// RFC 8705: refuse tokens that are not bound (`cnf.x5t#S256`) to the
    /// client certificate presented on the connection.
    pub certificate_bound: bool,
}

/// One problem in the configuration, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {e}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads `path`, applies environment overrides, and validates the result.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let fail = |errors| ConfigErrors {
        file: path.to_path_buf(),
        errors,
    };
    let raw = read_raw(path).map_err(|e| fail(vec![e]))?;
    let base = path.parent().unwrap_or(Path::new("."));
    validate(raw, path, base).map_err(fail)
}

fn read_raw(path: &Path) -> Result<file::FileConfig, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError {
            path: String::new(),
            message: "cannot read the configuration file (missing or not a file)".into(),
        });
    }
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("SEALGATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(|e| ConfigError {
            path: String::new(),
            message: format!("cannot parse: {e}"),
        })?;
    serde_path_to_error::deserialize(built).map_err(|e| ConfigError {
        path: e.path().to_string().trim_start_matches('.').to_string(),
        message: e.inner().to_string(),
    })
}
