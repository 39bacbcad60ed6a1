//! Faults around the gateway, each with its precise answer while valid
//! traffic keeps flowing and nothing leaks: an upstream that resets mid-body
//! and mid-response, stalls its head or its body (slowloris), answers
//! garbage or refuses connections; a full disk where the development
//! certificate is generated; a SIGHUP every 100 ms under load.

mod common;

use common::{
    n, read_request_path, s, scrape_metrics, start_gateway, Config, Pki, Process, Route, Upstream,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Ends the connection with a TCP reset (SO_LINGER 0), not a FIN.
fn reset(sock: tokio::net::TcpStream) {
    let _ = sock.set_zero_linger();
    drop(sock);
}

/// One faulty behaviour per path. It runs on its own runtime (thread) so
/// that its held sockets do not count as the gateway's tasks.
/// `/reset-response` resets only after the test saw the head (`reset_now`):
/// a reset discards whatever the gateway had not read yet.
fn faulty_upstream(reset_now: Arc<tokio::sync::Notify>) -> SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(behave(sock, reset_now.clone()));
            }
        });
    });
    addr
}

async fn behave(mut sock: tokio::net::TcpStream, reset_now: Arc<tokio::sync::Notify>) {
    let Some(path) = read_request_path(&mut sock).await else {
        return;
    };
    let path = path.strip_prefix("/f").unwrap_or(&path).to_string();
    match path.as_str() {
        "/reset-body" => {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            reset(sock);
        }
        "/reset-response" => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await;
            let _ = sock.write_all(&[b'r'; 1000]).await;
            reset_now.notified().await;
            reset(sock);
        }
        "/slow-head" | "/slow-body" => {
            if path == "/slow-body" {
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst ten.")
                    .await;
            } else {
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\n").await;
            }
            // Holds the socket open until the gateway gives up on it.
            let mut buf = [0u8; 64];
            while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        _ => {
            let _ = sock.write_all(b"\x00\x01 not HTTP at all\r\n\r\n").await;
        }
    }
}

/// A port nothing listens on.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn gauge(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Valid requests from an HTTP/2 and an HTTP/1.1 client until `stop`;
/// returns (answered 201, anything else).
fn background_load(
    pki: &Pki,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let clients = [pki.client(addr, true), pki.client(addr, false)];
    let url = format!("https://localhost:{}/ok/load", addr.port());
    tokio::spawn(async move {
        let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut tasks = Vec::new();
        for c in clients {
            let (ok, bad, stop, url) = (ok.clone(), bad.clone(), stop.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match c.get(&url).send().await {
                        Ok(r) if r.status() == 201 => ok.fetch_add(1, Ordering::Relaxed),
                        other => {
                            eprintln!("valid request failed: {other:?}");
                            bad.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed))
    })
}

/// Polls `cond` for at most 10 s.
async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_fail_only_their_own_requests_and_leak_nothing() {
    let pki = Pki::new();
    let ok = Upstream::start().await;
    let reset_now = Arc::new(tokio::sync::Notify::new());
    let faulty = faulty_upstream(reset_now.clone());
    let cfg = Config::new(&pki)
        // Connections served on this test's runtime, so that the task count
        // below covers every connection, exchange and upstream task.
        .set("listen.workers", n(0))
        .upstream("ok", &ok.url())
        // Pooled connections close soon after use: how many the load left
        // idle must not show as a difference in tasks.
        .set("upstreams.ok.idle_timeout", s("100ms"))
        .upstream("faulty", &format!("http://{faulty}"))
        .set("upstreams.faulty.request_timeout", s("400ms"))
        .set("upstreams.faulty.read_timeout", s("400ms"))
        // Never ejected: each fault below must be met by the target itself.
        .set("upstreams.faulty.eject_after", n(1000))
        .upstream("down", &format!("http://{}", closed_port()))
        .route(Route::new("ok", "/ok", "ok").anonymous())
        .route(Route::new("faulty", "/f/", "faulty").anonymous())
        .route(Route::new("down", "/down", "down").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let open = |admin| async move {
        gauge(
            &scrape_metrics(admin).await,
            "sealgate_active_connections{listener=\"main\"}",
        )
    };

    // Warm up (TLS, pools) the way the load below runs, then take the baseline.
    let stop = Arc::new(AtomicBool::new(false));
    let warm = background_load(&pki, gw.main_addr, stop.clone());
    eventually("no warm-up traffic", || async {
        ok.seen.lock().unwrap().len() > 20
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(warm.await.unwrap().1, 0);
    let closed =
        || async { open(gw.admin_addr).await == 0.0 && ok.live.load(Ordering::Relaxed) == 0 };
    eventually("warm-up connections stayed open", closed).await;
    let baseline = tasks();

    let stop = Arc::new(AtomicBool::new(false));
    let load = background_load(&pki, gw.main_addr, stop.clone());
    for http2 in [true, false] {
        let c = pki.client(gw.main_addr, http2);
        let call = |path: &str| c.get(format!("{base}{path}")).send();
        let problem = |r: reqwest::Response| async move {
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, v["type"].as_str().unwrap_or_default().to_string())
        };
        let r = c
            .post(format!("{base}/f/reset-body"))
            // Small enough to be sent whole before the upstream's reset
            // comes back (a client still writing may see the reset first).
            .body(vec![b'b'; 64 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(r).await,
            (502, "urn:sealgate:problem:upstream_failed".into())
        );
        let r = call("/f/slow-head").await.unwrap();
        assert_eq!(
            problem(r).await,
            (504, "urn:sealgate:problem:upstream_timeout".into())
        );
        let r = call("/f/garbage").await.unwrap();
        assert_eq!(problem(r).await.0, 502);
        let r = call("/down/x").await.unwrap();
        assert_eq!(
            problem(r).await,
            (502, "urn:sealgate:problem:upstream_unreachable".into())
        );
        // Mid-response faults: the head was already sent, so the client sees
        // its body end early (HTTP/2: the stream is reset, the connection lives).
        for path in ["/f/reset-response", "/f/slow-body"] {
            let r = call(path).await.unwrap_or_else(|e| panic!("{path}: {e:?}"));
            assert_eq!(r.status(), 200, "{path}");
            if path == "/f/reset-response" {
                reset_now.notify_one();
            }
            let body = tokio::time::timeout(Duration::from_secs(10), r.bytes())
                .await
                .unwrap_or_else(|_| panic!("{path}: the stalled body was never ended"));
            assert!(
                body.is_err(),
                "{path}: a truncated body must not look complete"
            );
        }
        // The same client (one HTTP/2 connection) still works.
        assert_eq!(call("/ok/after").await.unwrap().status(), 201);
    }
    stop.store(true, Ordering::Relaxed);
    let (served, failed) = load.await.unwrap();
    assert_eq!(failed, 0, "valid requests failed during the faults");
    assert!(served > 0);

    let m = scrape_metrics(gw.admin_addr).await;
    assert_eq!(
        gauge(
            &m,
            "sealgate_upstream_errors_total{kind=\"read_timeout\",upstream=\"faulty\"}"
        ),
        2.0,
        "{m}"
    );
    // Nothing leaks: connections close and the tasks return to the baseline.
    eventually("connections stayed open", closed).await;
    let mut now = tasks();
    for _ in 0..500 {
        if now <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = tasks();
    }
    assert!(
        now <= baseline,
        "{now} tasks alive, {baseline} before the faults"
    );
    gw.shutdown().await;
}

#[test]
fn a_full_disk_for_the_development_certificate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    Config::empty()
        .table(
            "listen",
            &[
                ("address", s("127.0.0.1:0")),
                ("tls.cert", s("certs/gateway.crt")),
                ("tls.key", s("certs/gateway.key")),
                ("tls.dev_self_signed", common::boolean(true)),
            ],
        )
        .table("admin", &[("address", s("127.0.0.1:0"))])
        .table("upstreams.e", &[("builtin", s("echo"))])
        .route(Route::new("all", "/", "e").anonymous())
        .write(&config);
    // RLIMIT_FSIZE 0 makes every write fail with EFBIG, as a full disk fails
    // with ENOSPC; SIGXFSZ is ignored so the write returns the error.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 0; exec \"$0\" run --config \"$1\"",
        ])
        .arg(env!("CARGO_BIN_EXE_sealgate"))
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let key = dir.path().join("certs/gateway.key");
    assert!(
        stderr.contains(&format!(
            "listen.tls.dev_self_signed: cannot write {}",
            key.display()
        )),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("certs"))
        .unwrap()
        .collect();
    assert!(
        left.is_empty(),
        "a failed write left files behind: {left:?}"
    );
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_every_100ms_under_load_loses_nothing() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = pki.path("gateway.toml");
    Config::new(&pki)
        .upstream("app", &up.url())
        .route(Route::new("ok", "/ok", "app").anonymous())
        .write(&path);
    let mut gw = Process::spawn(&path);
    let pid = gw.child.id();

    let stop = Arc::new(AtomicBool::new(false));
    let warm = background_load(&pki, gw.main_addr, stop.clone());
    eventually("no warm-up traffic", || async {
        up.seen.lock().unwrap().len() > 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    assert_eq!(warm.await.unwrap().1, 0);
    let (fds, rss) = (open_fds(pid), rss_kib(pid));

    let stop = Arc::new(AtomicBool::new(false));
    let load = background_load(&pki, gw.main_addr, stop.clone());
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..30 {
        interval.tick().await;
        gw.signal("HUP");
    }
    stop.store(true, Ordering::Relaxed);
    let (served, failed) = load.await.unwrap();
    assert_eq!(failed, 0, "requests failed while reloading");
    assert!(served > 30, "{served} requests in 3 s");
    // Signals that arrive during a reload may be merged; most are not.
    let reloads = tokio::task::spawn_blocking(move || {
        for _ in 0..10 {
            gw.wait_for(|v| v["message"] == "configuration reloaded");
        }
        gw
    })
    .await
    .unwrap();
    // The load's connections are closed; what remains is what was there before.
    let mut now = open_fds(pid);
    for _ in 0..250 {
        if now <= fds {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = open_fds(pid);
    }
    assert!(
        now <= fds,
        "{now} open descriptors after the reloads, {fds} before"
    );
    let grown = rss_kib(pid).saturating_sub(rss);
    assert!(grown < 8 * 1024, "RSS grew {grown} KiB over 30 reloads");
    drop(reloads);
}
