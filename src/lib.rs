//! sealgate: a TLS-terminating reverse proxy that authenticates every request,
//! strips credentials and forwards verified identity. See DESIGN.md for the
//! request path; each module below owns one phase or one concern.
#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod admin_api;
pub mod admin_keys;
pub mod admin_revocations;
pub mod admission;
pub mod app;
pub mod authn;
pub mod authz;
pub mod body;
pub mod challenge;
pub mod cli;
pub mod config;
pub mod conn;
pub mod digest;
pub mod envelope;
pub mod error;
pub mod forwarding;
pub mod fsutil;
pub mod gateway;
pub mod grpc;
pub mod handshakes;
pub mod identity;
pub mod issuer;
pub mod jose;
pub mod keygen;
pub mod kx;
pub mod linger;
pub mod listener;
pub mod logfmt;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod otel;
pub mod pipeline;
pub mod problem;
pub mod relay;
pub mod request_id;
pub mod route;
pub mod settings;
pub mod state;
pub mod store;
pub mod systemd;
pub mod tracecontext;
pub mod upstream;
pub mod worker;
