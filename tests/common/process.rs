//! The real `sealgate` binary as a child process, read through its JSON log.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;

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
