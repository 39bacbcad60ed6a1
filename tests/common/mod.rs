//! Test harness: a throwaway PKI, a recording upstream, an in-process gateway on
//! ephemeral ports, the real binary, and TLS clients that trust the test CA.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// A test CA and the certificates it signs, written under one temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    pub ca_pem: String,
}

/// Makes aws-lc-rs the process default so plain clients (admin, http) work too.
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl Pki {
    pub fn new() -> Pki {
        install_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "sealgate test CA");
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let ca_pem = ca_cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        let pki = Pki {
            dir,
            ca_cert,
            ca_key,
            ca_pem,
        };
        pki.server_cert("gateway", &["localhost"]);
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `<stem>.crt` and `<stem>.key` for `names`; returns the certificate DER.
    pub fn server_cert(&self, stem: &str, names: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        std::fs::write(self.path(&format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{stem}.key")), key.serialize_pem()).unwrap();
        cert.der().to_vec()
    }

    /// A client certificate signed by the CA: (chain, key) ready for rustls.
    pub fn client_identity(
        &self,
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        (vec![cert.der().clone()], der)
    }

    /// A rustls client config trusting the test CA, offering `alpn`.
    pub fn client_tls(&self, alpn: &[&[u8]], identity: bool) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_cert.der().clone()).unwrap();
        let b = rustls::ClientConfig::builder_with_provider(sealgate::net::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut cfg = if identity {
            let (chain, key) = self.client_identity();
            b.with_client_auth_cert(chain, key).unwrap()
        } else {
            b.with_no_client_auth()
        };
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        cfg
    }

    /// An HTTP client for `https://localhost:<port>` that trusts the test CA.
    pub fn client(&self, addr: SocketAddr, http2: bool) -> reqwest::Client {
        let alpn: &[&[u8]] = if http2 { &[b"h2"] } else { &[b"http/1.1"] };
        let b = reqwest::Client::builder()
            .use_preconfigured_tls(self.client_tls(alpn, false))
            .resolve("localhost", addr)
            .no_proxy();
        let b = if http2 {
            b.http2_prior_knowledge()
        } else {
            b.http1_only()
        };
        b.build().unwrap()
    }

    /// The `[listen]`/`[admin]` tables for a gateway on ephemeral ports.
    pub fn base_config(&self) -> String {
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\ntls.cert = {:?}\ntls.key = {:?}\n\n[admin]\naddress = \"127.0.0.1:0\"\n\n",
            self.path("gateway.crt"),
            self.path("gateway.key")
        )
    }
}

/// What the test upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body_len: u64,
    pub body_chunks: u64,
    pub complete: bool,
}

/// An HTTP/1.1 + h2c upstream that records every request. Paths:
/// `/slow` waits for `release`; `/download/<n>` streams n bytes; `/trailers`
/// answers with trailers; anything else drains the body and answers 201.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub arrived: Arc<Notify>,
    pub release: Arc<Notify>,
}

static CHUNK: [u8; 65536] = [b'x'; 65536];

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Upstream {
            addr,
            seen: Arc::default(),
            arrived: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        };
        let (seen, arrived, release) = (up.seen.clone(), up.arrived.clone(), up.release.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, arrived, release) = (seen.clone(), arrived.clone(), release.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        answer(req, seen.clone(), arrived.clone(), release.clone())
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
                });
            }
        });
        up
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.requests()
            .pop()
            .expect("the upstream received no request")
    }
}

async fn answer(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    release: Arc<Notify>,
) -> Result<Response<BoxBody<Bytes, BoxErr>>, BoxErr> {
    let (parts, mut body) = req.into_parts();
    let mut record = Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        version: parts.version,
        headers: parts.headers.clone(),
        body_len: 0,
        body_chunks: 0,
        complete: false,
    };
    let path = parts.uri.path().to_string();
    if path == "/slow" {
        arrived.notify_one();
        release.notified().await;
    }
    loop {
        match body.frame().await {
            None => {
                record.complete = true;
                break;
            }
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    record.body_len += d.len() as u64;
                    record.body_chunks += 1;
                }
            }
            Some(Err(_)) => break,
        }
    }
    seen.lock().unwrap().push(record);
    if let Some(n) = path.strip_prefix("/download/") {
        let mut left: usize = n.parse().unwrap();
        let chunks = std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let take = left.min(CHUNK.len());
            left -= take;
            Some(Ok::<_, BoxErr>(Frame::data(Bytes::from_static(
                &CHUNK[..take],
            ))))
        });
        return Ok(Response::new(BoxBody::new(StreamBody::new(
            futures_util::stream::iter(chunks),
        ))));
    }
    if path == "/trailers" {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc123".parse().unwrap());
        let frames = vec![
            Ok::<_, BoxErr>(Frame::data(Bytes::from_static(b"payload"))),
            Ok(Frame::trailers(trailers)),
        ];
        return Ok(Response::new(BoxBody::new(StreamBody::new(
            futures_util::stream::iter(frames),
        ))));
    }
    let mut resp = Response::new(
        Full::new(Bytes::from_static(b"ok"))
            .map_err(|e| match e {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::CREATED;
    resp.headers_mut()
        .insert("x-upstream", "yes".parse().unwrap());
    resp.headers_mut()
        .insert("connection", "x-upstream-hop".parse().unwrap());
    resp.headers_mut()
        .insert("x-upstream-hop", "1".parse().unwrap());
    Ok(resp)
}

/// Writes `toml` to a temp file, loads and starts the gateway in this process.
pub async fn start_gateway(toml: &str) -> (sealgate::app::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, toml).unwrap();
    let cfg =
        sealgate::settings::load(&path).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    let running = sealgate::app::start(cfg).await.unwrap();
    (running, dir)
}

/// Waits (at most 20 s) until the gateway's state store has connected; Redis connects
/// in the background, so readiness right after start-up is legitimately 503.
pub async fn store_connected(gw: &sealgate::app::Running) {
    let store = gw.state.gateway.load().store.clone();
    tokio::time::timeout(std::time::Duration::from_secs(20), store.connected())
        .await
        .expect("the state store did not connect within 20 s");
}

/// The real `sealgate` binary, with its stdout lines and bound addresses.
pub struct Process {
    pub child: std::process::Child,
    pub main_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub lines: std::sync::mpsc::Receiver<String>,
    /// Every JSON log line read so far.
    pub seen: Vec<serde_json::Value>,
}

impl Process {
    pub fn spawn(config: &Path) -> Process {
        Process::spawn_with(
            std::process::Command::new(env!("CARGO_BIN_EXE_sealgate")),
            config,
        )
    }

    /// Spawns `cmd` (the binary, with any environment set) as `run --config <config>`.
    pub fn spawn_with(mut cmd: std::process::Command, config: &Path) -> Process {
        let mut child = cmd
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut p = Process {
            child,
            main_addr: "0.0.0.0:0".parse().unwrap(),
            admin_addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            seen: Vec::new(),
        };
        for _ in 0..2 {
            let v = p.wait_for(|v| v["message"] == "listening");
            let addr: SocketAddr = v["address"].as_str().unwrap().parse().unwrap();
            match v["listener"].as_str() {
                Some("main") => p.main_addr = addr,
                _ => p.admin_addr = addr,
            }
        }
        p
    }

    /// Blocks until a JSON log line satisfies `pred` (fails after 20 s of silence).
    pub fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(20))
                .expect("the gateway process went quiet or exited");
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                self.seen.push(v.clone());
                if pred(&v) {
                    return v;
                }
            }
        }
    }

    /// Blocks until the process logs that its state store connected.
    pub fn wait_store_connected(&mut self) {
        let connected = |v: &serde_json::Value| v["message"] == "connected to the state store";
        if !self.seen.iter().any(connected) {
            self.wait_for(connected);
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Peak resident set size of the process, from /proc.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private `redis-server` on an ephemeral port, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
    /// (certificate, key) when the server speaks only TLS on `port`.
    tls: Option<(PathBuf, PathBuf)>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::launch(None)
    }

    /// A TLS-only server (no plaintext port) presenting `cert`/`key`.
    pub fn start_tls(cert: &Path, key: &Path) -> RedisServer {
        RedisServer::launch(Some((cert.to_path_buf(), key.to_path_buf())))
    }

    fn launch(tls: Option<(PathBuf, PathBuf)>) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = RedisServer {
            port,
            child: None,
            tls,
        };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on the same port and waits until it answers PING
    /// (a TLS server: until it accepts connections).
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let mut cmd = std::process::Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => {
                cmd.args(["--port", &port]);
            }
            Some((cert, key)) => {
                cmd.args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key);
            }
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed (./scripts/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..500 {
            if self.tls.is_some() && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GETs the admin listener's `/metrics` text.
pub async fn scrape_metrics(admin: SocketAddr) -> String {
    reqwest::Client::new()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A private three-master Redis Cluster on ephemeral ports, killed on drop.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        // Each node also listens on port + 10000 (the cluster bus).
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let p = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
                ports.push(p);
            }
        }
        let mut children = Vec::new();
        for p in &ports {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &p.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .args(["--cluster-node-timeout", "5000", "--cluster-config-file"])
                .arg(dir.path().join(format!("nodes-{p}.conf")))
                .arg("--dir")
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is needed (./scripts/test.sh installs it)");
            children.push(child);
        }
        let cluster = RedisCluster {
            ports,
            children,
            _dir: dir,
        };
        let cli = |args: &[String]| {
            std::process::Command::new("redis-cli")
                .args(args)
                .output()
                .expect("redis-cli is needed (it comes with redis-server)")
        };
        for p in &cluster.ports {
            let ping = || cli(&["-p".into(), p.to_string(), "PING".into()]).stdout;
            let mut up = false;
            for _ in 0..500 {
                if ping().starts_with(b"PONG") {
                    up = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(up, "redis cluster node {p} did not start");
        }
        let mut create: Vec<String> = vec!["--cluster".into(), "create".into()];
        create.extend(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")));
        create.extend([
            "--cluster-replicas".into(),
            "0".into(),
            "--cluster-yes".into(),
        ]);
        let out = cli(&create);
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for p in &cluster.ports {
            let mut ok = false;
            for _ in 0..1000 {
                let info =
                    cli(&["-p".into(), p.to_string(), "CLUSTER".into(), "INFO".into()]).stdout;
                if String::from_utf8_lossy(&info).contains("cluster_state:ok") {
                    ok = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(ok, "redis cluster node {p} never reached cluster_state:ok");
        }
        cluster
    }

    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
