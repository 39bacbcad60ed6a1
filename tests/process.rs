//! The real binary: streaming without buffering, graceful shutdown on SIGTERM,
//! and the shipped gateway.toml working out of the box.

mod common;

use common::{boolean, s, Config, Pki, Process, Route, Upstream};
use std::process::Command;
use std::time::Duration;

const MIB: usize = 1024 * 1024;

fn write_config(pki: &Pki, upstream: &str) -> std::path::PathBuf {
    let path = pki.path("gateway.toml");
    Config::new(pki)
        .upstream("app", upstream)
        .route(
            Route::new("all", "/", "app")
                .anonymous()
                .extra(&[("max_request_body", s("64MiB"))]),
        )
        .write(&path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_streams_through_without_buffering() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let mut gw = Process::spawn(&write_config(&pki, &up.url()));
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    // Warm up so the baseline includes TLS and pool allocations.
    client.get(format!("{base}/warm")).send().await.unwrap();
    let baseline = gw.peak_rss_kib();

    let chunks = (0..50 * 16).map(|_| Ok::<_, std::io::Error>(vec![b'u'; 64 * 1024]));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = client
        .post(format!("{base}/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let seen = up.last();
    assert!(seen.complete);
    assert_eq!(seen.body_len, (50 * MIB) as u64);
    assert!(
        seen.body_chunks > 50,
        "the upload arrived in {} chunks: it was buffered",
        seen.body_chunks
    );

    let mut resp = client
        .get(format!("{base}/download/{}", 50 * MIB))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (mut total, mut chunks) = (0usize, 0usize);
    while let Some(c) = resp.chunk().await.unwrap() {
        total += c.len();
        chunks += 1;
    }
    assert_eq!(total, 50 * MIB);
    assert!(chunks > 50, "the download arrived in {chunks} chunks");

    let peak = gw.peak_rss_kib();
    let grown_mib = (peak.saturating_sub(baseline)) as f64 / 1024.0;
    println!("gateway peak RSS {peak} KiB, baseline {baseline} KiB, growth {grown_mib:.1} MiB");
    assert!(
        grown_mib < 16.0,
        "peak RSS grew {grown_mib:.1} MiB while streaming 2 x 50 MiB"
    );
    gw.wait_for(|v| {
        v["message"] == "request"
            && v["path"] == format!("/download/{}", 50 * MIB)
            && v["bytes_out"] == 50 * MIB
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let mut gw = Process::spawn(&write_config(&pki, &up.url()));
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/slow", gw.main_addr.port());
    let in_flight = tokio::spawn(async move { client.get(&url).send().await.map(|r| r.status()) });
    up.arrived.notified().await;

    gw.signal("TERM");
    gw.wait_for(|v| v["message"] == "listener closed; draining");
    let refused = tokio::net::TcpStream::connect(gw.main_addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    up.release.notify_waiters();
    let status = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status, 201, "the in-flight request did not complete");
    let code = tokio::task::spawn_blocking(move || gw.child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_config_runs_out_of_the_box_with_env_overrides() {
    common::install_provider();
    let dir = tempfile::tempdir().unwrap();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml");
    let config = dir.path().join("gateway.toml");
    std::fs::copy(shipped, &config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    child
        .env("SEALGATE__LISTEN__ADDRESS", "127.0.0.1:0")
        .env("SEALGATE__ADMIN__ADDRESS", "127.0.0.1:0");
    let mut gw = Process::spawn_with(child, &config);

    // The dev certificate was generated next to the config, key private.
    let cert = dir.path().join("certs/gateway.crt");
    let key_mode = std::fs::metadata(dir.path().join("certs/gateway.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_mode.permissions().mode() & 0o777, 0o600);
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(sealgate::net::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", gw.main_addr)
        .build()
        .unwrap();
    // Unauthenticated: the protected demo route refuses, the public route answers.
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let resp = client.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"sealgate\""
    );
    assert_eq!(
        client
            .get(format!("{base}/public/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The README's quick start: mint a dev token with the generated key, call the demo route.
    let mint = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .current_dir(dir.path())
        .args([
            "token",
            "mint",
            "--key",
            "certs/dev-jwt.key",
            "--authenticator",
            "dev",
            "--sub",
            "alice",
        ])
        .args([
            "--claims",
            r#"{"scope":"read","email":"alice@example.com"}"#,
        ])
        .output()
        .unwrap();
    assert!(
        mint.status.success(),
        "{}",
        String::from_utf8_lossy(&mint.stderr)
    );
    let token = String::from_utf8(mint.stdout).unwrap().trim().to_string();
    let resp = client
        .get(format!("{base}/hello?x=1"))
        .bearer_auth(&token)
        .header("x-auth-subject", "spoof")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["path"], "/hello");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(
        echo["headers"]["x-auth-subject"],
        serde_json::json!(["alice"])
    );
    assert_eq!(
        echo["headers"]["x-auth-email"],
        serde_json::json!(["alice@example.com"])
    );
    assert!(echo["headers"].get("authorization").is_none());
    assert_eq!(
        echo["headers"]["x-sealgate-assertion"][0]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "https");

    let admin = reqwest::Client::new();
    let m = common::scrape_metrics(gw.admin_addr).await;
    assert!(m.contains("sealgate_requests_total{method=\"GET\",outcome=\"forwarded\",route=\"demo\",status_class=\"2xx\"} 1"), "{m}");
    assert!(
        m.contains("sealgate_auth_failures_total{reason=\"missing\",route=\"demo\"} 1"),
        "{m}"
    );
    let ready = admin
        .get(format!("http://{}/readyz", gw.admin_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // `sealgate health`, the probe for images without curl: 0 when ready,
    // 1 with the reason when nothing answers.
    let health = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["health", "--url", &url, "--timeout", "2s"])
            .output()
            .unwrap()
    };
    let url = format!("http://{}/readyz", gw.admin_addr);
    let ok = tokio::task::spawn_blocking(move || health(url))
        .await
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/readyz", closed.local_addr().unwrap());
    drop(closed);
    let down = tokio::task::spawn_blocking(move || health(url))
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unreachable"));

    // Logs carry values, not Rust's debug forms, and rounded durations.
    let served =
        gw.wait_for(|v| v["message"] == "request" && v["status"] == 200 && v["route"] == "demo");
    let ms = served["duration_ms"].to_string();
    assert!(
        ms.split('.').nth(1).is_none_or(|f| f.len() <= 3),
        "duration_ms {ms}"
    );
    let route = gw
        .seen
        .iter()
        .find(|v| v["message"] == "route" && v["route"] == "demo")
        .unwrap();
    assert_eq!(route["auth"], "dev", "{route}");
    for v in &gw.seen {
        let line = v.to_string();
        for debug_form in ["None", "Some(", "AnyOf(", "Exact(", "[\\\"", "Duration"] {
            assert!(!line.contains(debug_form), "{debug_form} in {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_configuration() {
    let pki = Pki::new();
    let (blue, green) = (Upstream::start().await, Upstream::start().await);
    let write = |target: &str| {
        Config::new(&pki)
            .set("reload.watch", boolean(false))
            .upstream("app", target)
            .route(Route::new("all", "/", "app").anonymous())
            .write(pki.path("gateway.toml"));
    };
    write(&blue.url());
    let mut gw = Process::spawn(&pki.path("gateway.toml"));
    let client = pki.client(gw.main_addr, false);
    let url = format!("https://localhost:{}/", gw.main_addr.port());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 201);
    write(&green.url());
    // With the watcher off, nothing changes until the signal.
    assert_eq!(client.get(&url).send().await.unwrap().status(), 201);
    assert_eq!((blue.requests().len(), green.requests().len()), (2, 0));
    gw.signal("HUP");
    gw.wait_for(|v| v["message"] == "configuration reloaded");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 201);
    assert_eq!(
        green.requests().len(),
        1,
        "SIGHUP did not apply the new upstream"
    );
}

/// The datagrams the gateway sends to `NOTIFY_SOCKET`, as systemd sees them.
struct Notify {
    socket: std::os::unix::net::UnixDatagram,
    _dir: tempfile::TempDir,
}

impl Notify {
    fn bind() -> (Notify, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (Notify { socket, _dir: dir }, path)
    }

    /// Reads datagrams until one has `line`; all of them, in order.
    fn until(&self, line: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|_| panic!("no {line} in {seen:?}"));
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let done = msg.lines().any(|l| l == line);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_reloading_watchdog_and_stopping() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (notify, socket) = Notify::bind();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    cmd.env("NOTIFY_SOCKET", &socket)
        .env("WATCHDOG_USEC", "200000");
    let gw = Process::spawn_with(cmd, &write_config(&pki, &up.url()));
    let notify = tokio::task::spawn_blocking(move || {
        let start = notify.until("READY=1");
        assert!(
            start.last().unwrap().contains("STATUS=serving"),
            "{start:?}"
        );
        // WatchdogSec=0.2s: a ping every 100 ms while the runtime runs.
        notify.until("WATCHDOG=1");
        notify
    })
    .await
    .unwrap();
    gw.signal("HUP");
    let notify = tokio::task::spawn_blocking(move || {
        let reload = notify.until("RELOADING=1");
        assert!(
            reload.last().unwrap().contains("MONOTONIC_USEC="),
            "{reload:?}"
        );
        notify.until("READY=1");
        notify
    })
    .await
    .unwrap();
    gw.signal("TERM");
    let mut gw = gw;
    tokio::task::spawn_blocking(move || {
        notify.until("STOPPING=1");
        assert_eq!(gw.child.wait().unwrap().code(), Some(0));
    })
    .await
    .unwrap();
}

type Outcome = Result<u16, String>;

/// The next `n` outcomes the load reports.
async fn outcomes(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Outcome>,
    n: usize,
) -> Vec<Outcome> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        got.push(rx.recv().await.expect("the load stopped"));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_takes_over_without_a_failed_request() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = write_config(&pki, &up.url());
    let (main, admin) = (common::free_port(), common::free_port());
    let with_ports = |cmd: &mut Command| {
        cmd.env("SEALGATE__LISTEN__ADDRESS", format!("127.0.0.1:{main}"))
            .env("SEALGATE__ADMIN__ADDRESS", format!("127.0.0.1:{admin}"))
            .env("SEALGATE__LISTEN__SHUTDOWN_GRACE", "5s")
            .env("SEALGATE__LISTEN__REUSE_PORT", "true");
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    with_ports(&mut cmd);
    let old = Process::spawn_with(cmd, &path);

    // Load: four clients with keep-alive connections, and a fifth that opens
    // a new connection for every request, each reporting every outcome.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let url = format!("https://localhost:{main}/load");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{main}").parse().unwrap();
    let mut workers = Vec::new();
    for fresh in [false, false, false, false, true] {
        let (stop, tx, url) = (stop.clone(), tx.clone(), url.clone());
        let client = pki.client(addr, false);
        workers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut req = client.get(&url);
                if fresh {
                    req = req.header("connection", "close");
                }
                let outcome = req
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| format!("{e:?}"));
                if tx.send(outcome).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);
    let mut all = outcomes(&mut rx, 300).await;
    // The new process binds the same addresses while the old one serves.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    with_ports(&mut cmd);
    let new = tokio::task::spawn_blocking(move || Process::spawn_with(cmd, &path))
        .await
        .unwrap();
    all.extend(outcomes(&mut rx, 300).await);
    old.signal("TERM");
    let mut old = old;
    let exit = tokio::task::spawn_blocking(move || old.child.wait().unwrap());
    // Load goes on through the old process's drain and after its exit.
    all.extend(outcomes(&mut rx, 300).await);
    let code = exit.await.unwrap();
    assert_eq!(code.code(), Some(0));
    all.extend(outcomes(&mut rx, 300).await);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    while let Some(o) = rx.recv().await {
        all.push(o);
    }
    let failures: Vec<_> = all.iter().filter(|o| !matches!(o, Ok(201))).collect();
    let served = all.len() - failures.len();
    assert!(
        failures.is_empty(),
        "{} failed of {}: {:?}",
        failures.len(),
        all.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served >= 1200, "{served}");
    // Every request after the old process's exit was the new one's.
    let m = common::scrape_metrics(new.admin_addr).await;
    assert!(m.contains("sealgate_requests_total"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reuse_port_a_second_process_is_refused_its_addresses() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = write_config(&pki, &up.url());
    let (main, admin) = (common::free_port(), common::free_port());
    let ports = |cmd: &mut Command| {
        cmd.env("SEALGATE__LISTEN__ADDRESS", format!("127.0.0.1:{main}"))
            .env("SEALGATE__ADMIN__ADDRESS", format!("127.0.0.1:{admin}"));
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    ports(&mut cmd);
    let _first = Process::spawn_with(cmd, &path);
    let mut second = Command::new(env!("CARGO_BIN_EXE_sealgate"));
    ports(&mut second);
    let out = tokio::task::spawn_blocking(move || {
        second
            .args(["run", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!(
            "cannot listen on 127.0.0.1:{main} (listen.address)"
        )),
        "{said}"
    );
}
