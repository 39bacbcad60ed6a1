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

mod discovery;
mod health;
mod settings;

pub use settings::{settings, ClientAuth, Endpoint, IntrospectionSettings};

use crate::authn::binding;
use crate::authn::cache;
use crate::authn::extract::TokenSource;
use crate::authn::failure::{AuthError, AuthFailure, Dependency};
use crate::authn::jwt::{DiscoveredEndpoint, KeyRegistry};
use crate::authn::kind::{unix_now, Attempt, Challenge, Kind, Verdict};
use crate::authn::principal::{Identity, Principal};
use crate::metrics::Metrics;
use arc_swap::ArcSwapOption;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, Request};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One introspection answer, as cached.
#[derive(Clone)]
enum Answer {
    Active(Arc<Identity>),
    Inactive,
    /// Active, but not acceptable whatever the request (a malformed time, an
    /// uncheckable binding): cached like an inactive answer.
    Refused(AuthFailure),
}

struct ByAnswer {
    max: Duration,
    inactive: Duration,
}

impl moka::Expiry<[u8; 32], Answer> for ByAnswer {
    fn expire_after_create(&self, _: &[u8; 32], v: &Answer, _: Instant) -> Option<Duration> {
        Some(match v {
            Answer::Inactive | Answer::Refused(_) => self.inactive,
            Answer::Active(id) => id.expires_at.map_or(self.max, |exp| {
                Duration::from_secs(exp.saturating_sub(crate::authn::kind::unix_now()))
                    .min(self.max)
            }),
        })
    }
}

pub struct Introspector {
    name: Arc<str>,
    settings: IntrospectionSettings,
    endpoint: DiscoveredEndpoint,
    client: crate::net::FetchClient,
    cache: moka::future::Cache<[u8; 32], Answer>,
    hits: prometheus::IntCounter,
    misses: prometheus::IntCounter,
    metrics: Metrics,
    health: health::Health,
    dpop: crate::authn::dpop::Dpop,
}

impl Introspector {
    pub fn build(
        name: &str,
        settings: &IntrospectionSettings,
        registry: &KeyRegistry,
        metrics: &Metrics,
    ) -> Result<Arc<Introspector>, String> {
        // A fixed endpoint is known now; a discovered one survives reloads in
        // the registry, and is looked for only when it is new.
        let (endpoint, discover) = match &settings.endpoint {
            Endpoint::Fixed(u) => (
                Arc::new(ArcSwapOption::new(Some(Arc::new(u.clone())))),
                None,
            ),
            Endpoint::Discovery(url) => match registry.endpoint_slot(name, url) {
                (slot, true) => (slot, Some(url.clone())),
                (slot, false) => (slot, None),
            },
        };
        let counter = |result: &str| metrics.token_cache.with_label_values(&[name, result]);
        let me = Arc::new(Introspector {
            name: Arc::from(name),
            settings: settings.clone(),
            endpoint,
            client: crate::net::fetch_client(
                settings.timeout,
                None,
                metrics.tls_handshakes.clone(),
            )?,
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
            health: health::Health::default(),
            dpop: crate::authn::dpop::Dpop::new(name, &settings.dpop)?,
        });
        if let Some(url) = discover {
            let d = discovery::Discovery {
                name: me.name.clone(),
                url,
                client: me.client.clone(),
                timeout: settings.timeout,
                issuer: settings.issuer.clone(),
            };
            tokio::spawn(discovery::discover(d, Arc::downgrade(&me.endpoint)));
        }
        Ok(me)
    }

    /// The discovered endpoint's slot, kept across reloads (none when fixed).
    pub fn discovered_endpoint(&self) -> Option<&DiscoveredEndpoint> {
        matches!(self.settings.endpoint, Endpoint::Discovery(_)).then_some(&self.endpoint)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn token_source(&self) -> &TokenSource {
        &self.settings.token_from
    }

    fn token<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, AuthFailure> {
        crate::authn::extract::token(headers, &self.settings.token_from)
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
            Some(Value::Bool(true)) => Ok(match identity(obj) {
                Ok(id) => Answer::Active(Arc::new(id)),
                Err(failure) => Answer::Refused(failure),
            }),
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

/// An active answer in kind-neutral form: the members become claims. Times
/// must be numbers (RFC 7662 §2.2 NumericDate) and a `cnf` binding one this
/// gateway can check; the subject is `sub` (never `username`, which RFC 7662
/// does not make unique).
fn identity(mut obj: Map<String, Value>) -> Result<Identity, AuthFailure> {
    obj.remove("active");
    let text =
        |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let time = |o: &Map<String, Value>, k: &str| match o.get(k) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(AuthFailure::Malformed),
    };
    Ok(Identity {
        subject: text(&obj, "sub").unwrap_or_default(),
        issuer: text(&obj, "iss"),
        expires_at: time(&obj, "exp")?,
        not_before: time(&obj, "nbf")?,
        issued_at: time(&obj, "iat")?,
        token_id: text(&obj, "jti"),
        binding: binding::parse(&obj)?,
        claims: obj,
    })
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
                self.health.record(result.is_ok());
                let label = match &result {
                    Ok(Answer::Active(_)) => "active",
                    Ok(Answer::Inactive) => "inactive",
                    Ok(Answer::Refused(_)) => "refused",
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
        let cached = !fresh.load(std::sync::atomic::Ordering::Relaxed);
        match cached {
            false => self.misses.inc(),
            true => self.hits.inc(),
        }
        match answer {
            Answer::Inactive => Err(AuthFailure::Inactive.into()),
            Answer::Refused(failure) => Err(failure.into()),
            Answer::Active(id) => {
                self.check(&id, at.now)?;
                let p = Principal::new(self.name.clone(), "introspection", id);
                let p = if cached { p.cache_answered() } else { p };
                Ok(binding::verdict(p, at, token, &self.dpop, false)?)
            }
        }
    }

    fn catch_all(&self) -> bool {
        true
    }

    fn challenge(&self) -> Challenge {
        Challenge::Bearer
    }

    fn dpop_challenge(&self) -> Option<Challenge> {
        self.dpop.challenge()
    }

    fn strip(&self, headers: &mut HeaderMap) {
        crate::authn::extract::strip(headers, &self.settings.token_from);
    }

    fn not_ready(&self) -> Option<String> {
        if self.endpoint.load().is_none() {
            return Some(format!(
                "authenticators.{}: introspection endpoint not discovered",
                self.name
            ));
        }
        let since = self.health.failing_for(unix_now())?;
        Some(format!(
            "authenticators.{}: introspection endpoint failing (last error {since}s ago)",
            self.name
        ))
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
