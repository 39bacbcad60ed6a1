//! The two grants (RFC 6749 §4.3 password, §6 refresh). A login checks the
//! failed-login locks, the password, then opens a session: a refresh-token
//! family and the first access token. A refresh rotates the family's token by
//! compare-and-swap; a token the family already replaced ends the session
//! (reuse detection, RFC 9700 §4.14.2), as does losing a race to rotate it.

use super::oauth::{truthy, OAuthError, INVALID_REQUEST, UNAVAILABLE};
use super::tokens::{new_family, parse_refresh, Grant};
use super::verifier::Checked;
use super::{Ctx, Issuer};
use crate::authn::dpop::Proof;
use crate::store::sessions::FamilyRecord;
use crate::store::StoreUnavailable;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const BAD_CREDENTIALS: OAuthError = OAuthError::new(
    "invalid_grant",
    "the username or password is incorrect",
    "invalid_credentials",
);
const BAD_REFRESH: &str = "the refresh token is invalid, expired or revoked";

fn bad_refresh(outcome: &'static str) -> OAuthError {
    OAuthError::new("invalid_grant", BAD_REFRESH, outcome)
}

fn unavailable(_: StoreUnavailable) -> OAuthError {
    UNAVAILABLE
}

fn ct_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl Issuer {
    /// `grant_type=password`: the whole login.
    pub(super) async fn password(
        &self,
        p: &BTreeMap<String, String>,
        ctx: &Ctx<'_>,
        proof: Option<&Proof>,
    ) -> Result<Value, OAuthError> {
        let (Some(username), Some(password)) = (p.get("username"), p.get("password")) else {
            return Err(INVALID_REQUEST);
        };
        use super::users::{MAX_PASSWORD, MAX_USERNAME};
        if username.is_empty() || username.len() > MAX_USERNAME || password.len() > MAX_PASSWORD {
            return Err(INVALID_REQUEST);
        }
        let keys = self.limit_keys(username, ctx);
        self.admit_login(&keys, ctx.now).await?;
        let (sub, claims) = match self.checker.check(username, password, &self.metrics).await {
            Checked::Valid { sub, claims } => (sub, claims),
            Checked::Invalid => {
                self.failed(&keys, ctx.now).await;
                return Err(BAD_CREDENTIALS);
            }
            Checked::Unavailable => return Err(UNAVAILABLE),
        };
        let remember = truthy(p.get("remember"));
        let ttl = match remember {
            true => self.settings.remember_ttl,
            false => self.settings.refresh_ttl,
        };
        let fid = new_family().map_err(|_| UNAVAILABLE)?;
        let (refresh, hash) = self.generations.token(&fid, 0).map_err(|_| UNAVAILABLE)?;
        let family = FamilyRecord {
            sub,
            claims,
            jkt: proof.map(|p| p.jkt.clone()),
            remember,
            created_at: ctx.now,
            expires_at: ctx.now + ttl.as_secs(),
            last_used: ctx.now,
            current: hash,
            generation: 0,
        };
        let store = &self.store;
        store
            .put_family(&fid, &family, ctx.now, &self.metrics)
            .await
            .map_err(unavailable)?;
        tracing::info!(subject = %family.sub, session = %fid, remember, dpop = family.jkt.is_some(), "login");
        self.tokens(&fid, &family, &refresh, ctx.now).await
    }

    /// `grant_type=refresh_token`: rotate, or detect reuse and end the session.
    pub(super) async fn refresh(
        &self,
        p: &BTreeMap<String, String>,
        ctx: &Ctx<'_>,
        proof: Option<&Proof>,
    ) -> Result<Value, OAuthError> {
        let token = p.get("refresh_token").ok_or(INVALID_REQUEST)?;
        let r = parse_refresh(token).ok_or(bad_refresh("invalid_refresh_token"))?;
        // A token whose generation we did not sign names a session it does
        // not belong to: refused, and the session is left alone.
        if !self.generations.issued(&r) {
            return Err(bad_refresh("invalid_refresh_token"));
        }
        let fid = r.family;
        let (family, raw) = self
            .store
            .family(fid, &self.metrics)
            .await
            .map_err(unavailable)?
            .ok_or(bad_refresh("unknown_refresh_token"))?;
        if r.generation < family.generation {
            // A token this session replaced, however long ago: reuse.
            self.reused(fid, &family, ctx.now).await;
            return Err(bad_refresh("refresh_reused"));
        }
        if r.generation != family.generation || !ct_eq(&r.hash, &family.current) {
            return Err(bad_refresh("unknown_refresh_token"));
        }
        self.still_valid(fid, &family, ctx.now).await?;
        if let Some(jkt) = &family.jkt {
            let proof = proof.ok_or(OAuthError::new(
                "invalid_dpop_proof",
                "this refresh token is DPoP-bound: send a proof by its key",
                "dpop_proof_missing",
            ))?;
            if !ct_eq(&proof.jkt, jkt) {
                return Err(bad_refresh("dpop_key_mismatch"));
            }
        }
        let generation = family.generation + 1;
        let (refresh, hash) = self
            .generations
            .token(fid, generation)
            .map_err(|_| UNAVAILABLE)?;
        let next = FamilyRecord {
            current: hash,
            generation,
            last_used: ctx.now,
            ..family.clone()
        };
        // The answer is made before the rotation commits: a store failure
        // while minting leaves the presented token valid (no false reuse). A
        // token minted for a rotation that then loses dies with its session.
        let answer = self.tokens(fid, &next, &refresh, ctx.now).await?;
        let swapped = self
            .store
            .swap_family(fid, &raw, &next, ctx.now, &self.metrics)
            .await
            .map_err(unavailable)?;
        if !swapped {
            // Another request rotated this very token first: it was used twice.
            self.reused(fid, &family, ctx.now).await;
            return Err(bad_refresh("refresh_reused"));
        }
        Ok(answer)
    }

    /// The session's absolute and idle limits, and a logout of all the
    /// subject's sessions after it began.
    async fn still_valid(&self, fid: &str, f: &FamilyRecord, now: u64) -> Result<(), OAuthError> {
        let idle = now.saturating_sub(f.last_used) > self.settings.idle.as_secs();
        if now >= f.expires_at || idle {
            let _ = self.store.delete_family(fid, &self.metrics).await;
            return Err(bad_refresh(if idle {
                "session_idle"
            } else {
                "session_expired"
            }));
        }
        let batch = crate::store::Batch {
            revocation: Some((None, &f.sub)),
            session: Some(fid),
            ..crate::store::Batch::default()
        };
        let out = self
            .store
            .run(&batch, &self.metrics)
            .await
            .map_err(unavailable)?;
        let ended =
            out.session_revoked || out.subject_not_before.is_some_and(|t| f.created_at <= t);
        if ended {
            return Err(bad_refresh("session_revoked"));
        }
        Ok(())
    }

    async fn reused(&self, fid: &str, f: &FamilyRecord, now: u64) {
        tracing::warn!(subject = %f.sub, session = %fid, "refresh token reused: the whole session is revoked");
        if self.end_session(fid, now).await.is_err() {
            tracing::error!(session = %fid, "could not revoke the session of a reused refresh token");
        }
    }

    /// The token response for session `fid`: a new access token and `refresh`.
    async fn tokens(
        &self,
        fid: &str,
        f: &FamilyRecord,
        refresh: &str,
        now: u64,
    ) -> Result<Value, OAuthError> {
        let grant = Grant {
            sub: &f.sub,
            claims: &f.claims,
            sid: fid,
            jkt: f.jkt.as_deref(),
        };
        let access = self
            .minter
            .mint(&grant, now, &self.store, &self.metrics)
            .await
            .map_err(unavailable)?;
        let mut body = Map::new();
        body.insert("access_token".into(), Value::from(access));
        let kind = if f.jkt.is_some() { "DPoP" } else { "Bearer" };
        body.insert("token_type".into(), Value::from(kind));
        body.insert(
            "expires_in".into(),
            Value::from(self.settings.access_ttl.as_secs()),
        );
        body.insert("refresh_token".into(), Value::from(refresh));
        body.insert(
            "refresh_token_expires_in".into(),
            Value::from(f.expires_at.saturating_sub(now)),
        );
        if let Some(scope) = f.claims.get("scope") {
            body.insert("scope".into(), scope.clone());
        }
        Ok(Value::Object(body))
    }
}
