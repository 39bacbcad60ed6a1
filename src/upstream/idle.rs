//! One worker's idle keep-alive connections to one target: HTTP/1.1
//! connections ready for their next request (the most recently used is
//! taken first, as the likeliest to be alive), or the HTTP/2 connection all
//! requests share. `upstreams.*.idle_timeout` bounds how long one waits,
//! enforced by a reaper task that runs only while something is idle, and
//! `max_idle_per_target` how many HTTP/1.1 connections wait at once.
//!
//! The lock is the worker's own (uncontended unless `listen.workers = 0`)
//! and is never held across an await.

use crate::body::ReqBody;
use hyper::client::conn::{http1, http2};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
// tokio's clock, so tests can pause it; the std clock when they do not.
use tokio::time::Instant;

/// A year: longer idle timeouts mean "keep them".
const LONGEST_IDLE: Duration = Duration::from_secs(365 * 24 * 3600);

pub(super) struct Idle {
    state: Mutex<State>,
    timeout: Duration,
    max: usize,
    /// Held while an HTTP/2 connection is being opened, so concurrent
    /// requests wait for it instead of each opening their own.
    pub(super) opening_h2: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Ready HTTP/1.1 connections and since when each waits, newest last.
    h1: Vec<(Instant, http1::SendRequest<ReqBody>)>,
    /// The shared HTTP/2 connection and when a request last took it.
    h2: Option<(Instant, http2::SendRequest<ReqBody>)>,
    /// A reaper task is scheduled.
    reaping: bool,
}

impl Idle {
    pub(super) fn new(timeout: Duration, max: usize) -> Arc<Idle> {
        Arc::new(Idle {
            state: Mutex::default(),
            // Bounded so that deadlines (now + timeout) never overflow.
            timeout: timeout.min(LONGEST_IDLE),
            max,
            opening_h2: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding it leaves only a list of handles.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self, since: Instant, now: Instant) -> bool {
        now.saturating_duration_since(since) < self.timeout
    }

    /// The most recently used HTTP/1.1 connection still open and within its
    /// idle time; older and closed ones met on the way are dropped.
    pub(super) fn take_h1(&self) -> Option<http1::SendRequest<ReqBody>> {
        let now = Instant::now();
        let mut state = self.lock();
        while let Some((since, conn)) = state.h1.pop() {
            if !conn.is_closed() && self.fresh(since, now) {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps a ready HTTP/1.1 connection for the next request, unless the
    /// target already has `max_idle_per_target` waiting.
    pub(super) fn put_h1(self: &Arc<Self>, conn: http1::SendRequest<ReqBody>) {
        if conn.is_closed() {
            return;
        }
        let mut state = self.lock();
        if state.h1.len() >= self.max {
            // Closed ones (a restarted target) do not hold places.
            state.h1.retain(|(_, conn)| !conn.is_closed());
            if state.h1.len() >= self.max {
                return;
            }
        }
        state.h1.push((Instant::now(), conn));
        self.reap_later(&mut state);
    }

    /// The shared HTTP/2 connection, if it is still open.
    pub(super) fn h2(&self) -> Option<http2::SendRequest<ReqBody>> {
        let mut state = self.lock();
        match &mut state.h2 {
            Some((since, conn)) if !conn.is_closed() => {
                *since = Instant::now();
                Some(conn.clone())
            }
            _ => {
                state.h2 = None;
                None
            }
        }
    }

    /// Makes `conn` the connection later requests share.
    pub(super) fn put_h2(self: &Arc<Self>, conn: http2::SendRequest<ReqBody>) {
        let mut state = self.lock();
        state.h2 = Some((Instant::now(), conn));
        self.reap_later(&mut state);
    }

    fn reap_later(self: &Arc<Self>, state: &mut State) {
        if state.reaping {
            return;
        }
        // Outside a runtime (never while serving) expiry waits for the next take.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.reaping = true;
        runtime.spawn(reap(Arc::downgrade(self), Instant::now() + self.timeout));
    }

    /// Drops what has waited too long or closed; returns when the next
    /// connection expires, `None` (and no reaper any more) when none waits.
    fn expire(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.lock();
        state
            .h1
            .retain(|(since, conn)| !conn.is_closed() && self.fresh(*since, now));
        if matches!(&state.h2, Some((since, conn)) if conn.is_closed() || !self.fresh(*since, now))
        {
            state.h2 = None;
        }
        let oldest = state.h1.iter().map(|(since, _)| *since);
        let next = oldest
            .chain(state.h2.as_ref().map(|(since, _)| *since))
            .min()
            .map(|since| since + self.timeout);
        state.reaping = next.is_some();
        next
    }
}

/// Wakes when the oldest idle connection expires, until none is left or the
/// pool itself is gone (a reload replaced it).
async fn reap(idle: Weak<Idle>, mut next: Instant) {
    loop {
        tokio::time::sleep_until(next).await;
        let Some(idle) = idle.upgrade() else {
            return;
        };
        match idle.expire() {
            Some(at) => next = at,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::rt::TokioIo;

    /// A client connection to an in-memory HTTP/1.1 server, and the task
    /// driving the client's side.
    async fn connection() -> (http1::SendRequest<ReqBody>, tokio::task::JoinHandle<()>) {
        let (client, server) = tokio::io::duplex(4096);
        let answer = hyper::service::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<Bytes>::new()))
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), answer),
        );
        let (send, conn) = http1::handshake(TokioIo::new(client)).await.unwrap();
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        (send, driver)
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_are_capped_and_expire() {
        let idle = Idle::new(Duration::from_secs(5), 2);
        for _ in 0..3 {
            idle.put_h1(connection().await.0);
        }
        assert_eq!(idle.lock().h1.len(), 2, "max_idle_per_target");
        assert!(idle.lock().reaping);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(idle.lock().h1.len(), 2, "not yet expired");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(idle.lock().h1.is_empty(), "the reaper closed them");
        assert!(!idle.lock().reaping, "and stopped");
        assert!(idle.take_h1().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_past_its_idle_time_is_not_taken() {
        let idle = Idle::new(Duration::from_secs(5), 2);
        idle.put_h1(connection().await.0);
        // The reaper has not run yet; the take itself checks the age.
        idle.lock().h1[0].0 -= Duration::from_secs(6);
        assert!(idle.take_h1().is_none());
    }

    #[tokio::test]
    async fn a_closed_connection_is_not_taken() {
        let idle = Idle::new(Duration::from_secs(60), 2);
        let (send, driver) = connection().await;
        idle.put_h1(send);
        let (send, _driver) = connection().await;
        idle.put_h1(send);
        // The first connection's driver goes away; the second stays usable.
        driver.abort();
        let _ = driver.await;
        let mut taken = idle.take_h1().expect("the open one");
        assert!(taken.ready().await.is_ok());
        assert!(idle.take_h1().is_none(), "the closed one was dropped");
    }

    #[tokio::test]
    async fn closed_connections_give_their_places_to_open_ones() {
        let idle = Idle::new(Duration::from_secs(60), 1);
        let (send, driver) = connection().await;
        idle.put_h1(send);
        driver.abort();
        let _ = driver.await;
        idle.put_h1(connection().await.0);
        let mut taken = idle.take_h1().expect("the open one took the place");
        assert!(taken.ready().await.is_ok());
    }

    #[tokio::test]
    async fn an_idle_timeout_of_centuries_keeps_them_without_overflow() {
        let idle = Idle::new(Duration::from_secs(u64::MAX / 2), 1);
        idle.put_h1(connection().await.0);
        assert!(idle.expire().is_some());
        assert!(idle.take_h1().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn the_pool_going_away_ends_its_reaper() {
        let tasks = || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        };
        let idle = Idle::new(Duration::from_secs(5), 2);
        idle.put_h1(connection().await.0);
        assert_eq!(tasks(), 3, "the server, the client's driver, the reaper");
        drop(idle);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(tasks(), 0, "the reaper ended with its pool");
    }
}
