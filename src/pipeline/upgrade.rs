//! Protocol switches on routes that list them in `upgrades`: HTTP/1.1
//! `Upgrade` (RFC 9110 §7.8) and WebSocket over HTTP/2 (RFC 8441, see
//! `extended_connect`). The request is authenticated and rewritten like any
//! other, the switch is asked of the HTTP/1.1 upstream again (Connection
//! and Upgrade are hop-by-hop), and a 101 from the upstream starts the relay.

use super::extended_connect;
use crate::body::ResBody;
use crate::conn::ConnInfo;
use crate::error::GatewayError;
use crate::route::RouteEntry;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use std::sync::Arc;

/// A protocol switch the client asked for and the route allows.
pub(super) struct Switch {
    /// The allowed protocols of the client's `Upgrade`, to ask of the upstream.
    protocols: HeaderValue,
    client: OnUpgrade,
    /// For an HTTP/2 client: the `Sec-WebSocket-Key` the gateway sent.
    h2_key: Option<HeaderValue>,
}

/// Whether the client asked for a switch: HTTP/1.1 with `Upgrade` named in
/// `Connection`, or an HTTP/2 extended CONNECT (`extended_connect`). A
/// switch the route does not allow, a WebSocket asked with another method
/// than GET or with a body (RFC 6455 §4.1), or one inside an envelope is
/// refused; `Ok(None)` for an ordinary request.
pub(super) fn requested<B>(
    req: &mut Request<B>,
    route: &RouteEntry,
    sealed: bool,
) -> Result<Option<Switch>, GatewayError> {
    if let Some(protocol) = extended_connect::protocol(req) {
        if sealed || !route.config.upgrades.allows(protocol.as_bytes()) {
            return Err(GatewayError::UpgradeNotAllowed);
        }
        return Ok(Some(Switch {
            protocols: protocol,
            client: take_client(req)?,
            h2_key: Some(extended_connect::new_key()?),
        }));
    }
    if req.version() != Version::HTTP_11 || !connection_upgrade(req.headers()) {
        return Ok(None);
    }
    let Some(asked) = req.headers().get(header::UPGRADE) else {
        return Ok(None);
    };
    let allowed = &route.config.upgrades;
    let kept: Vec<&str> = asked
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| allowed.allows(p.split('/').next().unwrap_or("").as_bytes()))
        .collect();
    let websocket = kept.iter().any(|p| p.eq_ignore_ascii_case("websocket"));
    if kept.is_empty() || sealed || (websocket && !bodiless_get(req)) {
        return Err(GatewayError::UpgradeNotAllowed);
    }
    let protocols =
        HeaderValue::from_str(&kept.join(", ")).map_err(|_| GatewayError::UpgradeNotAllowed)?;
    Ok(Some(Switch {
        protocols,
        client: take_client(req)?,
        h2_key: None,
    }))
}

/// A GET without a body (no length above zero, no transfer coding).
fn bodiless_get<B>(req: &Request<B>) -> bool {
    let h = req.headers();
    req.method() == Method::GET
        && !h.contains_key(header::TRANSFER_ENCODING)
        && h.get(header::CONTENT_LENGTH).is_none_or(|v| v == "0")
}

/// hyper hands the connection over through this; without it (a server
/// connection that cannot upgrade) there is nothing to relay to.
fn take_client<B>(req: &mut Request<B>) -> Result<OnUpgrade, GatewayError> {
    req.extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(GatewayError::UpgradeNotAllowed)
}

fn connection_upgrade(headers: &HeaderMap) -> bool {
    crate::forwarding::connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

impl Switch {
    /// Asks the upstream for the switch (after the hop-by-hop headers went).
    pub(super) fn ask(&self, req: &mut Request<crate::body::ReqBody>) {
        let h = req.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, self.protocols.clone());
        if let Some(key) = &self.h2_key {
            h.insert(header::SEC_WEBSOCKET_KEY, key.clone());
            // The HTTP/2 client sent the version (RFC 8441 §5); 13 is the only one.
            h.entry(header::SEC_WEBSOCKET_VERSION)
                .or_insert(HeaderValue::from_static("13"));
        }
    }

    /// The upstream's answer; on 101, the relay between the two connections
    /// starts as soon as hyper hands them over. `expires_at`: the
    /// credential's expiry, the latest the relay may run.
    pub(super) fn finish(
        self,
        mut response: Response<ResBody>,
        route: &RouteEntry,
        expires_at: Option<u64>,
        conn: &Arc<ConnInfo>,
        metrics: &crate::metrics::Metrics,
    ) -> Result<Response<ResBody>, GatewayError> {
        let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        if let Some(key) = &self.h2_key {
            // To an extended CONNECT any 2xx opens the tunnel: only a
            // switch the upstream really made may answer one.
            let accept = response.headers().get(header::SEC_WEBSOCKET_ACCEPT);
            let websocket = self.protocols.as_bytes().eq_ignore_ascii_case(b"websocket");
            let bad = match switched {
                true => websocket && !extended_connect::accepts(key, accept),
                false => response.status().is_success(),
            };
            if bad {
                return Err(GatewayError::UpstreamBadResponse);
            }
        }
        if !switched {
            return Ok(response);
        }
        let upstream = hyper::upgrade::on(&mut response);
        let cfg = &route.config.upgrades;
        let bounds = crate::relay::Bounds {
            idle: cfg.idle_timeout,
            max_lifetime: cfg.max_lifetime,
            expires_at,
        };
        crate::relay::spawn(
            self.client,
            upstream,
            route.name.clone(),
            bounds,
            metrics.upgraded.clone(),
            conn.clone(),
        );
        Ok(match self.h2_key {
            Some(_) => extended_connect::answer(response),
            None => response,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_upgrade_is_a_token_of_any_connection_header() {
        let mut h = HeaderMap::new();
        assert!(!connection_upgrade(&h));
        h.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!connection_upgrade(&h));
        h.append(
            header::CONNECTION,
            HeaderValue::from_static("close, Upgrade"),
        );
        assert!(connection_upgrade(&h));
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgraded"));
        assert!(!connection_upgrade(&h));
    }
}
