//! Decision mode behind real proxies: nginx (`auth_request`) and Caddy
//! (`forward_auth`), installed by scripts/test.sh, in front of a recording
//! backend, asking sealgate's `[decision]` endpoint. A valid token reaches the
//! backend with sealgate's identity headers and assertion (never the token);
//! a bad one gets sealgate's 401 and `WWW-Authenticate` through the proxy and
//! never reaches the backend; the original URI decides the route, and a
//! client's copy of the other proxies' URI headers changes nothing. Direct
//! calls show Envoy's path-prefix form, and that a peer outside
//! `trusted_proxies` gets no decision at all.

mod common;

use common::idp::{with_assertion, Idp};
use common::{list, s, start_gateway, Config, Pki, Route, Upstream};
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;

/// A proxy process, stopped when dropped.
struct Proxy {
    child: Child,
    port: u16,
}

impl Drop for Proxy {
    /// SIGTERM, not SIGKILL: nginx's master takes its workers down with it.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn wait_listening(port: u16, what: &str) {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not start listening on {port}");
}

async fn nginx(
    dir: &std::path::Path,
    pki: &Pki,
    gateway: SocketAddr,
    backend: SocketAddr,
) -> Proxy {
    let port = common::free_port();
    let d = dir.display();
    let conf = format!(
        r#"
user root;
worker_processes 1;
daemon off;
error_log {d}/nginx-error.log;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_sealgate;
      auth_request_set $sub $upstream_http_x_auth_subject;
      auth_request_set $assertion $upstream_http_x_sealgate_assertion;
      auth_request_set $challenge $upstream_http_www_authenticate;
      proxy_set_header X-Auth-Subject $sub;
      proxy_set_header X-Sealgate-Assertion $assertion;
      proxy_set_header Authorization "";
      proxy_pass http://{backend};
      error_page 401 = @denied;
    }}
    location = /_sealgate {{
      internal;
      proxy_pass https://{gateway}/auth/verify;
      proxy_ssl_trusted_certificate {ca};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
    location @denied {{
      add_header WWW-Authenticate $challenge always;
      return 401;
    }}
  }}
}}
"#,
        ca = pki.path("ca.pem").display(),
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx (installed by scripts/test.sh)");
    let proxy = Proxy { child, port };
    wait_listening(port, "nginx").await;
    proxy
}

async fn caddy(
    dir: &std::path::Path,
    pki: &Pki,
    gateway: SocketAddr,
    backend: SocketAddr,
) -> Proxy {
    let port = common::free_port();
    let conf = format!(
        r#"{{
  admin off
  auto_https off
}}
http://127.0.0.1:{port} {{
  forward_auth https://{gateway} {{
    uri /auth/verify
    copy_headers X-Auth-Subject X-Sealgate-Assertion
    transport http {{
      tls_trusted_ca_certs {ca}
      tls_server_name localhost
    }}
  }}
  reverse_proxy {backend} {{
    header_up -Authorization
  }}
}}
"#,
        ca = pki.path("ca.pem").display(),
    );
    let path = dir.join("Caddyfile");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("caddy (installed by scripts/test.sh)");
    let proxy = Proxy { child, port };
    wait_listening(port, "caddy").await;
    proxy
}

fn config(pki: &Pki, idp: &Idp, backend: &Upstream, caller: &str) -> Config {
    let cfg = idp.authenticator(with_assertion(Config::new(pki), pki), "idp");
    cfg.set("listen.trusted_proxies", list(&["127.0.0.1/32"]))
        .table(
            "decision",
            &[("path", s("/auth/verify")), ("caller", s(caller))],
        )
        .upstream("app", &backend.url())
        .route(Route::new("api", "/api", "app").auth(&["idp"]))
        .route(Route::new("public", "/public", "app").anonymous())
}

/// The same three cases through whichever proxy listens on `port`.
async fn through(port: u16, idp: &Idp, backend: &Upstream, problem_body: bool) {
    let c = reqwest::Client::new();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let before = backend.requests().len();

    let r = c
        .get(url("/api/orders?page=2"))
        .bearer_auth(idp.token("alice"))
        .header("X-Auth-Subject", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let seen = backend.last();
    assert_eq!(seen.uri, "/api/orders?page=2");
    assert_eq!(
        seen.headers
            .get_all("x-auth-subject")
            .iter()
            .collect::<Vec<_>>(),
        ["alice"]
    );
    assert!(seen.headers["x-sealgate-assertion"].len() > 100);
    assert!(
        !seen.headers.contains_key("authorization"),
        "the token reached the backend"
    );

    let r = c
        .get(url("/api/orders"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    if problem_body {
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(
            v["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:sealgate:problem:"),
            "{v}"
        );
    }
    let r = c.get(url("/api/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");
    // A client's own copies of every proxy's URI headers decide nothing.
    let r = c
        .delete(url("/api/orders"))
        .header("X-Original-URI", "/public/x")
        .header("X-Original-Method", "GET")
        .header("X-Forwarded-Uri", "/public/x")
        .header("X-Forwarded-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a spoofed original URI was believed");
    // The anonymous route needs none.
    assert_eq!(c.get(url("/public/x")).send().await.unwrap().status(), 201);
    assert_eq!(
        backend.requests().len(),
        before + 2,
        "a refused request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_asks_sealgate() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let backend = Upstream::start().await;
    let (gw, dir) = start_gateway(&config(&pki, &idp, &backend, "nginx")).await;
    let proxy = nginx(dir.path(), &pki, gw.main_addr, backend.addr).await;
    // nginx's auth_request cannot pass a subrequest's body on: status and challenge only.
    through(proxy.port, &idp, &backend, false).await;
    drop(proxy);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_asks_sealgate() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let backend = Upstream::start().await;
    let (gw, dir) = start_gateway(&config(&pki, &idp, &backend, "forwarded")).await;
    let proxy = caddy(dir.path(), &pki, gw.main_addr, backend.addr).await;
    through(proxy.port, &idp, &backend, true).await;
    drop(proxy);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_decisions_envoy_form_and_untrusted_peers() {
    let pki = Pki::new();
    let idp = Idp::new(&pki);
    let backend = Upstream::start().await;
    let (gw, _dir) = start_gateway(&config(&pki, &idp, &backend, "envoy")).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    // Envoy (use_remote_address) appends the client's address.
    let mut with_client = reqwest::header::HeaderMap::new();
    with_client.insert("x-forwarded-for", "198.51.100.20".parse().unwrap());
    let trusted = reqwest::Client::builder()
        .use_preconfigured_tls(pki.client_tls(&[b"h2"], false))
        .resolve("localhost", gw.main_addr)
        .http2_prior_knowledge()
        .default_headers(with_client)
        .build()
        .unwrap();
    // A caller that names no client is refused: every client would share
    // the proxy's address for failed-login blocks and per-IP limits.
    let r = pki
        .client(gw.main_addr, true)
        .get(format!("{base}/auth/verify/public/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "urn:sealgate:problem:decision_missing_client");

    // Envoy ext_authz HTTP: the original path below the decision path.
    let r = trusted
        .post(format!("{base}/auth/verify/api/orders"))
        .bearer_auth(idp.token("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-subject"], "bob");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().contains_key("x-sealgate-assertion"));
    assert!(!r.headers().contains_key("authorization"));
    // A gRPC-typed request without a token is still an HTTP 401 here: a
    // gRPC-shaped refusal (HTTP 200) would read as "allowed" to the proxy.
    let r = trusted
        .post(format!("{base}/auth/verify/api/orders"))
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A trusted caller that names no URI is told so.
    let r = trusted
        .get(format!("{base}/auth/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "urn:sealgate:problem:decision_missing_uri");
    assert_eq!(
        trusted
            .get(format!("{base}/auth/verify/public/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // From 127.0.0.2 (not in trusted_proxies) there is no decision at all.
    let untrusted = reqwest::Client::builder()
        .use_preconfigured_tls(pki.client_tls(&[b"h2"], false))
        .resolve("localhost", gw.main_addr)
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = untrusted
        .get(format!("{base}/auth/verify/public/x"))
        .header("X-Forwarded-Uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "urn:sealgate:problem:decision_untrusted_peer");
    assert!(
        backend.requests().is_empty(),
        "a decision reached the backend"
    );
    gw.shutdown().await;
}
