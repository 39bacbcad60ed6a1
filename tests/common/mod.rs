//! Test harness, split by concern and re-exported here so tests name everything
//! as `common::X`:
//!
//! - [`config`]: the one way tests write a gateway.toml ([`Config`], [`Route`]);
//! - [`pki`]: a throwaway CA, server and client certificates, TLS clients;
//! - [`upstream`]: a recording HTTP/1.1 + h2c upstream;
//! - [`gateway`]: the gateway in this process on ephemeral ports, metrics;
//! - [`idp`]: an Ed25519 identity provider minting JWTs;
//! - [`process`]: the real binary as a child process;
//! - [`python`]: the independent (Python) implementations in tests/fixtures;
//! - [`redis_server`]: private `redis-server` processes (single and cluster);
//! - [`sealed`]: an Oblivious HTTP client (the `ohttp` crate).
//!
//! Each test binary uses only part of this, hence `dead_code` is allowed and
//! the re-exports may go unused.
#![allow(dead_code)]

pub mod config;
pub mod gateway;
pub mod idp;
pub mod pki;
pub mod process;
pub mod python;
pub mod redis_server;
pub mod sealed;
pub mod upstream;

// Each test binary uses a different part of these.
#[allow(unused_imports)]
pub use config::{
    array, boolean, file, inline, list, n, path, s, toml_str, Config, Route, TomlValue,
};
#[allow(unused_imports)]
pub use gateway::{raw, scrape_metrics, start_gateway, store_connected};
#[allow(unused_imports)]
pub use pki::{install_provider, Pki};
#[allow(unused_imports)]
pub use process::Process;
#[allow(unused_imports)]
pub use python::python_job;
#[allow(unused_imports)]
pub use redis_server::{RedisCluster, RedisServer};
#[allow(unused_imports)]
pub use upstream::{read_request_path, Seen, Upstream};

pub type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// A free port on 127.0.0.1 (bound and released), for a peer or a second
/// process that must know the port before it binds.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
