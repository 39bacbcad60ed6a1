//! Per-core serving, the nginx worker model: `listen.workers` threads, each
//! running its own current-thread runtime. The accept loop hands every new
//! connection to the least-busy worker, which then runs its TLS, its HTTP and
//! its upstream exchanges (on the worker's own upstream pool) to the end: no
//! work stealing, and no cross-thread wake-up per request. With
//! `listen.workers = 0` connections are served on the shared runtime instead.

use futures_util::FutureExt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The running workers; `stop` ends them once the listener has drained.
pub struct Workers {
    workers: Vec<Worker>,
    next: AtomicUsize,
    stop: watch::Sender<bool>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

struct Worker {
    handle: tokio::runtime::Handle,
    /// Connections this worker serves now.
    load: Arc<AtomicUsize>,
}

/// Gives a worker's connection back when its task ends (or is dropped).
struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Workers {
    /// Starts `n` (at least 1) worker threads, numbered 1..=n (`crate::worker::index`).
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let (stop, _) = watch::channel(false);
        let mut workers = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for number in 1..=n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = rt.handle().clone();
            let mut stopped = stop.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("sealgate-worker-{number}"))
                .spawn(move || {
                    crate::worker::set_index(number);
                    // The runtime runs its connections while this waits;
                    // dropping it afterwards ends whatever is left.
                    rt.block_on(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    });
                })?;
            workers.push(Worker {
                handle,
                load: Arc::new(AtomicUsize::new(0)),
            });
            threads.push(thread);
        }
        Ok(Workers {
            workers,
            next: AtomicUsize::new(0),
            stop,
            threads: Mutex::new(threads),
        })
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs one connection's future on the worker serving the fewest
    /// connections (ties go round-robin, so equal loads alternate).
    pub fn spawn<F>(&self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let n = self.workers.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(worker) = (0..n)
            .map(|i| &self.workers[(first + i) % n])
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
        else {
            return;
        };
        worker.load.fetch_add(1, Ordering::Relaxed);
        let load = Load(worker.load.clone());
        // `map`, not an async block: a block would hold the future twice
        // (its capture and its awaitee), doubling each connection's task.
        worker.handle.spawn(connection.map(move |()| drop(load)));
    }

    /// Connections each worker serves now, in worker order.
    pub fn loads(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.load.load(Ordering::Relaxed))
            .collect()
    }

    /// Ends the workers and waits for their threads (blocking: call it off
    /// the runtime, e.g. in `spawn_blocking`). Connections still open are
    /// dropped, so stop only after the listener's drain.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_to_the_least_busy_worker_on_its_own_thread() {
        let workers = match Workers::start(2) {
            Ok(w) => w,
            Err(e) => panic!("workers: {e}"),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let mut releases = Vec::new();
        for _ in 0..4 {
            let (release, held) = tokio::sync::oneshot::channel::<()>();
            releases.push(release);
            let tx = tx.clone();
            workers.spawn(async move {
                let _ = tx.send(crate::worker::index());
                let _ = held.await;
            });
        }
        let mut seen: Vec<usize> = (0..4).filter_map(|_| rx.recv().ok()).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 1, 2, 2], "two each, on workers 1 and 2");
        assert_eq!(workers.loads(), vec![2, 2]);
        drop(releases);
        workers.stop();
        assert_eq!(
            workers.loads(),
            vec![0, 0],
            "finished connections give their load back"
        );
    }
}
