//! The OHTTP gateway endpoint (RFC 9458): open the envelope, run the inner
//! request through the same phases as any other, seal whatever comes back.

use super::phases::{self, process};
use crate::access::AccessRecord;
use crate::body::{ReqBody, ResBody};
use crate::conn::ConnInfo;
use crate::envelope::Opening;
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::state::Shared;
use http::{HeaderValue, Request, Response};

/// The OHTTP gateway endpoint: open -> process -> seal. Every outcome of the
/// inner request, refusals included, goes back sealed.
pub(super) async fn answer(
    gw: &Gateway,
    state: &Shared,
    conn: &std::sync::Arc<ConnInfo>,
    request_id: &HeaderValue,
    record: &mut AccessRecord,
    env: &crate::envelope::Envelope,
    req: Request<ReqBody>,
) -> Response<ResBody> {
    record.route = Some("ohttp-gateway".into());
    let (inner, sealing) = match env.open(&state.metrics, request_id, req).await {
        Opening::Answer(response, refused) => {
            if let Some(reason) = refused {
                record.reason = Some(reason);
                record.outcome = "rejected";
            }
            return response;
        }
        Opening::Inner(inner, sealing) => (inner, sealing),
    };
    let result = match inner {
        Some(r) => {
            // The inner client's trace, never the relay's: one id must not
            // link the relay's logs to the target's.
            record.retrace(r.headers());
            process(gw, state, conn, request_id, record, r, Some(&sealing)).await
        }
        None => Err(GatewayError::BadInnerRequest),
    };
    let response = phases::answer(result, request_id, record, false);
    let (response, failed) = env
        .seal(&state.metrics, request_id, sealing, response)
        .await;
    if let Some(reason) = failed {
        record.reason = Some(reason);
        // The inner response could not be read (the upstream's fault), or it
        // could not be sealed (refused, as before the open/seal split).
        record.outcome = if reason == "upstream_failed" {
            "upstream_error"
        } else {
            "rejected"
        };
    }
    response
}
