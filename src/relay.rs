//! Upgraded connections (WebSocket and the route's other `upgrades`): once
//! the upstream has answered 101, the bytes are relayed both ways until one
//! side closes, neither side sends anything for the idle timeout, or the
//! lifetime ends (the configured maximum, or the credential's expiry: an
//! expired token does not keep a socket open). Counted per route.

use crate::conn::ConnInfo;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// `sealgate_upgraded_*`: open relays, bytes each way, and why relays ended.
#[derive(Clone)]
pub struct RelayMetrics {
    active: IntGaugeVec,
    bytes: IntCounterVec,
    closed: IntCounterVec,
}

impl RelayMetrics {
    pub fn register(r: &Registry) -> prometheus::Result<RelayMetrics> {
        let active = IntGaugeVec::new(
            Opts::new(
                "sealgate_upgraded_connections",
                "Upgraded (e.g. WebSocket) connections being relayed, by route.",
            ),
            &["route"],
        )?;
        let bytes = IntCounterVec::new(
            Opts::new(
                "sealgate_upgraded_bytes_total",
                "Bytes relayed over upgraded connections, by route and direction (client_to_upstream, upstream_to_client).",
            ),
            &["route", "direction"],
        )?;
        let closed = IntCounterVec::new(
            Opts::new(
                "sealgate_upgraded_closed_total",
                "Upgraded connections ended, by route and reason (closed, idle, lifetime, error, upgrade_failed).",
            ),
            &["route", "reason"],
        )?;
        r.register(Box::new(active.clone()))?;
        r.register(Box::new(bytes.clone()))?;
        r.register(Box::new(closed.clone()))?;
        Ok(RelayMetrics {
            active,
            bytes,
            closed,
        })
    }
}

/// How long one relay may run.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub idle: Duration,
    /// From the switch; `None`: until a side closes or goes idle.
    pub lifetime: Option<Duration>,
}

/// Relays the two upgraded connections in its own task. `conn` is held
/// until the relay ends: the client's connection keeps its admission slot
/// and keeps a graceful shutdown waiting (until its drain deadline).
pub fn spawn(
    client: OnUpgrade,
    upstream: OnUpgrade,
    route: Arc<str>,
    bounds: Bounds,
    metrics: RelayMetrics,
    conn: Arc<ConnInfo>,
) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(route = &*route, error = %e, "protocol switch did not complete");
                metrics
                    .closed
                    .with_label_values(&[&route, "upgrade_failed"])
                    .inc();
                return;
            }
        };
        let _in_use = conn.held.busy();
        let gauge = metrics.active.with_label_values(&[&route]);
        gauge.inc();
        let started = Instant::now();
        let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
        let counts = Counts::default();
        let reason = tokio::select! {
            r = relay(&mut client, &mut upstream, bounds, &counts) => r,
            _ = conn.held.cut() => "drain",
        };
        let (up, down) = counts.get();
        gauge.dec();
        metrics
            .bytes
            .with_label_values(&[&route, "client_to_upstream"])
            .inc_by(up);
        metrics
            .bytes
            .with_label_values(&[&route, "upstream_to_client"])
            .inc_by(down);
        metrics.closed.with_label_values(&[&route, reason]).inc();
        tracing::debug!(
            route = &*route,
            reason,
            bytes_up = up,
            bytes_down = down,
            seconds = started.elapsed().as_secs(),
            "upgraded connection ended"
        );
        if reason != "closed" {
            close(&mut client, &mut upstream).await;
        }
        drop(conn);
    });
}

/// A clean end for both peers where it can be had quickly (TLS
/// close_notify, FIN); the sockets go when the caller drops them.
async fn close<A: AsyncWrite + Unpin, B: AsyncWrite + Unpin>(a: &mut A, b: &mut B) {
    use tokio::io::AsyncWriteExt;
    let both = async {
        let _ = tokio::join!(a.shutdown(), b.shutdown());
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), both).await;
}

/// Bytes read from the client and from the upstream.
#[derive(Default)]
struct Counts {
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Counts {
    fn get(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }
}

/// Copies both ways until done (counting into `counts`); returns why it ended.
async fn relay<A, B>(
    client: &mut A,
    upstream: &mut B,
    bounds: Bounds,
    counts: &Counts,
) -> &'static str
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut client = Metered::new(client, counts.up.clone());
    let mut upstream = Metered::new(upstream, counts.down.clone());
    let end = bounds.lifetime.map(|l| Instant::now() + l);
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    // Idleness is sampled a few times per timeout rather than tracked per
    // read: a connection is closed between 1x and 1.25x the idle timeout.
    let tick = (bounds.idle / 4).max(Duration::from_millis(10));
    let mut last = (0, 0);
    let mut quiet_since = Instant::now();
    loop {
        tokio::select! {
            r = &mut copy => return if r.is_ok() { "closed" } else { "error" },
            _ = sleep_until(end) => return "lifetime",
            _ = tokio::time::sleep(tick) => {
                let seen = counts.get();
                if seen != last {
                    last = seen;
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= bounds.idle {
                    return "idle";
                }
            }
        }
    }
}

async fn sleep_until(end: Option<Instant>) {
    match end {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Counts the bytes read from the wrapped side.
struct Metered<T> {
    inner: T,
    read: Arc<AtomicU64>,
}

impl<T> Metered<T> {
    fn new(inner: T, read: Arc<AtomicU64>) -> Self {
        Metered { inner, read }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn bounds(idle_ms: u64, life_ms: Option<u64>) -> Bounds {
        Bounds {
            idle: Duration::from_millis(idle_ms),
            lifetime: life_ms.map(Duration::from_millis),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_flow_both_ways_and_a_close_ends_the_relay() {
        let (client, mut far_client) = tokio::io::duplex(64);
        let (upstream, mut far_upstream) = tokio::io::duplex(64);
        let relay = tokio::spawn(async move {
            let (mut c, mut u) = (client, upstream);
            let counts = Counts::default();
            let reason = relay(&mut c, &mut u, bounds(60_000, None), &counts).await;
            (reason, counts.get())
        });
        far_client.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        far_upstream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        far_upstream.write_all(b"pong!").await.unwrap();
        let mut got = [0u8; 5];
        far_client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong!");
        drop(far_client);
        drop(far_upstream);
        assert_eq!(relay.await.unwrap(), ("closed", (4, 5)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_is_closed_after_the_idle_timeout() {
        let (mut client, _far_client) = tokio::io::duplex(64);
        let (mut upstream, _far_upstream) = tokio::io::duplex(64);
        let started = Instant::now();
        let counts = Counts::default();
        let reason = relay(&mut client, &mut upstream, bounds(1000, None), &counts).await;
        assert_eq!(reason, "idle");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1000) && took <= Duration::from_millis(1300),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn traffic_keeps_it_open_until_the_lifetime_ends() {
        let (client, mut far_client) = tokio::io::duplex(1 << 16);
        let (upstream, _far_upstream) = tokio::io::duplex(1 << 16);
        let started = Instant::now();
        let relay = tokio::spawn(async move {
            let (mut c, mut u) = (client, upstream);
            let counts = Counts::default();
            let reason = relay(&mut c, &mut u, bounds(1000, Some(5000)), &counts).await;
            (reason, counts.get())
        });
        // Busier than the idle timeout, for longer than the lifetime.
        tokio::spawn(async move {
            for _ in 0..20 {
                if far_client.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let (reason, (up, _)) = relay.await.unwrap();
        assert_eq!(reason, "lifetime");
        assert!(up >= 9, "{up}");
        assert_eq!(started.elapsed().as_millis() / 100, 50);
    }
}
