//! Downstream listeners: TLS setup (`tls`) and the accept loop serving HTTP/1.1
//! and HTTP/2 by ALPN (`http`).

pub mod http;
pub mod tls;

pub use self::http::serve;
