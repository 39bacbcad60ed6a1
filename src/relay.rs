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
                "Upgraded connections ended, by route and reason (closed, idle, lifetime, drain, error, upgrade_failed).",
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
    /// The route's maximum, from the switch.
    pub max_lifetime: Option<Duration>,
    /// The credential's expiry (Unix seconds).
    pub expires_at: Option<u64>,
}

impl Bounds {
    /// From now: the shorter of the maximum and the credential's remaining
    /// lifetime (`None`: until a side closes or goes idle).
    fn lifetime(&self) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let remaining = self
            .expires_at
            .map(|t| Duration::from_secs(t.saturating_sub(now)));
        match (self.max_lifetime, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
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
        let handover = async { tokio::try_join!(client, upstream) };
        let pair = tokio::select! {
            pair = handover => pair,
            _ = conn.held.cut() => return,
        };
        let (client, upstream) = match pair {
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
        let counts = Counts::counted(&metrics, &route);
        let limits = (bounds.idle, bounds.lifetime());
        let reason = tokio::select! {
            r = relay(&mut client, &mut upstream, limits, &counts) => r,
            _ = conn.held.cut() => "drain",
        };
        counts.report();
        let (up, down) = counts.get();
        gauge.dec();
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

/// Bytes read from the client and from the upstream, reported to the
/// metrics as the relay goes (a long socket's traffic shows before it ends).
#[derive(Default)]
struct Counts {
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    reported: [AtomicU64; 2],
    metrics: Option<[prometheus::IntCounter; 2]>,
}

impl Counts {
    fn counted(m: &RelayMetrics, route: &str) -> Counts {
        Counts {
            metrics: Some([
                m.bytes.with_label_values(&[route, "client_to_upstream"]),
                m.bytes.with_label_values(&[route, "upstream_to_client"]),
            ]),
            ..Counts::default()
        }
    }

    fn get(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }

    /// Adds what was relayed since the last report to the metrics.
    fn report(&self) {
        let Some(counters) = &self.metrics else {
            return;
        };
        let (up, down) = self.get();
        for ((now, reported), counter) in [up, down].iter().zip(&self.reported).zip(counters) {
            let before = reported.swap(*now, Ordering::Relaxed);
            counter.inc_by(now.saturating_sub(before));
        }
    }
}

/// Copies both ways until done (counting into `counts`) within `(idle,
/// lifetime)`; returns why it ended.
async fn relay<A, B>(
    client: &mut A,
    upstream: &mut B,
    (idle, lifetime): (Duration, Option<Duration>),
    counts: &Counts,
) -> &'static str
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut client = Metered::new(client, counts.up.clone());
    let mut upstream = Metered::new(upstream, counts.down.clone());
    // An end too far to represent (a token expiring in the year 3000) is none.
    let end = lifetime.and_then(|l| Instant::now().checked_add(l));
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    // Idleness is sampled a few times per timeout rather than tracked per
    // read: a connection is closed between 1x and 1.25x the idle timeout.
    let tick = (idle / 4).max(Duration::from_millis(10));
    let mut last = (0, 0);
    let mut quiet_since = Instant::now();
    loop {
        tokio::select! {
            r = &mut copy => return if r.is_ok() { "closed" } else { "error" },
            _ = sleep_until(end) => return "lifetime",
            _ = tokio::time::sleep(tick) => {
                counts.report();
                let seen = counts.get();
                if seen != last {
                    last = seen;
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= idle {
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

    fn bounds(idle_ms: u64, life_ms: Option<u64>) -> (Duration, Option<Duration>) {
        (
            Duration::from_millis(idle_ms),
            life_ms.map(Duration::from_millis),
        )
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
    async fn a_token_expiring_too_far_ahead_bounds_nothing() {
        let far = Bounds {
            idle: Duration::from_millis(1000),
            max_lifetime: None,
            expires_at: Some(u64::MAX),
        };
        let (mut client, _c) = tokio::io::duplex(64);
        let (mut upstream, _u) = tokio::io::duplex(64);
        let reason = relay(
            &mut client,
            &mut upstream,
            (far.idle, far.lifetime()),
            &Counts::default(),
        )
        .await;
        assert_eq!(reason, "idle");
        let soon = Bounds {
            max_lifetime: Some(Duration::from_secs(60)),
            expires_at: Some(0),
            ..far
        };
        assert_eq!(
            soon.lifetime(),
            Some(Duration::ZERO),
            "an expired token ends it at once"
        );
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
