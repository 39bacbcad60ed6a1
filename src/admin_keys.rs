//! `/admin/api-keys`: create (the key is in the answer once, never again),
//! list (records only, never a key) and revoke API keys of store-backed
//! `api-key` authenticators. Behind `admin.token` like the rest of the admin
//! API; every call is written to the audit log.

use crate::authn::{api_key, unix_now, Authenticator};
use crate::body::{json, ResBody};
use crate::gateway::Gateway;
use crate::problem::plain as problem;
use crate::state::Shared;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    authenticator: String,
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
    ttl: Option<String>,
    #[serde(default)]
    description: String,
}

fn unavailable() -> Response<ResBody> {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the state store is unavailable",
    )
}

pub async fn handle(state: &Shared, gw: &Gateway, req: Request<Incoming>) -> Response<ResBody> {
    let m = &state.metrics;
    let id = req
        .uri()
        .path()
        .strip_prefix("/admin/api-keys/")
        .map(str::to_string);
    match (req.method().clone(), id) {
        (Method::GET, None) => match gw.store.api_keys(m).await {
            Ok(list) => json(StatusCode::OK, &serde_json::json!({ "api_keys": list })),
            Err(_) => unavailable(),
        },
        (Method::DELETE, Some(id)) => match gw.store.delete_api_key(&id, m).await {
            Ok(true) => {
                tracing::info!(target: "sealgate::audit", api_key = %id, result = "revoked", "API key revoked");
                Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(crate::body::full(""))
                    .unwrap_or_else(|_| unavailable())
            }
            Ok(false) => problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "no API key with this id",
            ),
            Err(_) => unavailable(),
        },
        (Method::POST, None) => create(state, gw, req).await,
        _ => problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "GET or POST /admin/api-keys, DELETE /admin/api-keys/ID",
        ),
    }
}

async fn create(state: &Shared, gw: &Gateway, req: Request<Incoming>) -> Response<ResBody> {
    let bad = |detail: &str| problem(StatusCode::BAD_REQUEST, "invalid_request", detail);
    let Ok(body) = Limited::new(req.into_body(), 64 * 1024).collect().await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "at most 64 KiB",
        );
    };
    let Ok(r) = serde_json::from_slice::<CreateRequest>(&body.to_bytes()) else {
        return bad(
            "expected JSON {\"authenticator\",\"subject\",\"scopes\",\"ttl\",\"description\"}",
        );
    };
    let Some(Authenticator::ApiKey(a)) = gw.authenticators.get(&r.authenticator).map(|a| &**a)
    else {
        return bad("authenticator must name an authenticator of kind \"api-key\"");
    };
    let ttl = match r.ttl.as_deref().map(crate::config::units::duration) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(m)) => return bad(&format!("ttl: {m}")),
    };
    let new = api_key::NewKey {
        subject: r.subject,
        scopes: r.scopes,
        ttl,
        description: r.description,
    };
    match a.create(&gw.store, new, unix_now(), &state.metrics).await {
        Ok(Ok((record, key))) => {
            tracing::info!(target: "sealgate::audit", api_key = %record.id, authenticator = %record.authenticator, subject = %record.subject, result = "created", "API key created");
            json(
                StatusCode::CREATED,
                &serde_json::json!({ "id": record.id, "key": key }),
            )
        }
        Ok(Err(m)) => bad(&m),
        Err(_) => unavailable(),
    }
}
