//! Admission: store-backed checks around authentication. Clients blocked for
//! repeated failed authentication (before), and revocation, single use and the
//! route's rate limit in one store round trip (after). Its verdicts are its
//! own ([`Refusal`]), apart from authentication failures and authorization
//! denials.

use crate::authn::{Principal, Verdict};
use crate::gateway::Gateway;
use crate::route::settings::{RateKey, Route};
use crate::state::Shared;
use crate::store::Batch;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A verified credential the store says may not be used (again). 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Revoked,
    Replayed,
    /// Single use needs a token id (`jti`) and the credential has none.
    MissingTokenId,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Revoked => "revoked",
            Refusal::Replayed => "replayed",
            Refusal::MissingTokenId => "missing_claim",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Refusal::Revoked => "the token has been revoked",
            Refusal::Replayed => "the token was already used and is valid only once",
            Refusal::MissingTokenId => "the token lacks a required claim",
        }
    }
}

/// Why admission ended a request; `error` maps each to the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionError {
    Refused(Refusal),
    RateLimited {
        retry_after_secs: u32,
        failed_auth: bool,
    },
    StoreUnavailable,
    EnvelopeReplayed,
    EnvelopeStale,
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Refuses a client that failed authentication too often, without a store round trip.
pub fn before_auth(state: &Shared, ip: IpAddr) -> Result<(), AdmissionError> {
    match state.blocked.get(&ip) {
        Some(until) if until > Instant::now() => Err(AdmissionError::RateLimited {
            retry_after_secs: secs(until - Instant::now()),
            failed_auth: true,
        }),
        _ => Ok(()),
    }
}

/// Counts a failed authentication for `ip`; past the limit, the client is blocked
/// on this replica for as long as the shared limiter says.
pub async fn auth_failed(state: &Shared, gw: &Gateway, ip: IpAddr) {
    let Some(rate) = gw.config.limits.failed_auth else {
        return;
    };
    let key = format!("fail:{ip}");
    if let Ok(Some(wait)) = gw.store.rate_step(&key, rate, &state.metrics).await {
        state.blocked.insert(ip, Instant::now() + wait);
        tracing::warn!(client = %ip, retry_after_secs = secs(wait), "client blocked after repeated failed authentication");
    }
}

/// Revocation, single use and the route's rate limit, in one store round
/// trip; `trip` is set to when it began (a traced request's store span).
pub async fn after_auth(
    state: &Shared,
    gw: &Gateway,
    route: &Route,
    verdict: Option<&Verdict>,
    ip: IpAddr,
    now: u64,
    trip: &mut Option<Instant>,
) -> Result<(), AdmissionError> {
    let p = verdict.map(|v| &v.principal);
    let replay = verdict.and_then(|v| v.replay.as_ref());
    let rate_key = route.rate_limit.map(|rl| match (rl.per, p) {
        (RateKey::Subject, Some(p)) => (format!("{}:sub:{}", route.name, p.subject()), rl.rate),
        _ => (format!("{}:ip:{ip}", route.name), rl.rate),
    });
    let single_use = match (route.single_use, p) {
        // A signed request's nonce is its single-use id: consumed below.
        (true, Some(p)) if p.jti().is_none() && replay.is_some() => None,
        (true, Some(p)) => {
            let jti = p
                .jti()
                .ok_or(AdmissionError::Refused(Refusal::MissingTokenId))?;
            // Remember the jti as long as the token could still be accepted.
            let ttl = p
                .expires_at()
                .map_or(3600, |exp| exp.saturating_sub(now) + 300);
            Some((jti, Duration::from_secs(ttl)))
        }
        _ => None,
    };
    let batch = Batch {
        single_use,
        rate: rate_key.as_ref().map(|(k, r)| (k.as_str(), *r)),
        nonce: replay.map(|(k, ttl)| (k.as_str(), *ttl)),
        ..p.map(Principal::revocation_checks).unwrap_or_default()
    };
    if batch.revocation.is_none()
        && batch.single_use.is_none()
        && batch.rate.is_none()
        && batch.nonce.is_none()
    {
        return Ok(());
    }
    *trip = Some(Instant::now());
    let out = match gw.store.run(&batch, &state.metrics).await {
        Ok(out) => out,
        // A nonce that cannot be checked may be a replay: never served blind.
        Err(_) if route.allow_on_store_error && batch.nonce.is_none() => {
            tracing::debug!(route = %route.name, "state store unavailable; route allows serving anyway");
            return Ok(());
        }
        Err(_) => return Err(AdmissionError::StoreUnavailable),
    };
    if p.is_some_and(|p| p.revoked_by(&out)) {
        return Err(AdmissionError::Refused(Refusal::Revoked));
    }
    if !out.first_use || !out.nonce_fresh {
        return Err(AdmissionError::Refused(Refusal::Replayed));
    }
    if let Some(wait) = out.retry_after {
        return Err(AdmissionError::RateLimited {
            retry_after_secs: secs(wait),
            failed_auth: false,
        });
    }
    Ok(())
}

/// Replay protection for sealed requests (OHTTP has none of its own): the inner
/// `Date` must be within `window` of now, and the encapsulated key must not have
/// been seen within the window (kept in the store, shared by replicas).
pub async fn envelope_replay(
    state: &Shared,
    gw: &Gateway,
    route: &Route,
    enc: &[u8],
    headers: &http::HeaderMap,
    window: Duration,
    now: u64,
) -> Result<(), AdmissionError> {
    let date = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or(AdmissionError::EnvelopeStale)?;
    if date.abs_diff(now) > window.as_secs() {
        return Err(AdmissionError::EnvelopeStale);
    }
    // A post-quantum `enc` is over a kilobyte: its SHA-256 keys the store
    // instead. DH encs stay as they were, so a rolling upgrade keeps
    // detecting their replays across old and new replicas.
    let key = match enc.len() > 65 {
        true => format!(
            "ohttp:h:{}",
            hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, enc))
        ),
        false => format!("ohttp:{}", hex::encode(enc)),
    };
    let batch = Batch {
        single_use: Some((&key, window * 2)),
        ..Batch::default()
    };
    match gw.store.run(&batch, &state.metrics).await {
        Ok(out) if out.first_use => Ok(()),
        Ok(_) => Err(AdmissionError::EnvelopeReplayed),
        Err(_) if route.allow_on_store_error => Ok(()),
        Err(_) => Err(AdmissionError::StoreUnavailable),
    }
}
