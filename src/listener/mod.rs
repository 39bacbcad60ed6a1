//! Downstream listeners: TLS setup (`tls`) and the accept loop serving HTTP/1.1
//! and HTTP/2 by ALPN (`http`).

pub mod certs;
pub mod http;
pub mod settings;
pub mod tls;

pub use self::http::serve;
