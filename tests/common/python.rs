//! The independent implementations the interop tests call: Python scripts in
//! `tests/fixtures`, run with the test Python (`target/pyenv`, set up by
//! `scripts/test.sh`), one JSON job on stdin, JSON on stdout.

use serde_json::Value;
use std::process::{Command, Stdio};

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
    use std::io::Write;
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
