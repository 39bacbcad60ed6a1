//! The validated configuration, composed above the domains: `config` reads
//! the file (data and parsing only), each domain validates its own section
//! (listener, store, upstream, authn, route, identity, envelope), and this
//! module puts the sections together, checks what they say about each other,
//! and hands out one [`Config`]. Loading never stops at the first problem:
//! every error comes back with its key path, so `sealgate check` prints all.

use crate::authn::settings::AuthenticatorSettings;
use crate::config::diag::Diag;
use crate::config::file::{AdminFile, FileConfig, LimitsFile, LogFile, ReloadFile};
use crate::config::secret::{Secret, SecretRef};
use crate::config::{ConfigError, ConfigErrors};
use crate::envelope::settings::Envelope;
use crate::identity::settings::{Identity, PrivateKeySource};
use crate::listener::settings::Listen;
use crate::route::settings::Route;
use crate::store::settings::Store;
use crate::store::Rate;
use crate::upstream::settings::Upstream;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod cross_check;
pub mod decision;
mod issuer;

/// The validated configuration the gateway is built from: data only.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub listen: Listen,
    pub admin: Admin,
    pub store: Store,
    pub limits: Limits,
    pub log: Log,
    pub upstreams: BTreeMap<String, Upstream>,
    pub authenticators: BTreeMap<String, AuthenticatorSettings>,
    pub routes: Vec<Route>,
    pub identity: Identity,
    pub reload: Reload,
    pub envelope: Option<Envelope>,
    pub issuer: Option<crate::issuer::settings::IssuerSettings>,
    /// The auth-decision endpoint for other proxies.
    pub decision: Option<decision::Decision>,
    /// Span export (`[tracing]`; fixed at start-up).
    pub tracing: Option<crate::otel::settings::Export>,
    /// Key exchange groups outbound connections offer (fixed at start-up).
    pub outbound_key_exchange: crate::kx::Groups,
    /// Insecure or questionable choices, logged at startup.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub address: SocketAddr,
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_request_body: u64,
    pub max_header_count: usize,
    pub max_header_bytes: usize,
    pub failed_auth: Option<Rate>,
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
            if let PrivateKeySource::Secret(SecretRef::File(p))
            | PrivateKeySource::DevGenerated(p) = &a.key
            {
                files.push(p.clone());
            }
            files.extend(a.publish_also.iter().cloned());
        }
        if let Some(e) = &self.envelope {
            files.extend(e.keys.iter().filter_map(|k| k.file.clone()));
        }
        if let Some(i) = &self.issuer {
            if let PrivateKeySource::Secret(SecretRef::File(p))
            | PrivateKeySource::DevGenerated(p) = &i.key
            {
                files.push(p.clone());
            }
            if let crate::issuer::settings::Verifier::Users(p) = &i.verifier {
                files.push(p.clone());
            }
        }
        files
    }
}

/// Reads `path`, applies environment overrides, and validates the result.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let raw = crate::config::read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    validate(raw, path, base).map_err(|errors| ConfigErrors {
        file: path.to_path_buf(),
        errors,
    })
}

/// FileConfig -> Config: each section by its domain, then the cross-references.
pub fn validate(raw: FileConfig, source: &Path, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let mut d = Diag {
        errors: &mut errors,
        warnings: &mut warnings,
        base,
    };
    let listen = crate::listener::settings::listen(&mut d, &raw.listen);
    let admin = admin(&mut d, &raw.admin);
    if listen.address == admin.address && listen.address.port() != 0 {
        d.push("admin.address", "must differ from listen.address");
    }
    let store = crate::store::settings::store(&mut d, &raw.store);
    let limits = limits(&mut d, &raw.limits);
    let log = log(&mut d, &raw.log);
    let upstreams = raw
        .upstreams
        .iter()
        .map(|(name, u)| {
            (
                name.clone(),
                crate::upstream::settings::upstream(&mut d, name, u),
            )
        })
        .collect();
    let authenticators: BTreeMap<String, AuthenticatorSettings> = raw
        .authenticators
        .iter()
        .filter_map(|(name, a)| {
            crate::authn::settings::authenticator(&mut d, name, a).map(|s| (name.clone(), s))
        })
        .collect();
    let routes = crate::route::settings::routes(&mut d, &raw, limits.max_request_body);
    let identity = crate::identity::settings::identity(&mut d, &raw.identity);
    let envelope = crate::envelope::settings::envelope(&mut d, &raw.envelope);
    let issuer = raw
        .issuer
        .as_ref()
        .and_then(|f| crate::issuer::settings::issuer(&mut d, f));
    let trusted = !listen.trusted_proxies.is_empty();
    let decision = decision::decision(
        &mut d,
        raw.decision.as_ref(),
        &routes,
        &authenticators,
        trusted,
    );
    let reload = reload(&mut d, &raw.reload);
    let outbound_key_exchange = crate::kx::settings(
        &mut d,
        "outbound.tls.key_exchange",
        raw.outbound.tls.key_exchange.as_ref(),
    );
    cross_check::cross_check(
        &mut d,
        &listen,
        &identity,
        &authenticators,
        &routes,
        envelope.is_some(),
    );
    cross_check::upgrades(&mut d, &routes, &upstreams, &authenticators);
    let tracing = crate::otel::settings::export(&mut d, &raw.tracing);
    let assertion_issuer = identity.assertion.as_ref().map(|a| a.issuer.as_str());
    issuer::references(
        &mut d,
        issuer.as_ref(),
        &authenticators,
        &raw,
        (envelope.is_some(), assertion_issuer),
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Config {
        source: source.to_path_buf(),
        listen,
        admin,
        store,
        limits,
        log,
        upstreams,
        authenticators,
        routes,
        identity,
        reload,
        envelope,
        issuer,
        decision,
        tracing,
        outbound_key_exchange,
        warnings,
    })
}

const DEFAULT_ADMIN: &str = "127.0.0.1:9090";

fn admin(d: &mut Diag<'_>, a: &AdminFile) -> Admin {
    let token = a.token.as_deref().and_then(|t| {
        let loaded = SecretRef::parse(t, d.base).and_then(|r| r.load(&mut *d.warnings));
        match loaded {
            Ok(s) if s.expose().len() >= 16 => Some(s),
            Ok(_) => {
                d.push("admin.token", "the admin token must be at least 16 bytes");
                None
            }
            Err(m) => {
                d.push("admin.token", m);
                None
            }
        }
    });
    let address = d.addr("admin.address", a.address.as_ref(), DEFAULT_ADMIN);
    if token.is_none() && !address.ip().is_loopback() {
        d.warn(format!(
            "admin.address {address} is reachable beyond this host: /metrics, /livez and /readyz are served there in plain HTTP without authentication (and /admin/revocations stays off without admin.token); bind it to 127.0.0.1, or make sure only your monitoring and probes can reach the port (a firewall, a Kubernetes NetworkPolicy)"
        ));
    }
    Admin { address, token }
}

fn limits(d: &mut Diag<'_>, l: &LimitsFile) -> Limits {
    let failed_auth = l.failed_auth.as_ref().and_then(|f| {
        let rate = Rate::parse(&f.rate, f.burst.unwrap_or(1)).map(Some);
        d.take("limits.failed_auth.rate", rate, None)
    });
    let limits = Limits {
        failed_auth,
        max_request_body: d.size(
            "limits.max_request_body",
            l.max_request_body.as_ref(),
            10 << 20,
        ),
        max_header_count: l.max_header_count.unwrap_or(100),
        max_header_bytes: usize::try_from(d.size(
            "limits.max_header_bytes",
            l.max_header_bytes.as_ref(),
            64 << 10,
        ))
        .unwrap_or(usize::MAX),
    };
    if limits.max_header_count == 0 {
        d.push("limits.max_header_count", "must be at least 1");
    }
    limits
}

fn log(d: &mut Diag<'_>, l: &LogFile) -> Log {
    let format = match l.format.as_deref().unwrap_or("json") {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => {
            d.push(
                "log.format",
                format!("unknown format {other:?}; expected \"json\" or \"text\""),
            );
            LogFormat::Json
        }
    };
    let level = l.level.clone().unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        d.push(
            "log.level",
            format!("invalid level {level:?}; expected e.g. \"info\" or \"sealgate=debug\""),
        );
    }
    Log { format, level }
}

fn reload(d: &mut Diag<'_>, r: &ReloadFile) -> Reload {
    let reload = Reload {
        watch: r.watch.unwrap_or(true),
        poll_interval: d.duration(
            "reload.poll_interval",
            r.poll_interval.as_ref(),
            Duration::from_secs(1),
        ),
    };
    if reload.poll_interval < Duration::from_millis(50) {
        d.push("reload.poll_interval", "must be at least 50ms");
    }
    reload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Scratch;

    #[test]
    fn operational_sections_name_their_keys() {
        let mut s = Scratch::default();
        let mut d = s.diag();
        admin(
            &mut d,
            &AdminFile {
                address: Some("nowhere".into()),
                token: Some("literal".into()),
            },
        );
        limits(
            &mut d,
            &LimitsFile {
                max_header_count: Some(0),
                ..LimitsFile::default()
            },
        );
        log(
            &mut d,
            &LogFile {
                format: Some("xml".into()),
                level: Some("[[".into()),
            },
        );
        reload(
            &mut d,
            &ReloadFile {
                watch: None,
                poll_interval: Some("1ms".into()),
            },
        );
        let paths: Vec<&str> = s.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "admin.token",
                "admin.address",
                "limits.max_header_count",
                "log.format",
                "log.level",
                "reload.poll_interval"
            ]
        );
    }
}
