//! Failed-login limits, per username and per client IP, shared by replicas
//! through the store: each failure is a GCRA step; past the burst, a lock
//! with the limiter's wait is stored and every login for that key answers 429
//! with `Retry-After` until it lapses, right or wrong password alike (so the
//! lock reveals nothing). Usernames are hashed in key names. Sealed logins
//! arrive from the relay's address: only the username limit applies to them.

use super::oauth::{OAuthError, UNAVAILABLE};
use super::{Ctx, Issuer};
use crate::store::Rate;
use http::StatusCode;
use std::time::Duration;

const LOCKED: OAuthError = OAuthError::new(
    "temporarily_unavailable",
    "too many failed logins; retry later",
    "login_rate_limited",
)
.status(StatusCode::TOO_MANY_REQUESTS);

impl Issuer {
    /// The limiter keys of this login attempt, with their rates.
    pub(super) fn limit_keys(&self, username: &str, ctx: &Ctx<'_>) -> Vec<(String, Rate)> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, username.as_bytes());
        let mut keys = vec![(
            format!("login:user:{}", hex::encode(&digest.as_ref()[..16])),
            self.settings.per_user,
        )];
        if !ctx.sealed {
            keys.push((format!("login:ip:{}", ctx.ip), self.settings.per_ip));
        }
        keys
    }

    /// Refuses the attempt while any of its keys is locked.
    pub(super) async fn locked(&self, keys: &[(String, Rate)], now: u64) -> Result<(), OAuthError> {
        for (key, _) in keys {
            let until = self
                .store
                .get(&format!("lock:{key}"), &self.metrics)
                .await
                .map_err(|_| UNAVAILABLE)?
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(until) = until.filter(|u| *u > now) {
                let mut e = LOCKED;
                e.retry_after = Some(u32::try_from(until - now).unwrap_or(u32::MAX));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Counts a failed login on every key; a key past its limit is locked.
    pub(super) async fn failed(&self, keys: &[(String, Rate)], now: u64) {
        for (key, rate) in keys {
            let Ok(Some(wait)) = self.store.rate_step(key, *rate, &self.metrics).await else {
                continue;
            };
            let secs = wait.as_secs().max(1);
            let lock = format!("lock:{key}");
            let until = (now + secs).to_string();
            if self
                .store
                .put(&lock, &until, Duration::from_secs(secs), &self.metrics)
                .await
                .is_ok()
            {
                let which = if key.starts_with("login:ip:") {
                    "client"
                } else {
                    "username"
                };
                tracing::warn!(
                    limit = which,
                    retry_after_secs = secs,
                    "logins locked after repeated failures"
                );
            }
        }
    }
}
