//! The client and backend guides' code runs: docs/guides/backend.md's Python
//! verifies the assertion a real gateway sent a real upstream (and refuses a
//! tampered one); its JavaScript passes `node --check`.

mod common;

use common::idp::{with_assertion, Idp};
use common::upstream::Upstream;
use common::{start_gateway, Config, Pki, Route};
use std::process::Command;

const GUIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guides/backend.md");

/// The code block after the `<!-- tests/guides.rs: LANG -->` marker.
fn block(lang: &str) -> String {
    let doc = std::fs::read_to_string(GUIDE).unwrap();
    let marker = format!("<!-- tests/guides.rs: {lang} -->");
    let after = doc.split_once(&marker).expect("marked block").1;
    let body = after.trim_start().split_once('\n').unwrap().1;
    body.split_once("\n```").unwrap().0.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_backend_example_verifies_a_real_assertion() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let up = Upstream::start().await;
    let cfg = idp
        .authenticator(with_assertion(Config::new(&pki), &pki), "idp")
        .upstream("orders", &up.url())
        .route(Route::new("orders", "/orders", "orders").auth(&["idp"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let r = pki
        .client(gw.main_addr, false)
        .get(format!(
            "https://localhost:{}/orders/1",
            gw.main_addr.port()
        ))
        .bearer_auth(idp.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let assertion = up.last().headers["x-sealgate-assertion"]
        .to_str()
        .unwrap()
        .to_string();

    // The guide's module, pointed at this gateway's admin listener.
    let code = block("python").replace("127.0.0.1:9090", &gw.admin_addr.to_string());
    let module = pki.path("backend_guide.py");
    std::fs::write(&module, code).unwrap();
    let run = |token: String| {
        let dir = module.parent().unwrap().to_path_buf();
        let script = "import json, sys, backend_guide\n\
             try:\n    print(json.dumps(backend_guide.caller({'x-sealgate-assertion': sys.argv[1]})))\n\
             except Exception as e:\n    print(json.dumps({'refused': type(e).__name__}))\n";
        tokio::task::spawn_blocking(move || {
            let out = Command::new(common::python::python())
                .current_dir(dir)
                .args(["-c", script, &token])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        })
    };
    let claims = run(assertion.clone()).await.unwrap();
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["orig_iss"], common::idp::ISSUER);
    // One changed payload character (mid-segment: no padding bits): the
    // signature no longer holds.
    let mut parts: Vec<String> = assertion.split('.').map(str::to_string).collect();
    let mut payload: Vec<char> = parts[1].chars().collect();
    let mid = payload.len() / 2;
    payload[mid] = if payload[mid] == 'A' { 'B' } else { 'A' };
    parts[1] = payload.into_iter().collect();
    let refused = run(parts.join(".")).await.unwrap();
    assert!(refused["refused"].is_string(), "{refused}");
    gw.shutdown().await;
}

#[test]
fn the_node_backend_example_is_valid_javascript() {
    let Ok(node) = which("node") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "node is missing under CI"
        );
        eprintln!("node not installed; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backend_guide.mjs");
    std::fs::write(&file, block("node")).unwrap();
    let out = Command::new(node)
        .arg("--check")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}
