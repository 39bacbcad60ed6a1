//! The client and backend guides' code runs: docs/guides/backend.md's Python
//! and Java verify the assertion a real gateway sent a real upstream (and
//! refuse a tampered one), its JavaScript passes `node --check`; docs/guides/partner.md's
//! RFC 9421 and OAuth 1.0a clients and its curl line reach a real gateway;
//! docs/guides/app.md's DPoP-bound session (login, API call, refresh, reuse
//! detection, logout) and its Oblivious HTTP client (the gateway opens the
//! envelope, the answer is opened here) run against a real gateway.

mod common;

use common::idp::{with_assertion, Idp};
use common::upstream::Upstream;
use common::{start_gateway, Config, Pki, Route};
use std::process::Command;

const GUIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guides/backend.md");
const PARTNER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guides/partner.md");
const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guides/app.md");

/// The code block after the `<!-- tests/guides.rs: LANG -->` marker.
fn block(lang: &str) -> String {
    block_in(GUIDE, lang)
}

fn block_in(guide: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(guide).unwrap();
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
            let mut python = Command::new(common::python::python());
            let out = succeeded(python.current_dir(dir).args(["-c", script, &token]));
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
    let tampered = parts.join(".");
    let refused = run(tampered.clone()).await.unwrap();
    assert!(refused["refused"].is_string(), "{refused}");

    // The guide's JDK-only Java class, compiled and run on the same tokens.
    let jwks = format!("http://{}/.well-known/jwks.json", gw.admin_addr);
    let java = tokio::task::spawn_blocking(move || java_subject(&jwks, &[assertion, tampered]))
        .await
        .unwrap();
    if let Some(outcomes) = java {
        assert_eq!(outcomes[0].as_deref(), Some("alice"), "{outcomes:?}");
        assert_eq!(outcomes[1], None, "the tampered assertion verified in Java");
    }
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
    succeeded(Command::new(node).arg("--check").arg(&file));
}

/// Runs `cmd`; its output, after asserting that it succeeded.
fn succeeded(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}

/// `sealgate credentials` with the KEK in SEALGATE_KEK: its stdout, trimmed.
fn credentials(kek: &str, args: &[&str]) -> String {
    let mut cli = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    let out = succeeded(cli.arg("credentials").args(args).env("SEALGATE_KEK", kek));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_guide_signs_requests_the_gateway_accepts() {
    use common::{file, list, s};
    let pki = Pki::new();
    let up = Upstream::start().await;
    // The operator's side, as the guide shows it.
    let kek = credentials("", &["new-kek"]);
    let (rfc, oauth) = (pki.path("credentials.toml"), pki.path("consumers.toml"));
    let add = |file: &std::path::Path, id: &str, alg: &str, extra: &[&str]| {
        let file = file.to_str().unwrap();
        let mut args = vec![
            "add",
            "--file",
            file,
            "--kek",
            "env:SEALGATE_KEK",
            "--id",
            id,
            "--alg",
            alg,
        ];
        args.extend_from_slice(extra);
        credentials(&kek, &args)
    };
    let secret = add(&rfc, "acme", "hmac-sha256", &["--scopes", "orders:read"]);
    let consumer = add(&oauth, "legacy-partner", "HMAC-SHA256", &[]);
    let (rfc_s, oauth_s) = (rfc.to_str().unwrap(), oauth.to_str().unwrap());
    let kek_path = pki.path("kek");
    std::fs::write(&kek_path, &kek).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kek_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .authenticator(
            "partners",
            "http-signature",
            &[("credentials", s(rfc_s)), ("kek", file(&kek_path))],
        )
        .authenticator(
            "legacy",
            "oauth1",
            &[("credentials", s(oauth_s)), ("kek", file(&kek_path))],
        )
        .route(
            Route::new("orders", "/orders", "app")
                .auth(&["partners"])
                .extra(&[("require.scopes", list(&["orders:read"]))]),
        )
        .route(Route::new("legacy", "/legacy", "app").auth(&["legacy"]));
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());

    let dir = pki.path("guide");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rfc9421_guide.py"), block_in(PARTNER, "rfc9421")).unwrap();
    std::fs::write(dir.join("oauth1_guide.py"), block_in(PARTNER, "oauth1")).unwrap();
    let driver = format!(
        "import json, requests, rfc9421_guide as rfc, oauth1_guide as oauth\n\
         s = requests.Session(); s.verify = {ca:?}\n\
         out = {{}}\n\
         out['post'] = rfc.call(s, 'POST', '{base}/orders/new?x=1', {{'sku': 1}}).status_code\n\
         out['get'] = rfc.call(s, 'GET', '{base}/orders/1').status_code\n\
         req = rfc.signed('GET', '{base}/orders/1')\n\
         req.url = '{base}/orders/2'\n\
         r = s.send(req)\n\
         out['tampered'] = [r.status_code, r.headers.get('www-authenticate', '')]\n\
         out['oauth'] = oauth.call(s, 'GET', '{base}/legacy/report?month=11', verify=s.verify).status_code\n\
         print(json.dumps(out))\n",
        ca = pki.path("ca.pem").to_str().unwrap(),
    );
    let envs = [("PARTNER_SECRET", secret), ("CONSUMER_SECRET", consumer)];
    let got = drive(dir, &envs, driver).await;
    assert_eq!(
        (got["post"].as_u64(), got["get"].as_u64()),
        (Some(201), Some(201)),
        "{got}"
    );
    assert_eq!(got["tampered"][0], 401, "{got}");
    assert!(
        got["tampered"][1]
            .as_str()
            .unwrap()
            .starts_with("Signature"),
        "{got}"
    );
    assert_eq!(got["oauth"], 201, "{got}");
    let seen = up.requests();
    let subjects: Vec<&str> = seen
        .iter()
        .map(|r| r.headers["x-auth-subject"].to_str().unwrap())
        .collect();
    assert_eq!(subjects, ["acme", "acme", "legacy-partner"]);
    assert!(seen
        .iter()
        .all(|r| !r.headers.contains_key("signature") && !r.headers.contains_key("authorization")));

    // The guide's curl line, pointed at this gateway.
    let curl = block_in(PARTNER, "curl").replace(
        "curl -si https://api.example.com",
        &format!("curl -si --cacert {} {base}", pki.path("ca.pem").display()),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh").args(["-c", &curl]).output().unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        said.contains(" 401") && said.contains("www-authenticate: signature"),
        "{said}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_guide_logs_in_with_dpop_and_seals_requests() {
    use common::{boolean, file, inline, n, s};
    let pki = Pki::new();
    let up = Upstream::start().await;
    let key = common::sealed::key_file(&pki, 1);
    let cfg = Config::new(&pki)
        .upstream("accounts", &up.url())
        .upstream("app", &up.url())
        .table(
            "issuer",
            &[
                ("url", s("https://auth.example.test")),
                ("key", file(pki.path("issuer.pem"))),
                ("dev_generate", boolean(true)),
                ("dpop", s("optional")),
                (
                    "verifier",
                    inline(&[("upstream", s("accounts")), ("path", s("/verify"))]),
                ),
            ],
        )
        .authenticator("sessions", "issued", &[("dpop", s("optional"))])
        .route(
            Route::new("orders", "/orders", "app")
                .auth(&["sessions"])
                .extra(&[("sealed", s("optional"))]),
        )
        .array_table(
            "envelope.keys",
            &[
                ("id", n(1)),
                ("kem", s("x25519")),
                ("private_key", file(&key)),
                ("state", s("active")),
            ],
        );
    let (gw, _d) = start_gateway(&cfg).await;
    let port = gw.main_addr.port();
    let base = format!("https://localhost:{port}");

    let dir = pki.path("app");
    std::fs::create_dir_all(&dir).unwrap();
    for (module, lang) in [
        ("app_dpop", "app-dpop"),
        ("app_session", "app-session"),
        ("app_ohttp", "app-ohttp"),
    ] {
        std::fs::write(dir.join(format!("{module}.py")), block_in(APP, lang)).unwrap();
    }
    let ca = pki.path("ca.pem");
    let driver = format!(
        "import json, requests, app_session as app, app_ohttp as ohttp\n\
         from app_dpop import proof\n\
         app.BASE = '{base}'; app.session.verify = {ca:?}\n\
         out = {{}}\n\
         tokens = app.login('alice', {pw:?}, remember=True)\n\
         out['token_type'] = tokens['token_type']\n\
         out['api'] = app.api('GET', '/orders/1', tokens).status_code\n\
         fresh = app.refresh(tokens)\n\
         out['refreshed'] = fresh['access_token'] != tokens['access_token']\n\
         out['api_after_refresh'] = app.api('GET', '/orders/2', fresh).status_code\n\
         keys = app.session.get('{base}/.well-known/ohttp-gateway').content\n\
         url = '{base}/orders/42'\n\
         inner = ohttp.bhttp_request('GET', 'https', 'localhost:{port}', '/orders/42', [\n\
             ('authorization', 'DPoP ' + fresh['access_token']),\n\
             ('dpop', proof('GET', url, fresh['access_token']))])\n\
         ohttp.requests = app.session\n\
         status, headers, body = ohttp.sealed('{base}/.well-known/ohttp-gateway', keys, inner)\n\
         out['sealed'] = status\n\
         out['logout'] = app.logout(fresh).status_code\n\
         out['api_after_logout'] = app.api('GET', '/orders/3', fresh).status_code\n\
         print(json.dumps(out))\n",
        pw = common::upstream::PASSWORD,
    );
    // The system's trust store, as an app's platform would have it.
    let envs = [("REQUESTS_CA_BUNDLE", ca.display().to_string())];
    let got = drive(dir, &envs, driver).await;
    assert_eq!(got["token_type"], "DPoP", "{got}");
    assert_eq!(got["api"], 201, "{got}");
    assert_eq!(got["refreshed"], true, "{got}");
    assert_eq!(got["api_after_refresh"], 201, "{got}");
    assert_eq!(got["sealed"], 201, "the sealed call: {got}");
    assert_eq!(got["logout"], 200, "{got}");
    assert_eq!(got["api_after_logout"], 401, "{got}");
    // The upstream saw the sealed request as any other: identity, no token.
    let sealed = up
        .requests()
        .into_iter()
        .find(|r| r.uri.ends_with("/orders/42"))
        .expect("the sealed request arrived");
    // The test accounts service answers `user:<username>` as the subject.
    assert_eq!(sealed.headers["x-auth-subject"], "user:alice");
    assert!(!sealed.headers.contains_key("authorization") && !sealed.headers.contains_key("dpop"));

    // The guide's curl lines, pointed at this gateway.
    let curl = block_in(APP, "app-curl").replace(
        "curl -s https://api.example.com",
        &format!("curl -s --cacert {} {base}", ca.display()),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh").args(["-c", &curl]).output().unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("https://auth.example.test") && said.trim_start().starts_with("00"),
        "{said}"
    );
    gw.shutdown().await;
}

/// Compiles the guide's Java and runs it on each token: the subject, or
/// `None` when it refuses. `None` overall when no JDK is installed.
fn java_subject(jwks: &str, tokens: &[String]) -> Option<Vec<Option<String>>> {
    let (Ok(javac), Ok(java)) = (which("javac"), which("java")) else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "a JDK is missing under CI"
        );
        eprintln!("no JDK; skipping the Java example");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("AssertionVerifier.java");
    std::fs::write(&source, block("java")).unwrap();
    succeeded(Command::new(javac).arg("-d").arg(dir.path()).arg(&source));
    let run = |token: &String| {
        let out = Command::new(&java)
            .arg("-cp")
            .arg(dir.path())
            .args(["AssertionVerifier", jwks, "sealgate", "orders", token])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    Some(tokens.iter().map(run).collect())
}

/// Runs `driver` (Python) in `dir` with `envs`; its JSON output.
async fn drive(
    dir: std::path::PathBuf,
    envs: &[(&str, String)],
    driver: String,
) -> serde_json::Value {
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut python = Command::new(common::python::python());
        succeeded(python.current_dir(&dir).envs(envs).args(["-c", &driver]))
    })
    .await
    .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}
