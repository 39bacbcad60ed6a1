//! FileConfig -> Config: parse units, check references between sections, and
//! collect every problem with its key path.

use super::file::{AuthSpec, FileConfig, RouteFile, UpstreamFile};
use super::*;
use std::collections::BTreeSet;

const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
const DEFAULT_ADMIN: &str = "127.0.0.1:9090";

struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Unwraps `result`, recording its error under `path` and yielding `fallback`.
    fn take<T>(&mut self, path: &str, result: Result<T, String>, fallback: T) -> T {
        result.unwrap_or_else(|e| {
            self.push(path, e);
            fallback
        })
    }

    fn duration(&mut self, path: &str, value: Option<&String>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(v) => self.take(path, units::duration(v), default),
        }
    }

    fn size(&mut self, path: &str, value: Option<&String>, default: u64) -> u64 {
        match value {
            None => default,
            Some(v) => self.take(path, units::size(v), default),
        }
    }

    fn addr(&mut self, path: &str, value: Option<&String>, default: &str) -> SocketAddr {
        let text = value.map(String::as_str).unwrap_or(default);
        let fallback = SocketAddr::from(([127, 0, 0, 1], 0));
        self.take(
            path,
            text.parse()
                .map_err(|_| format!("invalid address {text:?}; write it like \"127.0.0.1:8443\"")),
            fallback,
        )
    }

    fn header(&mut self, path: &str, value: Option<&String>, default: &str) -> HeaderName {
        let text = value.map(String::as_str).unwrap_or(default);
        self.take(
            path,
            HeaderName::from_bytes(text.as_bytes())
                .map_err(|_| format!("invalid header name {text:?}")),
            HeaderName::from_static("x-invalid"),
        )
    }
}

/// Suggests the closest known name, for "did you mean" hints.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default()
}

pub fn validate(raw: FileConfig, source: &Path, base: &Path) -> Result<Config, Vec<ConfigError>> {
    let mut e = Errors(Vec::new());
    let mut warnings = Vec::new();
    let rel = |p: &str| base.join(p);

    let l = &raw.listen;
    let tls = Tls {
        cert: rel(l.tls.cert.as_deref().unwrap_or("certs/gateway.crt")),
        key: rel(l.tls.key.as_deref().unwrap_or("certs/gateway.key")),
        dev_self_signed: l.tls.dev_self_signed.unwrap_or(false),
        client_ca: l
            .tls
            .client_ca
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(rel),
        client_auth: ClientAuth::Off,
        crls: l.tls.crls.iter().map(|p| rel(p)).collect(),
        sni: l
            .tls
            .sni
            .iter()
            .map(|s| SniCert {
                names: s.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
                cert: rel(&s.cert),
                key: rel(&s.key),
            })
            .collect(),
        session_tickets: l.tls.session_tickets.unwrap_or(true),
        session_cache: l.tls.session_cache.unwrap_or(10_000),
    };
    let mut tls = tls;
    tls.client_auth = client_auth(
        &mut e,
        l.tls.client_auth.as_deref(),
        tls.client_ca.is_some(),
    );
    check_tls(&mut e, &mut warnings, &tls);
    let listen = Listen {
        address: e.addr("listen.address", l.address.as_ref(), DEFAULT_LISTEN),
        trusted_proxies: l
            .trusted_proxies
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                units::cidr(c)
                    .map_err(|m| e.push(format!("listen.trusted_proxies[{i}]"), m))
                    .ok()
            })
            .collect(),
        shutdown_grace: e.duration(
            "listen.shutdown_grace",
            l.shutdown_grace.as_ref(),
            Duration::from_secs(30),
        ),
        handshake_timeout: e.duration(
            "listen.handshake_timeout",
            l.handshake_timeout.as_ref(),
            Duration::from_secs(10),
        ),
        header_read_timeout: e.duration(
            "listen.header_read_timeout",
            l.header_read_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        tls,
    };
    let admin = Admin {
        address: e.addr("admin.address", raw.admin.address.as_ref(), DEFAULT_ADMIN),
        token: raw.admin.token.as_deref().and_then(|t| {
            let loaded =
                super::secret::SecretRef::parse(t, base).and_then(|r| r.load(&mut warnings));
            match loaded {
                Ok(s) if s.expose().len() >= 16 => Some(s),
                Ok(_) => {
                    e.push("admin.token", "the admin token must be at least 16 bytes");
                    None
                }
                Err(m) => {
                    e.push("admin.token", m);
                    None
                }
            }
        }),
    };
    if listen.address == admin.address && listen.address.port() != 0 {
        e.push("admin.address", "must differ from listen.address");
    }

    let st = &raw.store;
    let store_kind = match (st.kind.as_deref().unwrap_or("memory"), &st.url) {
        ("memory", _) => StoreKind::Memory {
            max_entries: st.max_entries.unwrap_or(1_000_000),
        },
        ("redis", Some(url))
            if [
                "redis://",
                "rediss://",
                "redis+cluster://",
                "rediss+cluster://",
            ]
            .iter()
            .any(|p| url.starts_with(p)) =>
        {
            StoreKind::Redis { url: url.clone() }
        }
        ("redis", _) => {
            e.push(
                "store.url",
                "set url = \"redis://host:6379\" (or rediss://, redis+cluster://)",
            );
            StoreKind::Memory { max_entries: 1 }
        }
        (other, _) => {
            e.push(
                "store.kind",
                format!("unknown store kind {other:?}; expected \"memory\" or \"redis\""),
            );
            StoreKind::Memory { max_entries: 1 }
        }
    };
    let store_ca = st.ca.as_deref().filter(|c| !c.is_empty()).map(rel);
    if let Some(ca) = &store_ca {
        match &store_kind {
            StoreKind::Redis { url } if url.starts_with("rediss") => {
                if let Err(m) = crate::net::load_roots(ca) {
                    e.push("store.ca", m);
                }
            }
            _ => e.push("store.ca", "only used with a rediss:// (TLS) store url"),
        }
    }
    let store = Store {
        kind: store_kind,
        ca: store_ca,
        key_prefix: st.key_prefix.clone().unwrap_or_else(|| "sealgate:".into()),
        connect_timeout: e.duration(
            "store.connect_timeout",
            st.connect_timeout.as_ref(),
            Duration::from_secs(2),
        ),
        command_timeout: e.duration(
            "store.command_timeout",
            st.command_timeout.as_ref(),
            Duration::from_millis(500),
        ),
        subject_revocation_ttl: e.duration(
            "store.subject_revocation_ttl",
            st.subject_revocation_ttl.as_ref(),
            Duration::from_secs(30 * 86400),
        ),
    };

    let failed_auth = raw.limits.failed_auth.as_ref().and_then(|f| {
        e.take(
            "limits.failed_auth.rate",
            crate::store::Rate::parse(&f.rate, f.burst.unwrap_or(1)).map(Some),
            None,
        )
    });
    let limits = Limits {
        failed_auth,
        max_request_body: e.size(
            "limits.max_request_body",
            raw.limits.max_request_body.as_ref(),
            10 << 20,
        ),
        max_header_count: raw.limits.max_header_count.unwrap_or(100),
        max_header_bytes: e.size(
            "limits.max_header_bytes",
            raw.limits.max_header_bytes.as_ref(),
            64 << 10,
        ) as usize,
    };
    if limits.max_header_count == 0 {
        e.push("limits.max_header_count", "must be at least 1");
    }

    let log = Log {
        format: match raw.log.format.as_deref().unwrap_or("json") {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                e.push(
                    "log.format",
                    format!("unknown format {other:?}; expected \"json\" or \"text\""),
                );
                LogFormat::Json
            }
        },
        level: raw.log.level.clone().unwrap_or_else(|| "info".into()),
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        e.push(
            "log.level",
            format!(
                "invalid level {:?}; expected e.g. \"info\" or \"sealgate=debug\"",
                log.level
            ),
        );
    }

    let upstreams: BTreeMap<String, Upstream> = raw
        .upstreams
        .iter()
        .map(|(name, u)| (name.clone(), upstream(&mut e, &mut warnings, name, u, base)))
        .collect();

    let mut authenticators = BTreeMap::new();
    {
        let mut c = super::authn::Ctx {
            errors: &mut e.0,
            warnings: &mut warnings,
            base,
        };
        for (name, a) in &raw.authenticators {
            if let Some(built) = super::authn::authenticator(&mut c, name, a) {
                authenticators.insert(name.clone(), built);
            }
        }
    }

    let mut names = BTreeSet::new();
    let routes: Vec<Route> = raw
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            route(
                &mut e,
                &mut warnings,
                &mut names,
                i,
                r,
                &raw,
                limits.max_request_body,
                base,
            )
        })
        .collect();
    if routes.is_empty() {
        e.push("routes", "no routes: add at least one [[routes]] table");
    }

    let id = &raw.identity;
    let assertion = super::authn::assertion(
        &mut super::authn::Ctx {
            errors: &mut e.0,
            warnings: &mut warnings,
            base,
        },
        &id.assertion,
    );
    let identity = Identity {
        subject_header: e.header(
            "identity.subject_header",
            id.subject_header.as_ref(),
            "x-auth-subject",
        ),
        issuer_header: e.header(
            "identity.issuer_header",
            id.issuer_header.as_ref(),
            "x-auth-issuer",
        ),
        claims: id
            .claims
            .iter()
            .map(|(claim, h)| {
                (
                    claim.clone(),
                    e.header(&format!("identity.claims.{claim}"), Some(h), ""),
                )
            })
            .collect(),
        max_header_bytes: e.size(
            "identity.max_header_bytes",
            id.max_header_bytes.as_ref(),
            8 << 10,
        ) as usize,
        assertion_header: e.header(
            "identity.assertion.header",
            id.assertion.header.as_ref(),
            "x-sealgate-assertion",
        ),
        assertion,
        client_cert_header: e.header(
            "identity.client_cert_header",
            id.client_cert_header.as_ref(),
            "x-forwarded-client-cert",
        ),
        forward_client_cert: id.forward_client_cert.unwrap_or(false),
    };
    if identity.forward_client_cert && listen.tls.client_auth == ClientAuth::Off {
        e.push(
            "identity.forward_client_cert",
            "needs listen.tls.client_auth = \"optional\" or \"required\"",
        );
    }
    for (name, a) in &authenticators {
        let needs_cert = match &a.settings {
            AuthnSettings::Mtls(_) => Some("kind = \"mtls\""),
            AuthnSettings::Jwt(j) if j.certificate_bound => Some("certificate_bound = true"),
            _ => None,
        };
        if let (Some(what), ClientAuth::Off) = (needs_cert, listen.tls.client_auth) {
            e.push(
                format!("authenticators.{name}"),
                format!("{what} needs client certificates: set listen.tls.client_ca and listen.tls.client_auth = \"optional\" or \"required\""),
            );
        }
    }

    let envelope = super::authn::envelope(
        &mut super::authn::Ctx {
            errors: &mut e.0,
            warnings: &mut warnings,
            base,
        },
        &raw.envelope,
    );
    if envelope.is_none() {
        for (i, r) in routes.iter().enumerate() {
            if r.sealed != Sealed::Off {
                e.push(
                    format!("routes[{i}].sealed"),
                    "sealed routes need [[envelope.keys]]",
                );
            }
        }
    }
    let reload = Reload {
        watch: raw.reload.watch.unwrap_or(true),
        poll_interval: e.duration(
            "reload.poll_interval",
            raw.reload.poll_interval.as_ref(),
            Duration::from_secs(1),
        ),
    };
    if reload.poll_interval < Duration::from_millis(50) {
        e.push("reload.poll_interval", "must be at least 50ms");
    }

    if !e.0.is_empty() {
        return Err(e.0);
    }
    Ok(Config {
        source: source.to_path_buf(),
        listen,
        admin,
        limits,
        log,
        upstreams,
        authenticators,
        routes,
        identity,
        store,
        reload,
        envelope,
        warnings,
    })
}

/// `listen.tls.client_auth`; without it, a configured `client_ca` means "required".
fn client_auth(e: &mut Errors, text: Option<&str>, have_ca: bool) -> ClientAuth {
    let mode = match text {
        None if have_ca => ClientAuth::Required,
        None | Some("off") => ClientAuth::Off,
        Some("optional") => ClientAuth::Optional,
        Some("required") => ClientAuth::Required,
        Some(other) => {
            e.push(
                "listen.tls.client_auth",
                format!("unknown mode {other:?}; expected \"off\", \"optional\" or \"required\""),
            );
            ClientAuth::Off
        }
    };
    if mode != ClientAuth::Off && !have_ca {
        e.push(
            "listen.tls.client_auth",
            "needs listen.tls.client_ca: the CA bundle that signs client certificates",
        );
    }
    if mode == ClientAuth::Off && have_ca && text.is_some() {
        e.push(
            "listen.tls.client_ca",
            "set, but listen.tls.client_auth = \"off\": remove one",
        );
    }
    mode
}

fn check_tls(e: &mut Errors, warnings: &mut Vec<String>, tls: &Tls) {
    let missing = !tls.cert.exists() || !tls.key.exists();
    if missing && tls.dev_self_signed {
        warnings.push(format!(
            "listen.tls: {} is missing; a self-signed development certificate will be generated (not for production)",
            tls.cert.display()
        ));
    } else if let Err(m) = crate::listener::tls::load_certified_key(&tls.cert, &tls.key) {
        e.push("listen.tls.cert", m);
    }
    if tls.session_cache > 1_000_000 {
        e.push(
            "listen.tls.session_cache",
            format!(
                "{} entries is too many (at most 1000000)",
                tls.session_cache
            ),
        );
    }
    if let Some(ca) = &tls.client_ca {
        if let Err(m) = crate::net::load_roots(ca) {
            e.push("listen.tls.client_ca", m);
        }
    }
    for (i, crl) in tls.crls.iter().enumerate() {
        if let Err(m) = crate::net::load_crls(crl) {
            e.push(format!("listen.tls.crls[{i}]"), m);
        }
    }
    for (i, s) in tls.sni.iter().enumerate() {
        if s.names.is_empty() {
            e.push(
                format!("listen.tls.sni[{i}].names"),
                "list at least one server name",
            );
        }
        if let Err(m) = crate::listener::tls::load_certified_key(&s.cert, &s.key) {
            e.push(format!("listen.tls.sni[{i}].cert"), m);
        }
    }
}

fn upstream(
    e: &mut Errors,
    warnings: &mut Vec<String>,
    name: &str,
    u: &UpstreamFile,
    base: &Path,
) -> Upstream {
    let p = |k: &str| format!("upstreams.{name}.{k}");
    let kind = match (u.builtin.as_deref(), u.targets.is_empty()) {
        (Some("echo"), true) => UpstreamKind::Echo,
        (Some(other), true) => {
            e.push(
                p("builtin"),
                format!("unknown builtin {other:?}; the only builtin is \"echo\""),
            );
            UpstreamKind::Echo
        }
        (Some(_), false) => {
            e.push(p("targets"), "set either builtin or targets, not both");
            UpstreamKind::Echo
        }
        (None, true) => {
            e.push(p("targets"), "list at least one target such as \"http://127.0.0.1:8080\", or set builtin = \"echo\"");
            UpstreamKind::Echo
        }
        (None, false) => UpstreamKind::Targets(
            u.targets
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    e.take(
                        &format!("{}[{i}]", p("targets")),
                        target_uri(t).map(Some),
                        None,
                    )
                })
                .collect(),
        ),
    };
    if let UpstreamKind::Targets(ts) = &kind {
        if ts.iter().any(|t| t.scheme_str() == Some("http")) {
            warnings.push(format!(
                "upstreams.{name}: plaintext http target; traffic to it is not encrypted"
            ));
        }
    }
    let protocol = match u.protocol.as_deref().unwrap_or("http1") {
        "http1" => UpstreamProtocol::Http1,
        "h2" => UpstreamProtocol::Http2,
        other => {
            e.push(
                p("protocol"),
                format!("unknown protocol {other:?}; expected \"http1\" or \"h2\""),
            );
            UpstreamProtocol::Http1
        }
    };
    let ca = u.ca.as_ref().map(|c| base.join(c));
    if let Some(ca) = &ca {
        if let Err(m) = crate::net::load_roots(ca) {
            e.push(p("ca"), m);
        }
    }
    Upstream {
        name: name.to_string(),
        kind,
        protocol,
        connect_timeout: e.duration(
            &p("connect_timeout"),
            u.connect_timeout.as_ref(),
            Duration::from_secs(2),
        ),
        request_timeout: e.duration(
            &p("request_timeout"),
            u.request_timeout.as_ref(),
            Duration::from_secs(30),
        ),
        idle_timeout: e.duration(
            &p("idle_timeout"),
            u.idle_timeout.as_ref(),
            Duration::from_secs(90),
        ),
        max_idle_per_target: u.max_idle_per_target.unwrap_or(256),
        ca,
        preserve_host: u.preserve_host.unwrap_or(true),
        eject_after: u.eject_after.unwrap_or(3).max(1),
        eject_for: e.duration(
            &p("eject_for"),
            u.eject_for.as_ref(),
            Duration::from_secs(10),
        ),
    }
}

fn target_uri(t: &str) -> Result<http::Uri, String> {
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

// Each argument is a distinct piece of validation context; bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
fn route(
    e: &mut Errors,
    warnings: &mut Vec<String>,
    names: &mut BTreeSet<String>,
    i: usize,
    r: &RouteFile,
    raw: &FileConfig,
    default_body: u64,
    base: &Path,
) -> Route {
    let p = |k: &str| format!("routes[{i}].{k}");
    let name = r.name.clone().unwrap_or_else(|| format!("route{i}"));
    if r.name.is_none() {
        e.push(
            p("name"),
            "every route needs a name (it labels metrics and logs)",
        );
    } else if !names.insert(name.clone()) {
        e.push(p("name"), format!("duplicate route name {name:?}"));
    }
    let upstream = match &r.upstream {
        None => {
            e.push(p("upstream"), "missing; name one of the [upstreams] tables");
            String::new()
        }
        Some(u) if !raw.upstreams.contains_key(u) => {
            e.push(
                p("upstream"),
                format!(
                    "no upstream named {u:?}{}",
                    closest(u, raw.upstreams.keys())
                ),
            );
            u.clone()
        }
        Some(u) => u.clone(),
    };
    let auth = match &r.auth {
        None => {
            e.push(p("auth"), "missing; routes deny by default: list authenticators, or write auth = \"anonymous\"");
            RouteAuth::Anonymous
        }
        Some(AuthSpec::One(s)) if s == "anonymous" => RouteAuth::Anonymous,
        Some(AuthSpec::Many(v)) if v.len() == 1 && v[0] == "anonymous" => RouteAuth::Anonymous,
        Some(AuthSpec::One(s)) => auth_names(e, &p("auth"), std::slice::from_ref(s), raw),
        Some(AuthSpec::Many(v)) => auth_names(e, &p("auth"), v, raw),
    };
    if auth == RouteAuth::Anonymous {
        warnings.push(format!(
            "routes[{i}] ({name}): anonymous route; requests reach upstream without authentication"
        ));
    }
    if auth == RouteAuth::Anonymous
        && (!r.require.scopes.is_empty() || !r.require.claims.is_empty())
    {
        e.push(
            p("require"),
            "scopes and claims cannot be required on an anonymous route",
        );
    }
    let require_claims = super::authn::claim_rules(
        &mut super::authn::Ctx {
            errors: &mut e.0,
            warnings,
            base,
        },
        i,
        &r.require.claims,
    );
    let path_prefix = r.path_prefix.clone().unwrap_or_else(|| "/".into());
    if !path_prefix.starts_with('/') {
        e.push(p("path_prefix"), "must start with \"/\"");
    } else if crate::route::normalize_path(&path_prefix).as_deref() != Ok(path_prefix.as_str()) {
        e.push(p("path_prefix"), format!("{path_prefix:?} is not in normalized form (no dot-segments, //, or encoded characters)"));
    }
    let host = r.host.as_deref().map(|h| {
        let h = h.to_ascii_lowercase();
        match h.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
                HostMatch::Suffix(suffix.to_string())
            }
            Some(_) => {
                e.push(p("host"), "wildcards are written as \"*.example.com\"");
                HostMatch::Exact(h)
            }
            None => HostMatch::Exact(h),
        }
    });
    let methods = r
        .methods
        .iter()
        .enumerate()
        .filter_map(|(j, m)| {
            let m = m.to_ascii_uppercase();
            e.take(
                &format!("{}[{j}]", p("methods")),
                Method::from_bytes(m.as_bytes())
                    .map(Some)
                    .map_err(|_| format!("invalid method {m:?}")),
                None,
            )
        })
        .collect();
    let sealed = match r.sealed.as_deref().unwrap_or("off") {
        "off" => Sealed::Off,
        "optional" => Sealed::Optional,
        "required" => Sealed::Required,
        other => {
            e.push(
                p("sealed"),
                format!("unknown value {other:?}; expected \"off\", \"optional\" or \"required\""),
            );
            Sealed::Off
        }
    };
    Route {
        name,
        host,
        path_prefix,
        methods,
        upstream,
        auth,
        require_scopes: r.require.scopes.clone(),
        require_claims,
        sealed,
        max_request_body: e.size(
            &p("max_request_body"),
            r.max_request_body.as_ref(),
            default_body,
        ),
        forward_credentials: r.forward_credentials.unwrap_or(false),
        allow_on_store_error: match r.on_store_error.as_deref().unwrap_or("deny") {
            "deny" => false,
            "allow" => true,
            other => {
                e.push(
                    p("on_store_error"),
                    format!("unknown value {other:?}; expected \"deny\" or \"allow\""),
                );
                false
            }
        },
        single_use: r.single_use.unwrap_or(false),
        rate_limit: r.rate_limit.as_ref().and_then(|rl| {
            let per = match rl.per.as_deref().unwrap_or("ip") {
                "ip" => RateKey::Ip,
                "subject" => RateKey::Subject,
                other => {
                    e.push(
                        p("rate_limit.per"),
                        format!("unknown value {other:?}; expected \"ip\" or \"subject\""),
                    );
                    RateKey::Ip
                }
            };
            if per == RateKey::Subject
                && r.auth
                    .as_ref()
                    .is_none_or(|a| matches!(a, AuthSpec::One(s) if s == "anonymous"))
            {
                e.push(
                    p("rate_limit.per"),
                    "\"subject\" needs an authenticated route",
                );
            }
            let rate = crate::store::Rate::parse(&rl.rate, rl.burst.unwrap_or(1));
            e.take(&p("rate_limit.rate"), rate.map(Some), None)
                .map(|rate| RateLimit { per, rate })
        }),
        replay_window: r
            .replay_window
            .as_ref()
            .map(|w| e.duration(&p("replay_window"), Some(w), Duration::from_secs(30))),
    }
}

fn auth_names(e: &mut Errors, path: &str, names: &[String], raw: &FileConfig) -> RouteAuth {
    if names.is_empty() {
        e.push(
            path,
            "empty list; name an authenticator or write \"anonymous\"",
        );
    }
    for n in names {
        if n == "anonymous" {
            e.push(path, "\"anonymous\" cannot be combined with authenticators");
        } else if !raw.authenticators.contains_key(n) {
            e.push(
                path,
                format!(
                    "no authenticator named {n:?}{}",
                    closest(n, raw.authenticators.keys())
                ),
            );
        }
    }
    RouteAuth::AnyOf(names.to_vec())
}
