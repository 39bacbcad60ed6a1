//! The admin listener (plain HTTP, meant for localhost or a private network):
//! `/metrics`, `/livez`, `/readyz`.

use crate::body::{full, ResBody};
use crate::state::Shared;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, state: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(state.clone(), req));
                    let mut b = hyper::server::conn::http1::Builder::new();
                    b.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
                    let _ = b.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        }
    }
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<bytes::Bytes>,
) -> Response<ResBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// What keeps the gateway from being ready; empty when it is.
pub fn not_ready(state: &Shared) -> Vec<String> {
    state.gateway.load().not_ready()
}

/// Everything not ready, including whether the store answers right now.
pub async fn readiness(state: &Shared) -> Vec<String> {
    let mut missing = not_ready(state);
    let store = state.gateway.load().store.clone();
    let ping = tokio::time::timeout(Duration::from_millis(500), store.ping()).await;
    if !matches!(ping, Ok(Ok(()))) {
        missing.push(format!("store ({}): unavailable", store.kind()));
    }
    missing
}

async fn answer(
    state: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ResBody>, Infallible> {
    if req.uri().path().starts_with("/admin/") {
        return Ok(crate::admin_api::handle(&state, req).await);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n",
        ));
    }
    Ok(match req.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(),
        ),
        "/livez" => text(StatusCode::OK, "text/plain", "ok\n"),
        "/.well-known/jwks.json" => {
            let jwks = state.gateway.load().published_jwks();
            let mut r = text(
                StatusCode::OK,
                "application/jwk-set+json",
                jwks.unwrap_or_else(|| bytes::Bytes::from_static(b"{\"keys\":[]}")),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            r
        }
        "/readyz" => {
            let missing = readiness(&state).await;
            state.metrics.ready.set(i64::from(missing.is_empty()));
            if missing.is_empty() {
                text(StatusCode::OK, "text/plain", "ready\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready:\n{}\n", missing.join("\n")),
                )
            }
        }
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    })
}
