//! Login limits, shared by replicas through the store's GCRA: per username,
//! every attempt is counted before the password is checked (so parallel
//! guesses cannot all pass before the first failure is counted); per client
//! IP, failures are counted. A key past its limit is locked: every login for
//! it answers 429 with `Retry-After` until the lock lapses, right password or
//! not (so the lock reveals nothing). Usernames are trimmed, lower-cased and
//! hashed in key names. Sealed logins arrive from the relay's address: it gets
//! ten times the per-IP allowance, so one client cannot lock a shared relay.

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

/// The limiter keys of one login: the username's (counted per attempt) and
/// the client's or relay's (counted per failure).
pub(super) struct LoginKeys {
    user: (String, Rate),
    client: (String, Rate),
}

impl Issuer {
    pub(super) fn limit_keys(&self, username: &str, ctx: &Ctx<'_>) -> LoginKeys {
        let normalized = username.trim().to_lowercase();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, normalized.as_bytes());
        let user = format!("login:user:{}", hex::encode(&digest.as_ref()[..16]));
        let ip = self.settings.per_ip;
        let client = match ctx.sealed {
            false => (format!("login:ip:{}", ctx.ip), ip),
            true => (
                format!("login:relay:{}", ctx.ip),
                Rate {
                    interval: ip.interval / 10,
                    burst: ip.burst.saturating_mul(10),
                },
            ),
        };
        LoginKeys {
            user: (user, self.settings.per_user),
            client,
        }
    }

    /// Refuses a locked login, then counts the attempt on the username.
    pub(super) async fn admit_login(&self, keys: &LoginKeys, now: u64) -> Result<(), OAuthError> {
        self.locked(&[&keys.user, &keys.client], now).await?;
        self.step(&keys.user, now).await
    }

    /// Counts a failed login on the client's key.
    pub(super) async fn failed(&self, keys: &LoginKeys, now: u64) {
        let _ = self.step(&keys.client, now).await;
    }

    /// One GCRA step on `key`; past the limit the key is locked (and the
    /// attempt refused) for as long as the limiter says.
    async fn step(&self, (key, rate): &(String, Rate), now: u64) -> Result<(), OAuthError> {
        let wait = self
            .store
            .rate_step(key, *rate, &self.metrics)
            .await
            .map_err(|_| UNAVAILABLE)?;
        let Some(wait) = wait else {
            return Ok(());
        };
        let secs = wait.as_secs().max(1);
        let until = (now + secs).to_string();
        let lock = format!("lock:{key}");
        if self
            .store
            .put(&lock, &until, Duration::from_secs(secs), &self.metrics)
            .await
            .is_ok()
        {
            let which = key.split(':').nth(1).unwrap_or("user");
            tracing::warn!(
                limit = which,
                retry_after_secs = secs,
                "logins locked after too many attempts"
            );
        }
        let mut e = LOCKED;
        e.retry_after = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        Err(e)
    }

    /// Refuses the attempt while any of its keys is locked.
    async fn locked(&self, keys: &[&(String, Rate)], now: u64) -> Result<(), OAuthError> {
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
}
