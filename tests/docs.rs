//! The documentation's configurations work: each TOML block that
//! docs/production.md marks for checking passes `sealgate check` with its
//! files (certificate, CA bundles, assertion key) made where it expects them;
//! docs/configuration.md is the current output of its generator, and every
//! key has a doc comment.

mod common;

use common::Pki;
use std::process::Command;

/// The TOML blocks after a `<!-- tests/docs.rs ... -->` marker.
fn checked_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("<!-- tests/docs.rs") {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert_eq!(fence, "```toml", "a marked block must follow its marker");
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        blocks.push(body.join("\n"));
    }
    blocks
}

#[test]
fn the_production_worked_example_passes_check() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/production.md"))
        .unwrap();
    let blocks = checked_blocks(&doc);
    assert_eq!(blocks.len(), 1, "the worked example is marked for checking");
    let pki = Pki::new();
    let root = pki.path("etc");
    for dir in ["tls", "keys"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    pki.server_cert("api", &["api.example.com"]);
    std::fs::copy(pki.path("api.crt"), root.join("tls/tls.crt")).unwrap();
    std::fs::copy(pki.path("api.key"), root.join("tls/tls.key")).unwrap();
    for ca in ["redis-ca.pem", "orders-ca.pem"] {
        std::fs::copy(pki.path("ca.pem"), root.join(ca)).unwrap();
    }
    let keygen = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["keygen", "ed25519", "--name", "assertion", "--out"])
        .arg(root.join("keys"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    std::fs::rename(
        root.join("keys/assertion.key"),
        root.join("keys/assertion.pem"),
    )
    .unwrap();
    let config = root.join("gateway.toml");
    let text = blocks[0].replace("/etc/sealgate/", &format!("{}/", root.display()));
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("ok (1 routes, 1 upstreams, 1 authenticators)"),
        "{said}"
    );
}

#[test]
fn the_configuration_reference_is_current() {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/gen-config-docs.py"
        ))
        .arg("--check")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
