//! Ending tokens: RFC 7009 revocation (any token this endpoint issued, by
//! whoever holds it; always 200, so the answer reveals nothing), and logout
//! (the caller's session, or with `everywhere` every token of the subject,
//! through the existing subject revocation). A session ends by deleting its
//! family and recording its id as revoked for as long as its access tokens
//! live, so JWT access tokens stop at the next request on every replica.

use super::oauth::{json, truthy, OAuthError, INVALID_REQUEST, UNAVAILABLE};
use super::tokens::parse_refresh;
use super::{Ctx, Issuer};
use crate::authn::api_key::{check_shape, fingerprint};
use crate::authn::issued::OPAQUE_PREFIX;
use crate::authn::Attempt;
use crate::body::ResBody;
use crate::store::{Revocation, StoreUnavailable};
use http::{Response, StatusCode};
use std::collections::BTreeMap;
use std::time::Duration;

const NOT_AUTHENTICATED: OAuthError = OAuthError::new(
    "invalid_token",
    "logout needs the session's valid access token",
    "invalid_token",
)
.status(StatusCode::UNAUTHORIZED);

/// A refused access token at logout, as RFC 9449 §7.1 / RFC 6750 §3.1 say.
fn refused(f: crate::authn::AuthFailure) -> OAuthError {
    match f.dpop_error() {
        "use_dpop_nonce" => OAuthError::new(
            "use_dpop_nonce",
            "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            "dpop_nonce_required",
        ),
        "invalid_dpop_proof" => OAuthError::new(
            "invalid_dpop_proof",
            "the DPoP proof is missing or invalid",
            f.reason(),
        ),
        _ => NOT_AUTHENTICATED,
    }
    .status(StatusCode::UNAUTHORIZED)
}

fn ct_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

impl Issuer {
    /// Deletes session `fid` and voids its access tokens everywhere.
    pub(super) async fn end_session(&self, fid: &str, now: u64) -> Result<(), StoreUnavailable> {
        // As long as an access token of the session can be accepted: its
        // lifetime plus the largest leeway an `issued` authenticator allows.
        let lasts =
            self.settings.access_ttl + crate::authn::issued::MAX_LEEWAY + Duration::from_secs(60);
        let mark = Revocation::Session {
            sid: fid.to_string(),
            until: now + lasts.as_secs(),
        };
        self.store.revoke(&mark, lasts, &self.metrics).await?;
        self.store
            .delete_family(fid, &self.metrics)
            .await
            .map(|_| ())
    }

    /// RFC 7009 §2: `token` (any `token_type_hint` is only a hint).
    pub(super) async fn revoke(
        &self,
        p: &BTreeMap<String, String>,
        now: u64,
    ) -> Result<&'static str, OAuthError> {
        let token = p
            .get("token")
            .filter(|t| !t.is_empty())
            .ok_or(INVALID_REQUEST)?;
        let unavailable = |_| UNAVAILABLE;
        if let Some(r) = parse_refresh(token).filter(|r| self.generations.issued(r)) {
            let Some((family, _)) = self
                .store
                .family(r.family, &self.metrics)
                .await
                .map_err(unavailable)?
            else {
                return Ok("unknown");
            };
            // The current token, or one this session replaced.
            let current = r.generation == family.generation && ct_eq(&r.hash, &family.current);
            if current || r.generation < family.generation {
                self.end_session(r.family, now).await.map_err(unavailable)?;
                return Ok("refresh_token");
            }
            return Ok("unknown");
        }
        if token.starts_with(OPAQUE_PREFIX) && check_shape(OPAQUE_PREFIX, token).is_ok() {
            let (id, hash) = fingerprint(token);
            let record = self
                .store
                .access(&id, &self.metrics)
                .await
                .map_err(unavailable)?;
            if record.is_some_and(|r| ct_eq(&r.hash, &hash)) {
                self.store
                    .delete_access(&id, &self.metrics)
                    .await
                    .map_err(unavailable)?;
                return Ok("access_token");
            }
            return Ok("unknown");
        }
        let Ok(principal) = self.access.principal(token, now).await else {
            return Ok("unknown");
        };
        let (Some(jti), Some(exp)) = (principal.jti(), principal.expires_at()) else {
            return Ok("unknown");
        };
        let mark = Revocation::Jti {
            jti: jti.to_string(),
            exp,
        };
        let ttl = Duration::from_secs(exp.saturating_sub(now) + 60);
        self.store
            .revoke(&mark, ttl, &self.metrics)
            .await
            .map_err(unavailable)?;
        Ok("access_token")
    }

    /// Logout: authenticated by the session's access token (DPoP-bound ones
    /// with their proof); `everywhere=true` ends every session of the subject.
    pub(super) async fn logout(
        &self,
        p: &BTreeMap<String, String>,
        at: &Attempt<'_>,
        ctx: &Ctx<'_>,
    ) -> Result<Response<ResBody>, OAuthError> {
        use crate::authn::{AuthError, Kind};
        let verdict = match self.access.verify(at).await {
            Ok(v) => v,
            Err(AuthError::Rejected(f)) => return Err(refused(f)),
            Err(AuthError::Unavailable(_)) => return Err(UNAVAILABLE),
        };
        let principal = verdict.principal;
        let sid = principal.session().ok_or(NOT_AUTHENTICATED)?.to_string();
        // The checks every request makes: a revoked token, or a proof's jti
        // seen before, may not log anyone out.
        let batch = crate::store::Batch {
            nonce: verdict.replay.as_ref().map(|(k, ttl)| (k.as_str(), *ttl)),
            ..principal.revocation_checks()
        };
        let out = self
            .store
            .run(&batch, &self.metrics)
            .await
            .map_err(|_| UNAVAILABLE)?;
        if principal.revoked_by(&out) || !out.nonce_fresh {
            return Err(NOT_AUTHENTICATED);
        }
        self.end_session(&sid, ctx.now)
            .await
            .map_err(|_| UNAVAILABLE)?;
        let everywhere = truthy(p.get("everywhere"));
        if everywhere {
            // Never an earlier cut-off than an operator's mark already says.
            let sub = principal.subject();
            let existing = self
                .store
                .get(&crate::store::sub_key(sub), &self.metrics)
                .await
                .map_err(|_| UNAVAILABLE)?
                .and_then(|v| v.parse::<u64>().ok());
            let mark = Revocation::Subject {
                sub: sub.to_string(),
                issued_before: existing.unwrap_or(0).max(ctx.now),
            };
            // Never shorter than an operator's subject revocation would last.
            let ttl = self.settings.longest().max(self.subject_revocation_ttl);
            self.store
                .revoke(&mark, ttl, &self.metrics)
                .await
                .map_err(|_| UNAVAILABLE)?;
        }
        tracing::info!(subject = %principal.subject(), session = %sid, everywhere, "logout");
        let body = serde_json::json!({ "logged_out": true, "everywhere": everywhere });
        Ok(json(StatusCode::OK, &body))
    }
}
