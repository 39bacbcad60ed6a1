//! Wiring: build the shared state from a configuration, bind the listeners,
//! reload on SIGHUP, and shut down gracefully on SIGTERM/SIGINT.

use crate::gateway::Gateway;
use crate::listener::{self, tls};
use crate::metrics::Metrics;
use crate::settings::{self, Config};
pub use crate::state::Shared;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The main listener's handler: every request goes through the pipeline
/// with the state of the moment.
#[derive(Clone)]
struct Pipeline(Arc<Shared>);

impl listener::http::Handler for Pipeline {
    fn limits(&self) -> listener::http::ConnLimits {
        let gw = self.0.gateway.load();
        let (l, lim) = (&gw.config.listen, gw.config.limits);
        listener::http::ConnLimits {
            shutdown_grace: l.shutdown_grace,
            handshake_timeout: l.handshake_timeout,
            header_read_timeout: l.header_read_timeout,
            max_header_count: lim.max_header_count,
            max_header_bytes: lim.max_header_bytes,
            idle_timeout: l.idle_timeout,
            max_connections: l.max_connections,
            max_connections_per_ip: l.max_connections_per_ip,
            extended_connect: gw.websocket,
        }
    }

    fn exempt(&self, ip: std::net::IpAddr) -> bool {
        self.0.gateway.load().peer_trusted(ip)
    }

    fn handle(
        self,
        conn: Arc<crate::conn::ConnInfo>,
        req: http::Request<hyper::body::Incoming>,
    ) -> impl std::future::Future<
        Output = Result<http::Response<crate::body::AccountedBody>, std::convert::Infallible>,
    > + Send
           + 'static {
        // Boxed once here: the pipeline's state machine is kilobytes, and
        // hyper and the listener move the future several times per request
        // (each a memcpy of all of it); moving the box moves a pointer.
        Box::pin(crate::pipeline::handle(self.0, conn, req))
    }
}

/// A started gateway: its bound addresses and the handle to stop it.
pub struct Running {
    pub main_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub state: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    main_task: JoinHandle<()>,
    admin_task: JoinHandle<()>,
    workers: Option<Arc<listener::workers::Workers>>,
}

/// Everything a configuration needs before it can serve: dev files, TLS, the gateway.
fn prepare(
    config: Config,
    keys: &crate::authn::jwt::KeyRegistry,
    stores: &crate::store::StoreRegistry,
    metrics: &Metrics,
) -> Result<(Gateway, rustls::ServerConfig), String> {
    let generated = tls::ensure_dev_cert(&config.listen.tls)
        .map_err(|e| format!("listen.tls.dev_self_signed: {e}"))?;
    if generated {
        tracing::warn!(
            cert = %config.listen.tls.cert.display(),
            "generated a self-signed development certificate; clients will not trust it (use curl -k or --cacert)"
        );
    }
    let server = tls::server_config(&config.listen.tls).map_err(|e| format!("listen.tls: {e}"))?;
    Ok((Gateway::build(config, keys, stores, metrics)?, server))
}

pub async fn start(config: Config) -> Result<Running, String> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if !crate::net::install_outbound(&config.outbound_key_exchange) {
        tracing::warn!(
            "a TLS provider was installed already in this process; outbound connections use its key exchange groups, not outbound.tls.key_exchange"
        );
    }
    let config_path = config.source.clone();
    let (main_at, admin_at) = (config.listen.address, config.admin.address);
    let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
    let keys = crate::authn::jwt::KeyRegistry::default();
    let stores = crate::store::StoreRegistry::default();
    let (gateway, server) = prepare(config, &keys, &stores, &metrics)?;
    log_authenticators(&gateway);
    metrics.config_reloads.with_label_values(&["success"]).inc();
    // Create the failure series at 0 so increase() sees the first failure.
    metrics.config_reloads.with_label_values(&["failure"]);
    metrics.config_last_reload_success.set(unix_now());
    log_routes(&gateway);
    let tracer = match &gateway.config.tracing {
        Some(t) => Some(crate::otel::Tracer::start(
            t,
            metrics.traced_requests.clone(),
            metrics.tls_handshakes.clone(),
        )?),
        None => None,
    };
    let state = Arc::new(Shared {
        gateway: ArcSwap::from_pointee(gateway),
        tls: Arc::new(ArcSwap::from_pointee(server)),
        metrics,
        keys,
        stores,
        blocked: moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(3600))
            .build(),
        config_path,
        reloads: watch::Sender::new(0),
        tracer,
    });
    state
        .metrics
        .ready
        .set(i64::from(crate::admin::not_ready(&state).is_empty()));
    let reuse = state.gateway.load().config.listen.reuse_port;
    let main = listener::bind(main_at, "listen.address", reuse)?;
    let admin = listener::bind(admin_at, "admin.address", reuse)?;
    let main_addr = main.local_addr().map_err(|e| e.to_string())?;
    let admin_addr = admin.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(listener = "main", address = %main_addr, protocols = "h2,http/1.1 over TLS", "listening");
    tracing::info!(listener = "admin", address = %admin_addr, protocols = "http/1.1", "listening");

    let workers = match state.gateway.load().config.listen.workers {
        0 => None,
        n => Some(Arc::new(listener::workers::Workers::start(n).map_err(
            |e| format!("listen.workers: cannot start {n} serving threads: {e}"),
        )?)),
    };
    tracing::info!(
        workers = workers.as_ref().map_or(0, |w| w.len()),
        "serving threads"
    );
    let (shutdown, rx) = watch::channel(false);
    let main_task = tokio::spawn(listener::serve(
        main,
        state.tls.clone(),
        state.metrics.clone(),
        Pipeline(state.clone()),
        rx.clone(),
        workers.clone(),
    ));
    let admin_task = tokio::spawn(crate::admin::serve(admin, state.clone(), rx.clone()));
    tokio::spawn(watch_files(state.clone(), rx));
    Ok(Running {
        main_addr,
        admin_addr,
        state,
        shutdown,
        main_task,
        admin_task,
        workers,
    })
}

fn log_routes(gw: &Gateway) {
    for r in gw.routes.iter() {
        let c = &r.config;
        tracing::info!(
            route = %r.name,
            host = %crate::logfmt::opt(c.host.as_ref()),
            path_prefix = %c.path_prefix,
            methods = %crate::logfmt::list(&c.methods),
            upstream = %c.upstream,
            auth = %c.auth,
            "route"
        );
    }
}

fn log_authenticators(gw: &Gateway) {
    for a in gw.authenticators.values() {
        a.log_settings();
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Re-reads the configuration file and swaps it in; on any error the running
/// configuration stays and every problem is logged and counted.
pub fn reload(s: &Shared) -> Result<(), String> {
    let outcome = settings::load(&s.config_path)
        .map_err(|e| e.to_string())
        .and_then(|mut cfg| {
            let old = s.gateway.load();
            if cfg.listen.address != old.config.listen.address
                || cfg.admin.address != old.config.admin.address
                || cfg.listen.reuse_port != old.config.listen.reuse_port
                || cfg.listen.workers != old.config.listen.workers
            {
                tracing::warn!(
                    "listener addresses, listen.reuse_port or listen.workers changed in the file; they take effect only after a restart"
                );
            }
            // The upstream pools are sized for the threads that run.
            cfg.listen.workers = old.config.listen.workers;
            let offered = |c: &Config| -> Vec<rustls::NamedGroup> {
                c.outbound_key_exchange.iter().map(|g| g.name()).collect()
            };
            if offered(&cfg) != offered(&old.config) {
                tracing::warn!(
                    "outbound.tls.key_exchange changed in the file; it takes effect only after a restart"
                );
            }
            if cfg.tracing != old.config.tracing {
                tracing::warn!("[tracing] changed in the file; it takes effect only after a restart");
            }
            prepare(cfg, &s.keys, &s.stores, &s.metrics)
        });
    let result = match outcome {
        Ok((gateway, server)) => {
            s.tls.store(Arc::new(server));
            s.gateway.store(Arc::new(gateway));
            s.metrics
                .config_reloads
                .with_label_values(&["success"])
                .inc();
            s.metrics.config_last_reload_success.set(unix_now());
            tracing::info!(config = %s.config_path.display(), "configuration reloaded");
            Ok(())
        }
        Err(e) => {
            s.metrics
                .config_reloads
                .with_label_values(&["failure"])
                .inc();
            for line in e.lines() {
                tracing::error!(
                    problem = line,
                    "reload refused; keeping the running configuration"
                );
            }
            Err(e)
        }
    };
    s.reloads.send_modify(|n| *n += 1);
    result
}

type Stamp = Vec<Option<(std::time::SystemTime, u64)>>;

fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Polls the watched files' modification times and reloads on a change.
/// Polling (not inotify) also sees editors' rename-into-place and mounted secrets.
async fn watch_files(state: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let cfg = state.gateway.load().config.clone();
    if !cfg.reload.watch {
        return;
    }
    let mut files = state.gateway.load().watched_files();
    let mut last = stamp(&files);
    let mut tick = tokio::time::interval(cfg.reload.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let now = stamp(&files);
        if now == last {
            continue;
        }
        tracing::info!("a watched configuration file changed; reloading");
        let st = state.clone();
        // Loading reads files and may generate keys: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || reload(&st)).await;
        files = state.gateway.load().watched_files();
        last = stamp(&files);
    }
}

impl Running {
    pub fn reload(&self) -> Result<(), String> {
        reload(&self.state)
    }

    /// Stops accepting, drains in-flight requests (bounded by `shutdown_grace`), and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.main_task.await;
        let _ = self.admin_task.await;
        if let Some(w) = self.workers {
            // After the drain (and the cut, when the grace ran out): what is
            // left on them (idle upstream connections, cut relays, lingering
            // drains) ends with them.
            let _ = tokio::task::spawn_blocking(move || w.stop()).await;
        }
        // The drained requests' spans go out before the process does.
        if let Some(t) = &self.state.tracer {
            t.shutdown().await;
        }
    }
}

/// `sealgate run`: returns the process exit code.
pub async fn run(path: &Path) -> u8 {
    let config = match settings::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("sealgate: refusing to start with an invalid configuration");
            return 2;
        }
    };
    crate::logging::init(&config.log);
    let running = match start(config).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "startup failed");
            eprintln!("sealgate: {e}");
            return 1;
        }
    };
    crate::systemd::started(running.state.clone(), running.shutdown.subscribe());
    wait_for_signals(&running).await;
    tracing::info!("shutting down");
    crate::systemd::stopping();
    running.shutdown().await;
    tracing::info!("stopped");
    0
}

#[cfg(unix)]
async fn wait_for_signals(running: &Running) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping on Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading configuration");
                crate::systemd::reloading();
                let outcome = running.reload();
                crate::systemd::reloaded(outcome.is_ok());
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_: &Running) {
    let _ = tokio::signal::ctrl_c().await;
}
