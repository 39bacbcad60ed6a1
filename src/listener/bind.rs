//! Binding a listening socket: the address reuse a restart needs, and
//! SO_REUSEPORT when the operator asks for it.

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Binds a listener. With `reuse_port` (SO_REUSEPORT, Linux and the BSDs),
/// a second `sealgate run` with the same addresses, as the same user, serves
/// beside this one, so a restart or an upgrade starts the new process first
/// and then stops the old one (SIGTERM: it stops accepting and drains)
/// without refusing a connection. Off by default: an accidental second
/// instance then fails with "address in use" instead of taking a share of
/// the traffic.
pub fn bind(addr: SocketAddr, what: &str, reuse_port: bool) -> Result<TcpListener, String> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    let bound = socket.and_then(|s| {
        #[cfg(unix)]
        {
            // As TcpListener::bind does: a restart may rebind at once.
            s.set_reuseaddr(true)?;
            s.set_reuseport(reuse_port)?;
        }
        #[cfg(not(unix))]
        let _ = reuse_port;
        s.bind(addr)?;
        s.listen(1024)
    });
    bound.map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))
}
