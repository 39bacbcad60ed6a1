//! `sealgate health`: asks the admin listener's `/readyz` and exits 0 on
//! 200, for container and orchestrator probes where no curl is installed.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Exit 0 when `url` answers 200 within `timeout`, else 1 with the reason on stderr.
pub fn run(url: &str, timeout: Duration) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealgate health: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(check(url, timeout)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sealgate health: {url}: {e}");
            1
        }
    }
}

async fn check(url: &str, timeout: Duration) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL".to_string())?;
    if uri.scheme_str() != Some("http") {
        return Err("the admin listener speaks plain http://".into());
    }
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let answer = tokio::time::timeout(timeout, client.get(uri))
        .await
        .map_err(|_| format!("no answer within {}", humantime::format_duration(timeout)))?
        .map_err(|e| format!("unreachable ({e})"))?;
    match answer.status() {
        http::StatusCode::OK => Ok(()),
        s => Err(format!("not ready (HTTP {})", s.as_u16())),
    }
}
