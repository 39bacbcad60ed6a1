//! Downstream listeners: TLS setup (`tls`), the accept loop serving HTTP/1.1
//! and HTTP/2 by ALPN (`http`), connection limits and idleness (`admit`), and
//! the per-core serving threads connections are handed to (`workers`).

pub mod admit;
mod bind;
pub mod certs;
pub mod ciphers;
pub mod http;
pub mod ocsp;
pub mod settings;
pub mod tls;
pub mod workers;

pub use self::bind::bind;
pub use self::http::serve;
