//! `kind = "introspection"`: opaque tokens checked by asking the issuer
//! (RFC 7662). The endpoint comes from the settings or from OIDC discovery's
//! `introspection_endpoint`; the gateway authenticates with
//! `client_secret_basic` or `client_secret_post`.
//!
//! Active answers are cached until `min(exp, cache_max)`, inactive ones for
//! `cache_inactive`, errors never; concurrent requests with one token share one
//! call (single flight). The answer gets the same `iss`/`aud` checks as a JWT.
//! An endpoint that is down, slow, oversized or answers garbage is a 503
//! (`introspection_unavailable`), never a 401: the token may well be good.

use super::cache;
use super::{
    Attempt, AuthError, AuthFailure, Challenge, Dependency, Identity, Kind, Principal, Verdict,
};
use crate::config::diag::Diag;
use crate::config::fetch_url;
use crate::config::file::IntrospectionFile;
use crate::config::secret::{Secret, SecretRef};
use crate::config::TokenSource;
use crate::metrics::Metrics;
use arc_swap::ArcSwapOption;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// RFC 6749 §2.3.1 HTTP Basic (the default).
    Basic,
    /// Credentials in the form body.
    Post,
}

/// Where the endpoint comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Fixed(Uri),
    /// `{issuer}/.well-known/openid-configuration`'s `introspection_endpoint`.
    Discovery(Uri),
}

/// Validated `[authenticators.NAME]` settings of kind `introspection`.
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    pub endpoint: Endpoint,
    pub client_id: String,
    pub client_secret: Arc<Secret>,
    pub client_auth: ClientAuth,
    pub token_type_hint: Option<String>,
    /// The exact `iss` required of active answers, when set.
    pub issuer: Option<String>,
    /// Any-of `aud` values required of active answers; empty: not checked.
    pub audiences: Vec<String>,
    pub cache_max: Duration,
    pub cache_inactive: Duration,
    pub timeout: Duration,
    pub max_response: usize,
    pub max_token_size: usize,
    pub token_from: TokenSource,
    pub leeway: Duration,
}

/// Validates a `kind = "introspection"` table.
pub fn settings(
    d: &mut Diag<'_>,
    name: &str,
    f: &IntrospectionFile,
) -> Option<IntrospectionSettings> {
    let p = |k: &str| format!("authenticators.{name}.{k}");
    let endpoint = match (&f.endpoint, f.discovery == Some(true), &f.issuer) {
        (Some(e), false, _) => match fetch_url(e) {
            Ok(u) => Some(Endpoint::Fixed(u)),
            Err(m) => {
                d.push(p("endpoint"), m);
                None
            }
        },
        (None, true, Some(iss)) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                iss.trim_end_matches('/')
            );
            match fetch_url(&url) {
                Ok(u) => Some(Endpoint::Discovery(u)),
                Err(m) => {
                    d.push(
                        p("issuer"),
                        format!("issuer URL unusable for discovery: {m}"),
                    );
                    None
                }
            }
        }
        (None, true, None) => {
            d.push(p("discovery"), "needs issuer = \"https://...\"");
            None
        }
        _ => {
            d.push(
                p("endpoint"),
                "set exactly one of endpoint = \"https://...\" or discovery = true",
            );
            None
        }
    };
    let client_id = f.client_id.clone().unwrap_or_else(|| {
        d.push(
            p("client_id"),
            "required: the gateway's client id at the introspection endpoint",
        );
        String::new()
    });
    let client_secret = match f
        .client_secret
        .as_deref()
        .map(|s| SecretRef::parse(s, d.base))
    {
        None => {
            d.push(
                p("client_secret"),
                "required: \"env:NAME\" or \"file:PATH\"",
            );
            None
        }
        Some(Err(m)) => {
            d.push(p("client_secret"), m);
            None
        }
        Some(Ok(r)) => match r.load(d.warnings) {
            Ok(s) => Some(Arc::new(s)),
            Err(m) => {
                d.push(p("client_secret"), m);
                None
            }
        },
    };
    let client_auth = match f.client_auth.as_deref().unwrap_or("client_secret_basic") {
        "client_secret_basic" => ClientAuth::Basic,
        "client_secret_post" => ClientAuth::Post,
        other => {
            d.push(
                p("client_auth"),
                format!(
                    "unknown method {other:?}; expected client_secret_basic or client_secret_post"
                ),
            );
            ClientAuth::Basic
        }
    };
    let token_from = match &f.token_header {
        None => TokenSource::Bearer,
        Some(h) => match http::HeaderName::from_bytes(h.as_bytes()) {
            Ok(h) => TokenSource::Header(h),
            Err(_) => {
                d.push(p("token_header"), format!("invalid header name {h:?}"));
                TokenSource::Bearer
            }
        },
    };
    let max_response = d.size(p("max_response"), f.max_response.as_ref(), 64 * 1024);
    let max_token_size = d.size(p("max_token_size"), f.max_token_size.as_ref(), 16 * 1024);
    Some(IntrospectionSettings {
        endpoint: endpoint?,
        client_id,
        client_secret: client_secret?,
        client_auth,
        token_type_hint: f.token_type_hint.clone(),
        issuer: f.issuer.clone(),
        audiences: f.audiences.clone(),
        cache_max: d.duration(
            p("cache_max"),
            f.cache_max.as_ref(),
            Duration::from_secs(300),
        ),
        cache_inactive: d.duration(
            p("cache_inactive"),
            f.cache_inactive.as_ref(),
            Duration::from_secs(10),
        ),
        timeout: d.duration(p("timeout"), f.timeout.as_ref(), Duration::from_secs(2)),
        max_response: usize::try_from(max_response).unwrap_or(usize::MAX),
        max_token_size: usize::try_from(max_token_size).unwrap_or(usize::MAX),
        token_from,
        leeway: d.duration(p("leeway"), f.leeway.as_ref(), Duration::from_secs(30)),
    })
}

/// One introspection answer, as cached.
#[derive(Clone)]
enum Answer {
    Active(Arc<Identity>),
    Inactive,
}

struct ByAnswer {
    max: Duration,
    inactive: Duration,
}

impl moka::Expiry<[u8; 32], Answer> for ByAnswer {
    fn expire_after_create(&self, _: &[u8; 32], v: &Answer, _: Instant) -> Option<Duration> {
        Some(match v {
            Answer::Inactive => self.inactive,
            Answer::Active(id) => id.expires_at.map_or(self.max, |exp| {
                Duration::from_secs(exp.saturating_sub(super::unix_now())).min(self.max)
            }),
        })
    }
}

pub struct Introspector {
    name: Arc<str>,
    settings: IntrospectionSettings,
    endpoint: ArcSwapOption<Uri>,
    client: crate::net::FetchClient,
    cache: moka::future::Cache<[u8; 32], Answer>,
    hits: prometheus::IntCounter,
    misses: prometheus::IntCounter,
    metrics: Metrics,
}

impl Introspector {
    pub fn build(
        name: &str,
        settings: &IntrospectionSettings,
        metrics: &Metrics,
    ) -> Result<Arc<Introspector>, String> {
        let fixed = match &settings.endpoint {
            Endpoint::Fixed(u) => Some(Arc::new(u.clone())),
            Endpoint::Discovery(_) => None,
        };
        let counter = |result: &str| metrics.token_cache.with_label_values(&[name, result]);
        let me = Arc::new(Introspector {
            name: Arc::from(name),
            settings: settings.clone(),
            endpoint: ArcSwapOption::new(fixed),
            client: crate::net::fetch_client(settings.timeout)?,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .expire_after(ByAnswer {
                    max: settings.cache_max,
                    inactive: settings.cache_inactive,
                })
                .build(),
            hits: counter("hit"),
            misses: counter("miss"),
            metrics: metrics.clone(),
        });
        if let Endpoint::Discovery(url) = &settings.endpoint {
            tokio::spawn(discover(Arc::downgrade(&me), url.clone()));
        }
        Ok(me)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn token_source(&self) -> &TokenSource {
        &self.settings.token_from
    }

    fn token<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        super::extract::token(headers, &self.settings.token_from)
    }

    /// Asks the endpoint about `token`: `Ok` with the answer, or why it could not.
    async fn call(&self, token: &str) -> Result<Answer, Dependency> {
        let endpoint = self.endpoint.load_full().ok_or(Dependency::Introspection)?;
        let s = &self.settings;
        let mut form = form_urlencoded(&[("token", token)]);
        if let Some(hint) = &s.token_type_hint {
            form.push('&');
            form.push_str(&form_urlencoded(&[("token_type_hint", hint)]));
        }
        let secret =
            std::str::from_utf8(s.client_secret.expose()).map_err(|_| Dependency::Introspection)?;
        let mut req = Request::post(endpoint.as_ref().clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        match s.client_auth {
            ClientAuth::Basic => {
                let pair = format!("{}:{}", pct(&s.client_id), pct(secret));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                req = req.header(header::AUTHORIZATION, value);
            }
            ClientAuth::Post => {
                form.push('&');
                form.push_str(&form_urlencoded(&[
                    ("client_id", &s.client_id),
                    ("client_secret", secret),
                ]));
            }
        }
        let req = req
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| Dependency::Introspection)?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|_| Dependency::Introspection)?;
            if resp.status() != http::StatusCode::OK {
                return Err(Dependency::Introspection);
            }
            let body = Limited::new(resp.into_body(), s.max_response)
                .collect()
                .await
                .map_err(|_| Dependency::Introspection)?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(s.timeout, exchange)
            .await
            .map_err(|_| Dependency::Introspection)??;
        let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&body) else {
            return Err(Dependency::Introspection);
        };
        match obj.get("active") {
            Some(Value::Bool(true)) => Ok(Answer::Active(Arc::new(identity(obj)))),
            Some(Value::Bool(false)) => Ok(Answer::Inactive),
            _ => Err(Dependency::Introspection),
        }
    }

    /// The same claim checks as a JWT's: time, issuer, audience.
    fn check(&self, id: &Identity, now: u64) -> Result<(), AuthFailure> {
        let s = &self.settings;
        let leeway = s.leeway.as_secs();
        if id
            .expires_at
            .is_some_and(|exp| now > exp.saturating_add(leeway))
        {
            return Err(AuthFailure::Expired);
        }
        if id
            .not_before
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(AuthFailure::NotYetValid);
        }
        if let Some(want) = &s.issuer {
            if id.issuer.as_deref() != Some(want.as_str()) {
                return Err(AuthFailure::WrongIssuer);
            }
        }
        if !s.audiences.is_empty() {
            let ok = match id.claims.get("aud") {
                Some(Value::String(a)) => s.audiences.contains(a),
                Some(Value::Array(list)) => list.iter().any(|a| {
                    a.as_str()
                        .is_some_and(|a| s.audiences.iter().any(|w| w == a))
                }),
                _ => false,
            };
            if !ok {
                return Err(AuthFailure::WrongAudience);
            }
        }
        if id.subject.is_empty() {
            return Err(AuthFailure::MissingClaim);
        }
        Ok(())
    }
}

/// Resolves the endpoint from the discovery document, retrying until it works.
async fn discover(me: std::sync::Weak<Introspector>, url: Uri) {
    let mut wait = Duration::from_millis(500);
    loop {
        let Some(this) = me.upgrade() else { return };
        match fetch_endpoint(&this, &url).await {
            Ok(endpoint) => {
                tracing::info!(authenticator = %this.name, endpoint = %endpoint, "introspection endpoint discovered");
                this.endpoint.store(Some(Arc::new(endpoint)));
                return;
            }
            Err(e) => {
                tracing::warn!(authenticator = %this.name, error = %e, "introspection discovery failed; retrying")
            }
        }
        drop(this);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

async fn fetch_endpoint(this: &Introspector, url: &Uri) -> Result<Uri, String> {
    let req = Request::get(url.clone())
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(this.settings.timeout, this.client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if resp.status() != http::StatusCode::OK {
        return Err(format!("status {}", resp.status()));
    }
    let body = Limited::new(resp.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    if let Some(want) = &this.settings.issuer {
        if doc.get("issuer").and_then(Value::as_str) != Some(want.as_str()) {
            return Err("the discovery document's issuer does not match".into());
        }
    }
    let endpoint = doc
        .get("introspection_endpoint")
        .and_then(Value::as_str)
        .ok_or("no introspection_endpoint in the discovery document")?;
    crate::config::fetch_url(endpoint)
}

fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// An active answer in kind-neutral form: the members become claims.
fn identity(mut obj: Map<String, Value>) -> Identity {
    obj.remove("active");
    let text =
        |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let num = |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_u64);
    Identity {
        subject: text(&obj, "sub")
            .or_else(|| text(&obj, "username"))
            .unwrap_or_default(),
        issuer: text(&obj, "iss"),
        expires_at: num(&obj, "exp"),
        not_before: num(&obj, "nbf"),
        issued_at: num(&obj, "iat"),
        token_id: text(&obj, "jti"),
        binding: obj
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .map(|jkt| super::Binding::Dpop {
                jkt: jkt.to_string(),
            }),
        claims: obj,
    }
}

impl Kind for Introspector {
    fn presents(&self, at: &Attempt<'_>) -> bool {
        !matches!(self.token(at.headers), Ok(None))
    }

    async fn verify(&self, at: &Attempt<'_>) -> Result<Verdict, AuthError> {
        let token = self.token(at.headers)?.ok_or(AuthFailure::Missing)?;
        if token.len() > self.settings.max_token_size {
            return Err(AuthFailure::TokenTooLarge.into());
        }
        let key = cache::key(&self.name, token.as_bytes());
        let fresh = std::sync::atomic::AtomicBool::new(false);
        let answer = self
            .cache
            .try_get_with(key, async {
                fresh.store(true, std::sync::atomic::Ordering::Relaxed);
                let result = self.call(token).await;
                let label = match &result {
                    Ok(Answer::Active(_)) => "active",
                    Ok(Answer::Inactive) => "inactive",
                    Err(_) => "error",
                };
                self.metrics
                    .introspections
                    .with_label_values(&[&self.name, label])
                    .inc();
                result
            })
            .await
            .map_err(|d| AuthError::Unavailable(*d))?;
        if fresh.load(std::sync::atomic::Ordering::Relaxed) {
            self.misses.inc()
        } else {
            self.hits.inc()
        }
        match answer {
            Answer::Inactive => Err(AuthFailure::Inactive.into()),
            Answer::Active(id) => {
                self.check(&id, at.now)?;
                Ok(Verdict::of(Principal::new(
                    self.name.clone(),
                    "introspection",
                    id,
                )))
            }
        }
    }

    fn challenge(&self) -> Challenge {
        Challenge::Bearer
    }

    fn strip(&self, headers: &mut HeaderMap) {
        super::extract::strip(headers, &self.settings.token_from);
    }

    fn not_ready(&self) -> Option<String> {
        self.endpoint.load().is_none().then(|| {
            format!(
                "authenticators.{}: introspection endpoint not discovered",
                self.name
            )
        })
    }

    fn watched_files(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    fn log_settings(&self) {
        tracing::info!(
            authenticator = %self.name,
            kind = "introspection",
            endpoint = match &self.settings.endpoint {
                Endpoint::Fixed(_) => "fixed",
                Endpoint::Discovery(_) => "discovery",
            },
            client_id = %self.settings.client_id,
            "authenticator"
        );
    }
}
