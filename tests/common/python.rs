//! The independent implementations the interop tests call: Python scripts in
//! `tests/fixtures`, run with the test Python (`target/pyenv`, set up by
//! `scripts/test.sh`): one JSON job on stdin and JSON on stdout
//! ([`python_job`]), or a long-running [`Peer`] speaking JSON lines.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub fn python() -> String {
    std::env::var("SEALGATE_TEST_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python").to_string()
    })
}

/// Runs `script` (relative to the crate) on `job`; panics if it fails.
pub fn python_job(script: &str, job: &Value) -> Value {
    let path = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python())
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the test Python (target/pyenv, set up by scripts/test.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed on {job}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A long-running fixture (a server, a receiver, a scripted client): JSON
/// lines on its stdout, commands (if any) on its stdin. Dropping it closes
/// stdin, kills and reaps the process.
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts `script` (relative to the crate) with `args`; `needs` names
    /// what the test Python must have, for the message when it cannot start.
    pub fn start(script: &str, args: &[&str], needs: &str) -> Peer {
        let path = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("the test Python with {needs} (scripts/test.sh): {e}"));
        Peer {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    /// The next line it printed, as JSON; panics with the text otherwise
    /// (end of output included).
    pub fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("the peer printed {line:?}"))
    }

    /// Its first line's `port`: what a serving fixture prints once listening.
    pub fn port(&mut self) -> u16 {
        let v = self.line();
        v["port"]
            .as_u64()
            .unwrap_or_else(|| panic!("the peer printed {v} instead of its port")) as u16
    }

    /// One command, as a JSON line on its stdin.
    pub fn send(&mut self, cmd: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes its stdin: the end of input a fixture may wait for.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.close_stdin();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
