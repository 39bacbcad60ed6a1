//! The phases every request passes, in order: the checks before anything
//! answers (`precheck`), routing, the sealed rule, authentication,
//! authorization and admission (`admit`), then the rewrite and the forward
//! (`process`); and `answer`, which turns a refusal into its response. The
//! entry point (`handle`), the OHTTP endpoint and decision mode call these.

use super::checks::{self, check_header_limits, request_authority, transfer_coding};
use super::rewrite::{self, Target};
use super::{body, respond};
use crate::access::AccessRecord;
use crate::admission;
use crate::authn::{self, unix_now, Attempt, AuthError, Verdict};
use crate::body::{LimitedBody, ReqBody, ResBody};
use crate::conn::ConnInfo;
use crate::envelope::Sealing;
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::route::settings::{Route, RouteAuth, Sealed};
use crate::route::{normalize_host, normalize_path};
use crate::state::Shared;
use http::{header, HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The response for a finished request, or the refusal `e` (recorded),
/// gRPC-shaped for a gRPC caller.
pub(super) fn answer(
    result: Result<Response<ResBody>, GatewayError>,
    request_id: &HeaderValue,
    record: &mut AccessRecord,
    grpc: bool,
) -> Response<ResBody> {
    result.unwrap_or_else(|e| {
        record.fail(e);
        let refused = e.to_response(request_id, record.route_entry.as_deref());
        match grpc {
            true => crate::grpc::refusal(refused, &e.to_string()),
            false => refused,
        }
    })
}

/// The phases for one (plaintext or opened) request. `sealing` is set when the
/// request arrived inside an Oblivious HTTP envelope.
pub(super) async fn process(
    gw: &Gateway,
    state: &Shared,
    conn: &Arc<ConnInfo>,
    request_id: &HeaderValue,
    record: &mut AccessRecord,
    mut req: Request<ReqBody>,
    sealing: Option<&Sealing>,
) -> Result<Response<ResBody>, GatewayError> {
    // WebSocket over HTTP/2 continues as the GET it stands for.
    super::extended_connect::take(&mut req);
    let authority = precheck(gw, &req)?;
    if req.method() == Method::OPTIONS && req.uri() == "*" {
        // RFC 9110 §9.3.7: a question to the server itself, never forwarded.
        record.route = Some(Arc::from("server"));
        return Ok(checks::server_options());
    }
    if let Some(issuer) = &gw.issuer {
        if let Some(ep) = issuer.endpoint(req.uri().path()) {
            // Boxed: the token endpoint's state is half of this future's size.
            let answer = token_endpoint(issuer, ep, conn, record, req, &authority, sealing);
            return Box::pin(answer).await;
        }
    }
    let Admitted {
        target,
        verdict,
        mut parts,
        body,
        now,
        switch,
    } = admit(gw, state, conn, record, req, authority, sealing).await?;
    let rc = &target.route.config;
    let principal = verdict.as_ref().map(|v| &v.principal);
    let seen = rewrite::Seen {
        conn,
        request_id,
        principal,
        sealed: sealing.is_some(),
        now,
        trace: Some(record.upstream_trace()),
    };
    rewrite::request(gw, &target, &seen, &mut parts)?;
    let counter = Arc::new(AtomicU64::new(0));
    record.bytes_in = Some(counter.clone());
    let body: ReqBody = LimitedBody::new(body, rc.max_request_body, counter).boxed();
    let body_check = verdict.as_ref().and_then(|v| v.body.as_ref());
    let body = body::check(body, body_check, rc.max_request_body).await?;
    let upstream = gw
        .upstreams
        .get(&rc.upstream)
        .ok_or(GatewayError::UpstreamFailed)?;
    record.upstream = Some(upstream.name.clone());
    let mut req = Request::from_parts(parts, body);
    if let Some(s) = &switch {
        s.ask(&mut req);
    }
    let since = record.clock();
    let response = upstream.forward(req, &state.metrics).await;
    if let Some((rec, t)) = record.recording(since) {
        let outcome = match &response {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(GatewayError::from(*e).reason()),
        };
        rec.upstream(t, upstream.name.clone(), outcome);
    }
    let response = response?;
    if let Some(s) = switch {
        let expires = principal.and_then(|p| p.expires_at());
        let (route, metrics) = (&target.route, &state.metrics);
        return s.finish(response, route, expires, conn, metrics);
    }
    match verdict.as_ref().and_then(|v| v.respond.as_ref()) {
        Some(signing) => sign_response(gw, signing, response, now).await,
        None => Ok(response),
    }
}

/// A request that passed routing, the sealed rule, authentication,
/// authorization and admission: what forwarding (or a decision) goes on with.
pub(super) struct Admitted {
    pub(super) target: Target,
    pub(super) verdict: Option<Verdict>,
    pub(super) parts: http::request::Parts,
    pub(super) body: ReqBody,
    pub(super) now: u64,
    /// The protocol switch the client asked for and the route allows.
    pub(super) switch: Option<super::upgrade::Switch>,
}

/// route -> sealed rule -> declared body size -> authenticate -> authorize
/// -> admission: every check a request passes before anything is sent on.
pub(super) async fn admit(
    gw: &Gateway,
    state: &Shared,
    conn: &ConnInfo,
    record: &mut AccessRecord,
    mut req: Request<ReqBody>,
    authority: String,
    sealing: Option<&Sealing>,
) -> Result<Admitted, GatewayError> {
    let target = route(gw, record, &req, authority)?;
    // Before authentication: a refused switch spends no single-use token
    // and no rate-limit allowance.
    let switch = super::upgrade::requested(&mut req, &target.route, sealing.is_some())?;
    let rc = &target.route.config;
    let now = unix_now();
    sealed_rule(gw, state, rc, &req, sealing, now).await?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > rc.max_request_body) {
        return Err(GatewayError::BodyTooLarge);
    }
    let (parts, mut body) = req.into_parts();
    let since = record.clock();
    let verdict = authenticate(gw, state, conn, &target, &parts, &mut body, sealing, now).await;
    if let Some((rec, t)) = record.recording(since) {
        match &verdict {
            Ok(Some(v)) => rec.auth(t, Some(v.principal.kind()), "ok", v.principal.cached()),
            Ok(None) => {}
            Err(e) => rec.auth(t, None, e.reason(), false),
        }
    }
    let verdict = verdict?;
    let principal = verdict.as_ref().map(|v| &v.principal);
    if let Some(p) = principal {
        record.subject = Some(p.subject().to_string());
        crate::authz::authorize(rc, p).map_err(GatewayError::Forbidden)?;
    }
    let mut trip = None;
    let ip = conn.peer.ip();
    let admitted = admission::after_auth(state, gw, rc, verdict.as_ref(), ip, now, &mut trip).await;
    if let Some((rec, t)) = record.recording(trip) {
        rec.store(t, gw.config.store.kind.label());
    }
    admitted?;
    Ok(Admitted {
        target,
        verdict,
        parts,
        body,
        now,
        switch,
    })
}

/// Signs the upstream's answer to a signed request (RFC 9421 §2.4).
async fn sign_response(
    gw: &Gateway,
    signing: &authn::ResponseSigning,
    response: Response<ResBody>,
    now: u64,
) -> Result<Response<ResBody>, GatewayError> {
    let signer = gw
        .assertion
        .as_ref()
        .ok_or(GatewayError::ResponseNotSigned)?;
    respond::sign(signing, response, signer, now)
        .await
        .map_err(|_| GatewayError::ResponseNotSigned)
}

/// What every request must satisfy before anything answers it: header
/// limits, a method a reverse proxy forwards, a transfer coding and a host.
pub(super) fn precheck<B>(gw: &Gateway, req: &Request<B>) -> Result<String, GatewayError> {
    let limits = gw.config.limits;
    check_header_limits(
        req.headers(),
        limits.max_header_count,
        limits.max_header_bytes,
    )?;
    if matches!(*req.method(), Method::CONNECT | Method::TRACE) {
        // A reverse proxy must not tunnel (CONNECT) or reflect headers (TRACE).
        return Err(GatewayError::MethodNotAllowed);
    }
    transfer_coding(req.headers())?;
    checks::h2_field_values(req)?;
    request_authority(req)
}

/// The token endpoint (`[issuer]`): plaintext or sealed, as its `sealed` says.
async fn token_endpoint(
    issuer: &crate::issuer::Issuer,
    ep: crate::issuer::Endpoint,
    conn: &ConnInfo,
    record: &mut AccessRecord,
    req: Request<ReqBody>,
    authority: &str,
    sealing: Option<&Sealing>,
) -> Result<Response<ResBody>, GatewayError> {
    record.route = Some(Arc::from("issuer"));
    match (sealing, issuer.settings.sealed) {
        (None, Sealed::Required) => return Err(GatewayError::SealedRequired),
        (Some(_), Sealed::Off) => return Err(GatewayError::SealedNotAllowed),
        _ => {}
    }
    let ctx = crate::issuer::Ctx {
        ip: conn.peer.ip(),
        sealed: sealing.is_some(),
        authority,
        now: unix_now(),
    };
    let (response, refused) = issuer.handle(ep, req, &ctx).await;
    if let Some(reason) = refused {
        record.reason = Some(reason);
        record.outcome = "rejected";
    }
    Ok(response)
}

pub(super) fn route<B>(
    gw: &Gateway,
    record: &mut AccessRecord,
    req: &Request<B>,
    authority: String,
) -> Result<Target, GatewayError> {
    let host = normalize_host(&authority);
    let path = normalize_path(req.uri().path()).map_err(GatewayError::BadPath)?;
    record.path = Some(path.clone());
    let route = gw
        .routes
        .find(&host, &path, req.method())
        .ok_or(GatewayError::NotFound)?
        .clone();
    record.route = Some(route.name.clone());
    record.route_entry = Some(route.clone());
    Ok(Target {
        route,
        authority,
        path,
    })
}

/// The route's `sealed` rule, and replay protection for sealed requests.
async fn sealed_rule<B>(
    gw: &Gateway,
    state: &Shared,
    rc: &Route,
    req: &Request<B>,
    sealing: Option<&Sealing>,
    now: u64,
) -> Result<(), GatewayError> {
    match (sealing, rc.sealed) {
        (None, Sealed::Required) => return Err(GatewayError::SealedRequired),
        (Some(_), Sealed::Off) => return Err(GatewayError::SealedNotAllowed),
        _ => {}
    }
    if let (Some(s), Some(window)) = (sealing, rc.replay_window) {
        admission::envelope_replay(state, gw, rc, &s.enc, req.headers(), window, now).await?;
    }
    Ok(())
}

/// Authentication: any-of the route's authenticators; `None` on an anonymous route.
#[allow(clippy::too_many_arguments)]
async fn authenticate(
    gw: &Gateway,
    state: &Shared,
    conn: &ConnInfo,
    target: &Target,
    req: &http::request::Parts,
    body: &mut ReqBody,
    sealing: Option<&Sealing>,
    now: u64,
) -> Result<Option<Verdict>, GatewayError> {
    let rc = &target.route.config;
    if rc.auth == RouteAuth::Anonymous {
        return Ok(None);
    }
    let ip = conn.peer.ip();
    admission::before_auth(state, ip)?;
    // Inside an envelope the TLS peer is the relay: its certificate says nothing of the client.
    let cert = conn.client_cert.as_deref().filter(|_| sealing.is_none());
    let head = Attempt::new(&req.method, &req.uri, &target.authority, &req.headers, now)
        .with_client_cert(cert)
        .with_body_present(!http_body::Body::is_end_stream(&*body));
    let early = match wants_body(&target.route.authn, &head) {
        true => {
            let limit = rc.max_request_body.min(body::MAX_BEFORE_AUTH);
            let taken = std::mem::replace(body, body::replay(bytes::Bytes::new()));
            let bytes = body::read(taken, limit).await?;
            *body = body::replay(bytes.clone());
            Some(bytes)
        }
        false => None,
    };
    let at = head.with_body(early.as_ref());
    let verdict = match authn::authenticate(&target.route.authn, &at).await {
        Ok(v) => v,
        Err(e) => {
            if matches!(e, AuthError::Rejected(_)) {
                admission::auth_failed(state, gw, ip).await;
            }
            return Err(e.into());
        }
    };
    Ok(Some(verdict))
}

/// Whether to read the body before authenticating: a kind takes parameters
/// from it (OAuth 1.0a forms) and no other kind's credential is presented.
fn wants_body(authn: &[Arc<authn::Authenticator>], head: &Attempt<'_>) -> bool {
    authn.iter().any(|a| a.needs_body(head.headers))
        && !authn
            .iter()
            .any(|a| !a.needs_body(head.headers) && a.presents(head))
}
