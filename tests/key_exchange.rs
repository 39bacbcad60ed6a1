//! Post-quantum key exchange (X25519MLKEM768) on both sides of the gateway:
//! `listen.tls.key_exchange` decides what clients may negotiate,
//! `outbound.tls.key_exchange` what the gateway offers upstreams, and
//! `sealgate_tls_handshakes_total{direction,group,version}` shows the result.

mod common;

use common::{list, path, scrape_metrics, start_gateway, Config, Pki, Process, Route};
use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::SupportedKxGroup;
use rustls::pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::sync::Arc;

/// A TLS 1.3 client offering only `group`; the group the server chose, or the handshake error.
async fn handshake(
    pki: &Pki,
    addr: SocketAddr,
    group: &'static dyn SupportedKxGroup,
) -> Result<rustls::NamedGroup, String> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.kx_groups = vec![group];
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        rustls::pki_types::CertificateDer::pem_file_iter(pki.path("ca.pem"))
            .unwrap()
            .map(Result::unwrap),
    );
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tls
        .get_ref()
        .1
        .negotiated_key_exchange_group()
        .unwrap()
        .name())
}

fn handshakes(metrics: &str, direction: &str, group: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("sealgate_tls_handshakes_total{")
                && l.contains(&format!("direction=\"{direction}\""))
                && l.contains(&format!("group=\"{group}\""))
                && l.contains("version=\"TLSv1.3\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn clients_negotiate_the_hybrid_or_fall_back_as_configured() {
    let pki = Pki::new();
    let (gw, _d) = start_gateway(
        &Config::new(&pki)
            .echo_upstream("e")
            .route(Route::new("all", "/", "e").anonymous()),
    )
    .await;
    assert_eq!(
        handshake(&pki, gw.main_addr, kx_group::X25519MLKEM768).await,
        Ok(rustls::NamedGroup::X25519MLKEM768)
    );
    assert_eq!(
        handshake(&pki, gw.main_addr, kx_group::X25519).await,
        Ok(rustls::NamedGroup::X25519)
    );
    assert_eq!(
        handshake(&pki, gw.main_addr, kx_group::SECP256R1).await,
        Ok(rustls::NamedGroup::secp256r1)
    );
    let m = scrape_metrics(gw.admin_addr).await;
    assert_eq!(handshakes(&m, "inbound", "X25519MLKEM768"), 1, "{m}");
    assert_eq!(handshakes(&m, "inbound", "X25519"), 1);
    gw.shutdown().await;

    // A listener restricted to the hybrid refuses clients without it.
    let strict = Config::new(&pki)
        .set("listen.tls.key_exchange", list(&["X25519MLKEM768"]))
        .echo_upstream("e")
        .route(Route::new("all", "/", "e").anonymous());
    let (gw, _d) = start_gateway(&strict).await;
    assert_eq!(
        handshake(&pki, gw.main_addr, kx_group::X25519MLKEM768).await,
        Ok(rustls::NamedGroup::X25519MLKEM768)
    );
    assert!(handshake(&pki, gw.main_addr, kx_group::X25519)
        .await
        .is_err());
    gw.shutdown().await;
}

/// The gateway as a real process in front of a backend that accepts only
/// X25519MLKEM768: by default it negotiates the hybrid upstream; offering
/// only X25519 it cannot connect (502).
#[tokio::test]
async fn upstream_connections_offer_the_configured_groups() {
    let pki = Pki::new();
    let backend_cfg = Config::new(&pki)
        .set("listen.tls.key_exchange", list(&["X25519MLKEM768"]))
        .echo_upstream("echo")
        .route(Route::new("all", "/", "echo").anonymous());
    let (backend, _b) = start_gateway(&backend_cfg).await;
    let backend_url = format!("https://localhost:{}", backend.main_addr.port());
    let front = |groups: Option<&[&str]>| {
        let mut cfg = Config::new(&pki)
            .table(
                "upstreams.pq",
                &[
                    ("targets", list(&[&backend_url])),
                    ("ca", path(pki.path("ca.pem"))),
                ],
            )
            .route(Route::new("pq", "/pq", "pq").anonymous());
        if let Some(g) = groups {
            cfg = cfg.table("outbound.tls", &[("key_exchange", list(g))]);
        }
        let file = pki.path(&format!("front-{}.toml", groups.is_some()));
        cfg.write(&file);
        Process::spawn(&file)
    };
    let mut default = front(None);
    let client = pki.client(default.main_addr, false);
    let url = format!("https://localhost:{}/pq/x", default.main_addr.port());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let m = scrape_metrics(default.admin_addr).await;
    assert_eq!(handshakes(&m, "outbound", "X25519MLKEM768"), 1, "{m}");
    assert_eq!(
        handshakes(&m, "inbound", "X25519MLKEM768"),
        0,
        "reqwest offers X25519 first"
    );
    default.signal("TERM");
    let _ = default.child.wait();

    let mut classic = front(Some(&["X25519", "secp256r1"]));
    let client = pki.client(classic.main_addr, false);
    let url = format!("https://localhost:{}/pq/x", classic.main_addr.port());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 502);
    classic.signal("TERM");
    let _ = classic.child.wait();
    let m = scrape_metrics(backend.admin_addr).await;
    assert_eq!(handshakes(&m, "inbound", "X25519MLKEM768"), 1, "{m}");
    backend.shutdown().await;
}
