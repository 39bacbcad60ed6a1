//! Private `redis-server` processes: a single server (plain or TLS) and a
//! three-master cluster, each on ephemeral ports and killed on drop.

use std::path::{Path, PathBuf};

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

/// Every key of the server at `url` with its value (strings, and sets'
/// members joined by spaces): what a leak check reads.
pub fn keyspace(url: &str) -> Vec<(String, String)> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.into_iter()
        .map(|k| {
            let kind: String = redis::cmd("TYPE").arg(&k).query(&mut conn).unwrap();
            let dump = match kind.as_str() {
                "string" => redis::cmd("GET")
                    .arg(&k)
                    .query::<String>(&mut conn)
                    .unwrap(),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&k)
                    .query::<Vec<String>>(&mut conn)
                    .unwrap()
                    .join(" "),
                _ => String::new(),
            };
            (k, dump)
        })
        .collect()
}
