//! The gateway in this process, on ephemeral ports, and its admin listener.

use super::Config;
use std::net::SocketAddr;

/// Writes `config` to `gateway.toml` in a temp dir, loads and starts the gateway
/// in this process.
pub async fn start_gateway(config: &Config) -> (sealgate::app::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    config.write(&path);
    let cfg =
        sealgate::settings::load(&path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    let running = sealgate::app::start(cfg).await.unwrap();
    (running, dir)
}

/// Waits (at most 20 s) until the gateway's state store has connected; Redis connects
/// in the background, so readiness right after start-up is legitimately 503.
pub async fn store_connected(gw: &sealgate::app::Running) {
    let store = gw.state.gateway.load().store.clone();
    tokio::time::timeout(std::time::Duration::from_secs(20), store.connected())
        .await
        .expect("the state store did not connect within 20 s");
}

/// GETs the admin listener's `/metrics` text.
pub async fn scrape_metrics(admin: SocketAddr) -> String {
    reqwest::Client::new()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Sends `request` as is over one TLS connection (HTTP/1.1) and returns the answer.
pub async fn raw(pki: &super::Pki, addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cfg = std::sync::Arc::new(pki.client_tls(&[b"http/1.1"], false));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
