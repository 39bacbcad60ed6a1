//! The listener's TLS profile as independent clients see it: testssl.sh finds
//! nothing rated HIGH or CRITICAL and the Mozilla "intermediate" profile
//! holds (TLS 1.2 and 1.3 only, AEAD suites with forward secrecy); OpenSSL's
//! `s_client` receives the OCSP staple (`listen.tls.ocsp_staple`), and
//! `listen.tls.cipher_suites` / `cipher_preference` decide the suite.
//! The certificate (90 days, with an OCSP responder URL), its CA and the
//! staple are made for each run by python-cryptography
//! (tests/fixtures/ocsp/make.py).

mod common;

use common::{list, path, s, start_gateway, Config, Pki, Route};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;

/// A CA, a 90-day leaf for localhost and its OCSP staples, made now.
fn certificates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ocsp/make.py");
    let ok = Command::new(common::python::python())
        .arg(script)
        .arg(dir.path())
        .arg("90")
        .status()
        .expect("the test Python (target/pyenv, set up by scripts/test.sh)");
    assert!(ok.success(), "make.py failed");
    dir
}

fn file(certs: &tempfile::TempDir, name: &str) -> String {
    certs.path().join(name).display().to_string()
}

/// A gateway presenting the leaf with its good staple.
fn config(pki: &Pki, certs: &tempfile::TempDir) -> Config {
    Config::new(pki)
        .set("listen.tls.cert", path(file(certs, "leaf.pem")))
        .set("listen.tls.key", path(file(certs, "leaf.key")))
        .set("listen.tls.ocsp_staple", path(file(certs, "good.der")))
        .set("listen.hsts", s("max-age=31536000"))
        .echo_upstream("e")
        .route(Route::new("all", "/", "e").anonymous())
}

/// `openssl s_client` with `args`; its stdout (the handshake summary).
async fn s_client(certs: &tempfile::TempDir, addr: SocketAddr, args: &[&str]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        &addr.to_string(),
        "-servername",
        "localhost",
    ])
    .args(["-CAfile", &file(certs, "ca.pem")])
    .args(args)
    .stdin(std::process::Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("openssl (installed by scripts/test.sh)");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    // A failed handshake still connects; no output at all means no openssl run.
    assert!(
        out.contains("CONNECTED"),
        "openssl did not reach the gateway: {out}"
    );
    out
}

/// The negotiated suite from s_client's summary, `(none)` when the handshake failed.
fn cipher(summary: &str) -> &str {
    summary
        .lines()
        .find_map(|l| l.split_once("Cipher is ").map(|(_, c)| c.trim()))
        .filter(|c| !c.eq_ignore_ascii_case("(none)"))
        .unwrap_or("(none)")
}

#[tokio::test]
async fn openssl_receives_the_staple_and_the_configured_suite_order() {
    let pki = Pki::new();
    let certs = certificates();
    let (gw, _d) = start_gateway(&config(&pki, &certs)).await;
    let out = s_client(&certs, gw.main_addr, &["-status"]).await;
    assert!(out.contains("OCSP Response Status: successful"), "{out}");
    assert!(out.contains("Cert Status: good"), "{out}");
    assert!(out.contains("Verify return code: 0"), "{out}");

    // TLS 1.2, client lists ChaCha20 first: the server's order (AES-128-GCM
    // first) wins by default.
    let offer = [
        "-tls1_2",
        "-cipher",
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
    ];
    let out = s_client(&certs, gw.main_addr, &offer).await;
    assert_eq!(cipher(&out), "ECDHE-ECDSA-AES128-GCM-SHA256", "{out}");
    // A CBC suite is never accepted.
    let out = s_client(
        &certs,
        gw.main_addr,
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"],
    )
    .await;
    assert_eq!(cipher(&out), "(none)", "{out}");

    // cipher_preference = "client": the client's first choice.
    let (gw2, _d2) =
        start_gateway(&config(&pki, &certs).set("listen.tls.cipher_preference", s("client"))).await;
    let out = s_client(&certs, gw2.main_addr, &offer).await;
    assert_eq!(cipher(&out), "ECDHE-ECDSA-CHACHA20-POLY1305", "{out}");

    // Only TLS 1.3 suites listed: TLS 1.2 is off, TLS 1.3 uses the one suite.
    let only13 = config(&pki, &certs).set(
        "listen.tls.cipher_suites",
        list(&["TLS_CHACHA20_POLY1305_SHA256"]),
    );
    let (gw3, _d3) = start_gateway(&only13).await;
    let out = s_client(&certs, gw3.main_addr, &["-tls1_2"]).await;
    assert_eq!(cipher(&out), "(none)", "{out}");
    let out = s_client(&certs, gw3.main_addr, &["-tls1_3"]).await;
    assert_eq!(cipher(&out), "TLS_CHACHA20_POLY1305_SHA256", "{out}");
    drop((gw, gw2, gw3));
}

/// The findings of one testssl.sh run (its JSON file), as (id, severity, finding).
async fn testssl(certs: &tempfile::TempDir, addr: SocketAddr) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("testssl.json");
    let mut cmd = Command::new("testssl");
    cmd.args([
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "--ip",
        "one",
    ])
    .args([
        "--sneaky",
        "--nodns",
        "min",
        "--add-ca",
        &file(certs, "ca.pem"),
    ])
    .arg("--jsonfile")
    .arg(&json)
    .arg(format!("localhost:{}", addr.port()))
    .env("TERM", "dumb")
    .stdout(std::process::Stdio::null());
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .unwrap()
        .expect("testssl (the Debian package testssl.sh, installed by scripts/test.sh)");
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("testssl wrote no JSON ({status}): {e}"));
    let findings: Vec<Value> = serde_json::from_str(&text).unwrap();
    findings
        .iter()
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (field("id"), field("severity"), field("finding"))
        })
        .collect()
}

#[tokio::test]
async fn testssl_finds_nothing_high_and_the_intermediate_profile_holds() {
    let pki = Pki::new();
    let certs = certificates();
    let (gw, _d) = start_gateway(&config(&pki, &certs)).await;
    let findings = testssl(&certs, gw.main_addr).await;
    assert!(
        findings.len() > 50,
        "testssl ran too few checks: {findings:?}"
    );
    let bad: Vec<_> = findings
        .iter()
        .filter(|(_, sev, _)| sev == "HIGH" || sev == "CRITICAL")
        .collect();
    assert!(
        bad.is_empty(),
        "testssl findings rated HIGH or CRITICAL: {bad:?}"
    );
    let finding = |id: &str| {
        findings
            .iter()
            .find(|(i, ..)| i == id)
            .map(|(_, _, f)| f.as_str())
            .unwrap_or_else(|| panic!("no {id} in testssl's output"))
    };
    for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert!(
            finding(old).starts_with("not offered"),
            "{old}: {}",
            finding(old)
        );
    }
    assert!(
        finding("TLS1_2").starts_with("offered"),
        "{}",
        finding("TLS1_2")
    );
    assert!(
        finding("TLS1_3").starts_with("offered"),
        "{}",
        finding("TLS1_3")
    );
    for weak in [
        "cipherlist_NULL",
        "cipherlist_aNULL",
        "cipherlist_EXPORT",
        "cipherlist_LOW",
        "cipherlist_3DES_IDEA",
        "cipherlist_AVERAGE",
    ] {
        assert!(
            finding(weak).starts_with("not offered"),
            "{weak}: {}",
            finding(weak)
        );
    }
    assert!(
        finding("OCSP_stapling").starts_with("offered"),
        "{}",
        finding("OCSP_stapling")
    );
    drop(gw);
}
