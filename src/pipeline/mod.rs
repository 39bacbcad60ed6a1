//! The ordered phases of one request, readable top to bottom. Each phase either
//! continues or ends the request with a `GatewayError`; metrics and the access
//! log run once, when the response body ends (see `access`).
//!
//! (open) -> route (limits, host, path) -> sealed rule -> authenticate +
//! authorize -> admission -> rewrite (`rewrite`) -> forward -> (seal).

mod body;
mod checks;
mod decision;
mod extended_connect;
mod phases;
mod respond;
mod rewrite;
mod sealed;
mod upgrade;

use crate::access::AccessRecord;
use crate::body::AccountedBody;
use crate::conn::ConnInfo;
use crate::request_id::{self, X_REQUEST_ID};
use crate::state::Shared;
use http::{header, Request, Response};
use hyper::body::Incoming;
use phases::{answer, process};
use std::convert::Infallible;
use std::sync::Arc;

pub async fn handle(
    state: Arc<Shared>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<AccountedBody>, Infallible> {
    let gw = state.gateway.load_full();
    let request_id = request_id::request_id(req.headers());
    let mut record = AccessRecord::start(state.clone(), &req, conn.peer.ip(), request_id.clone());
    let envelope = match &gw.envelope {
        Some(e) if req.uri().path() == e.config.path => Some(e),
        _ => None,
    };
    // gRPC clients read refusals from grpc-status, not from HTTP statuses.
    let grpc = crate::grpc::is_grpc(req.headers());
    let decision = gw.config.decision.as_ref();
    let decision = decision.filter(|d| d.matches(req.uri().path()));
    // An HTTP/1.1 body left unread by a refusal is drained, not reset
    // (`linger`); but never for decisions: a body an auth_request caller
    // declares is never sent, so the connection must close as before, or the
    // caller's next request would be read as this one's body.
    let linger = req.version() < http::Version::HTTP_2 && decision.is_none();
    let linger = linger.then(|| crate::linger::Linger::of(req.headers()));
    // Every way a body is read (authentication, envelopes, forwarding) gets
    // the same deadline between bytes.
    let gap = gw.config.listen.body_read_timeout;
    let req = req.map(|b| crate::body::paced(crate::linger::Lingering::new(b, linger, gap), gap));
    let mut response = match (envelope, decision) {
        // The envelope and decision paths are boxed: their state would
        // otherwise size (and every move would copy) each request's future.
        (Some(env), _) => {
            Box::pin(sealed::answer(
                &gw,
                &state,
                &conn,
                &request_id,
                &mut record,
                env,
                req,
            ))
            .await
        }
        (None, Some(d)) => {
            // The asking proxy reads HTTP statuses: a gRPC-shaped refusal
            // (HTTP 200) would read as "allowed".
            let result = decision::decide(&gw, &state, &conn, &request_id, &mut record, d, req);
            answer(Box::pin(result).await, &request_id, &mut record, false)
        }
        (None, None) => {
            let result = process(&gw, &state, &conn, &request_id, &mut record, req, None);
            answer(result.await, &request_id, &mut record, grpc)
        }
    };
    response.headers_mut().insert(&X_REQUEST_ID, request_id);
    if let Some(hsts) = &gw.config.listen.hsts {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    record.status = response.status();
    Ok(response.map(|body| AccountedBody::new(body, Box::new(record))))
}
