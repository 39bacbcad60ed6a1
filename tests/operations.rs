//! Operations: `sealgate check`, live reload, metrics and logs; and strings in
//! test configs reaching the gateway as written.

mod common;

use common::{boolean, list, n, s, start_gateway, toml_str, Config, Pki, Process, Route, Upstream};
use std::process::Command;

fn check(cfg: &Config) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    cfg.write(&path);
    let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

/// A valid upstream and route after `cfg`, for cases about other keys.
fn valid_tail(cfg: Config) -> Config {
    cfg.upstream("orders", "http://127.0.0.1:8080")
        .route(Route::without_prefix("r", "orders").anonymous())
}

#[test]
fn check_names_the_file_key_and_reason() {
    let head = || Config::empty().set("listen.tls.dev_self_signed", boolean(true));
    let cases: Vec<(Config, &str)> = vec![
        (
            valid_tail(Config::empty().set("listen.adress", s("127.0.0.1:1"))),
            "unknown field `adress`",
        ),
        (
            head()
                .upstream("orders", "http://127.0.0.1:8080")
                .route(Route::without_prefix("r", "ordrs").anonymous()),
            "routes[0].upstream: no upstream named \"ordrs\" (did you mean \"orders\"?)",
        ),
        (
            head()
                .table(
                    "upstreams.orders",
                    &[
                        ("targets", list(&["http://127.0.0.1:8080"])),
                        ("connect_timeout", s("2 fortnights")),
                    ],
                )
                .route(Route::without_prefix("r", "orders").anonymous()),
            "upstreams.orders.connect_timeout: invalid duration",
        ),
        (
            valid_tail(Config::empty().table(
                "listen",
                &[
                    ("tls.cert", s("/nonexistent/gw.crt")),
                    ("tls.key", s("/nonexistent/gw.key")),
                ],
            )),
            "listen.tls.cert: cannot read certificate /nonexistent/gw.crt",
        ),
        (
            head()
                .upstream("orders", "http://127.0.0.1:8080")
                .route(Route::without_prefix("r", "orders")),
            "routes[0].auth: missing; routes deny by default",
        ),
        (
            valid_tail(head().set("limits.max_request_body", s("lots"))),
            "limits.max_request_body: invalid size",
        ),
        (
            valid_tail(head().set("listen.max_request_body", n(5))),
            "unknown field `max_request_body`",
        ),
        (
            head()
                .table("decision", &[("path", s("/auth/verify"))])
                .echo_upstream("orders")
                .authenticator(
                    "partner",
                    "oauth1",
                    &[("jwks_url", s("https://partner.example/jwks"))],
                )
                .route(Route::new("legacy", "/legacy", "orders").auth(&["partner"])),
            "routes[0].auth: authenticator \"partner\" cannot be used in decision mode, which never sees the body",
        ),
        (
            valid_tail(head().table("decision", &[("path", s("/auth/verify/"))])),
            "decision.path: \"/auth/verify/\" must be a plain absolute path",
        ),
        (
            valid_tail(head().table("decision", &[("path", s("/auth/verify"))])),
            "decision.caller: missing; say which proxy asks",
        ),
        (
            valid_tail(head().table("decision", &[("caller", s("nginx"))])),
            "listen.trusted_proxies: decision mode answers only trusted proxies",
        ),
    ];
    for (toml, expected) in &cases {
        let (code, out) = check(toml);
        assert_eq!(code, 2, "expected exit 2 for {expected}; got:\n{out}");
        assert!(out.contains("gw.toml"), "the file is not named:\n{out}");
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
    // Every problem at once, not just the first.
    let (code, out) = check(
        &head()
            .set("limits.max_request_body", s("x"))
            .echo_upstream("a")
            .set("upstreams.a.idle_timeout", s("y"))
            .route(Route::without_prefix("r", "b")),
    );
    assert_eq!(code, 2);
    for expected in [
        "limits.max_request_body",
        "upstreams.a.idle_timeout",
        "routes[0].upstream",
        "routes[0].auth",
    ] {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
}

#[test]
fn check_passes_the_shipped_config() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["check", "--config", shipped])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok (2 routes, 1 upstreams, 1 authenticators)"),
        "{stdout}"
    );
}

#[test]
fn check_names_an_environment_override_and_warns_of_an_open_admin_listener() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml");
    let run = |vars: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["check", "--config", shipped])
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let (code, out) = run(&[("SEALGATE__LISTEN__MAX_CONNECTIONS", "many")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("listen.max_connections"), "{out}");
    assert!(
        out.contains("environment variable SEALGATE__LISTEN__MAX_CONNECTIONS"),
        "{out}"
    );
    let (code, out) = run(&[("SEALGATE__ADMIN__ADDRESS", "not-an-address")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("environment variable SEALGATE__ADMIN__ADDRESS"),
        "{out}"
    );
    let (code, out) = run(&[("SEALGATE__ADMIN__ADDRESS", "0.0.0.0:9090")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("admin.address 0.0.0.0:9090 is reachable beyond this host"),
        "{out}"
    );
    let (_, out) = run(&[]);
    assert!(!out.contains("reachable beyond this host"), "{out}");
}

#[test]
fn run_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    Config::empty().set("listen.adress", n(1)).write(&path);
    let out = Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `adress`"));
}

fn reload_config(pki: &Pki, upstreams: &[(&str, &Upstream)], route_to: &str) -> Config {
    let mut cfg = Config::new(pki).set("reload.poll_interval", s("50ms"));
    for (name, up) in upstreams {
        cfg = cfg.upstream(name, &up.url());
    }
    cfg.route(Route::new("main", "/", route_to).anonymous())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_traffic_loses_no_request() {
    let pki = Pki::new();
    let (blue, green) = (Upstream::start().await, Upstream::start().await);
    let ups = [("blue", &blue), ("green", &green)];
    let (gw, dir) = start_gateway(&reload_config(&pki, &ups, "blue")).await;
    let mut reloads = gw.state.reloads.subscribe();
    let url = format!("https://localhost:{}/work", gw.main_addr.port());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loops = Vec::new();
    for _ in 0..3 {
        let (client, url, stop) = (pki.client(gw.main_addr, false), url.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(
                    client
                        .get(&url)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0),
                );
            }
            statuses
        }));
    }
    while blue.requests().len() < 20 {
        tokio::task::yield_now().await;
    }
    // The watcher notices the rewritten file; no signal, no call.
    reload_config(&pki, &ups, "green").write(dir.path().join("gateway.toml"));
    reloads.changed().await.unwrap();
    let served_by_blue = blue.requests().len();
    while green.requests().len() < 20 {
        tokio::task::yield_now().await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for l in loops {
        all.extend(l.await.unwrap());
    }
    assert!(
        all.iter().all(|s| *s == 201),
        "failed requests during reload: {:?}",
        all.iter().filter(|s| **s != 201).collect::<Vec<_>>()
    );
    // At most the requests already in flight at the swap still reach blue.
    assert!(blue.requests().len() <= served_by_blue + 3);
    assert_eq!(
        gw.state
            .metrics
            .config_reloads
            .with_label_values(&["success"])
            .get(),
        2
    );

    // A broken file changes nothing and is counted.
    Config::empty()
        .array_table("routes", &[("name", n(1))])
        .write(dir.path().join("gateway.toml"));
    reloads.changed().await.unwrap();
    assert_eq!(
        gw.state
            .metrics
            .config_reloads
            .with_label_values(&["failure"])
            .get(),
        1
    );
    let before = green.requests().len();
    let resp = pki
        .client(gw.main_addr, true)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        green.requests().len(),
        before + 1,
        "the running configuration was not kept"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn metrics_parse_and_move() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .route(Route::new("api", "/api", "app").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let client = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    for _ in 0..3 {
        assert_eq!(
            client
                .get(format!("{base}/api/x"))
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    assert_eq!(
        client
            .get(format!("{base}/nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    gw.reload().unwrap();

    let admin = reqwest::Client::new();
    let text = common::scrape_metrics(gw.admin_addr).await;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    assert_eq!(
        value(
            "sealgate_requests_total",
            &[
                ("route", "api"),
                ("status_class", "2xx"),
                ("outcome", "forwarded")
            ]
        ),
        3.0
    );
    assert_eq!(
        value(
            "sealgate_rejections_total",
            &[("route", "unmatched"), ("reason", "no_route")]
        ),
        1.0
    );
    assert_eq!(
        value("sealgate_config_reloads_total", &[("result", "success")]),
        2.0
    );
    assert_eq!(value("sealgate_ready", &[]), 1.0);
    assert!(value("sealgate_config_last_reload_success_timestamp_seconds", &[]) > 1.7e9);
    assert_eq!(
        value(
            "sealgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(
        scrape
            .docs
            .contains_key("sealgate_request_duration_seconds"),
        "HELP text missing"
    );
    assert!(text.contains("sealgate_upstream_duration_seconds_count{upstream=\"app\"} 3"));
    assert_eq!(
        admin
            .get(format!("http://{}/livez", gw.admin_addr))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        admin
            .get(format!("http://{}/readyz", gw.admin_addr))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_the_fields_and_never_the_token() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let path = pki.path("gateway.toml");
    Config::new(&pki)
        .set("log.level", s("trace"))
        .upstream("app", &up.url())
        .route(Route::new("all", "/", "app").anonymous())
        .write(&path);
    let mut gw = Process::spawn(&path);
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2VuLXBheWxvYWQ.c2lnbmF0dXJlLXZhbHVl";
    for http2 in [false, true] {
        let resp = pki
            .client(gw.main_addr, http2)
            .post(format!(
                "https://localhost:{}/items?access_token={TOKEN}",
                gw.main_addr.port()
            ))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("cookie", format!("session={TOKEN}"))
            .header("x-request-id", format!("log-test-{http2}"))
            // HTTP/2 continues the W3C example trace; HTTP/1.1 starts one.
            .header(
                "traceparent",
                match http2 {
                    true => "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    false => "00-not-a-trace",
                },
            )
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let line = gw.wait_for(|v| {
            v["message"] == "request" && v["request_id"] == format!("log-test-{http2}")
        });
        assert_eq!(line["route"], "all");
        assert_eq!(line["method"], "POST");
        assert_eq!(line["path"], "/items");
        assert_eq!(line["status"], 201);
        assert_eq!(line["upstream"], "app");
        assert_eq!(line["bytes_in"], 5);
        assert_eq!(line["bytes_out"], 2);
        assert!(line["duration_ms"].as_f64().is_some());
        assert!(line["timestamp"].is_string());
        // The upstream's parent is the gateway's span in the logged trace.
        let (trace, span) = (
            line["trace_id"].as_str().unwrap(),
            line["span_id"].as_str().unwrap(),
        );
        assert_eq!((trace.len(), span.len()), (32, 16));
        if http2 {
            assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        }
        let sent = up.last().headers["traceparent"]
            .to_str()
            .unwrap()
            .to_string();
        let flags = if http2 { "01" } else { "00" };
        assert_eq!(sent, format!("00-{trace}-{span}-{flags}"));
    }
    gw.signal("TERM");
    let mut lines = 0;
    while let Ok(line) = gw.lines.recv() {
        lines += 1;
        assert!(
            !line.contains("c2VjcmV0LXRva2VuLXBheWxvYWQ"),
            "a log line carries the token: {line}"
        );
    }
    assert!(lines > 0);
}

/// The builder quotes and escapes every string in one place, so paths the
/// gateway reads arrive as written even when they need escaping in TOML.
#[tokio::test]
async fn config_strings_reach_the_gateway_as_written() {
    assert_eq!(toml_str(r#"C:\dir "q""#), r#""C:\\dir \"q\"""#);
    assert_eq!(toml_str("a\tb\nc\u{1}\u{7f}é"), r#""a\tb\nc\u0001\u007Fé""#);
    // The gateway's certificate and key live under this directory.
    let odd = tempfile::Builder::new()
        .prefix("odd \"dir\" \\ é\t\n")
        .tempdir()
        .unwrap();
    let pki = Pki::in_dir(odd);
    let cfg = Config::new(&pki)
        .echo_upstream("echo")
        .route(Route::new("all", "/", "echo").anonymous());
    let (gw, _d) = start_gateway(&cfg).await;
    let resp = pki
        .client(gw.main_addr, false)
        .get(format!("https://localhost:{}/x", gw.main_addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gw.shutdown().await;
}
