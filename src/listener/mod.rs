//! Downstream listeners: TLS setup (`tls`), the accept loop serving HTTP/1.1
//! and HTTP/2 by ALPN (`http`), and connection limits and idleness (`admit`).

pub mod admit;
pub mod certs;
pub mod ciphers;
pub mod http;
pub mod ocsp;
pub mod settings;
pub mod tls;

pub use self::http::serve;
