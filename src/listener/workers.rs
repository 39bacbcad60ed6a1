//! Per-core serving, the nginx worker model: `listen.workers` threads, each
//! running its own current-thread runtime. The accept loop hands every new
//! connection to the least-busy worker, which then runs its TLS, its HTTP and
//! its upstream exchanges (on the worker's own upstream pool) to the end: no
//! work stealing, and no cross-thread wake-up per request. With
//! `listen.workers = 0` connections are served on the shared runtime instead.

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

/// A connection's place in its worker's load; given back when dropped. It
/// travels with the connection's other guards, so an upgraded connection
/// (relayed after hyper lets go of it) still counts.
pub struct Load(Arc<AtomicUsize>);

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
            let (handle, thread) = match worker(number, stop.subscribe()) {
                Ok(started) => started,
                Err(e) => {
                    // Those already started end with the error.
                    let _ = stop.send(true);
                    return Err(e);
                }
            };
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

    /// Runs one connection on the worker serving the fewest connections
    /// (ties go round-robin, so equal loads alternate); `connection` gets
    /// the connection's [`Load`] to hold for as long as it lives.
    pub fn spawn<C, F>(&self, connection: C)
    where
        C: FnOnce(Load) -> F + Send + 'static,
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
        worker.handle.spawn(async move { connection(load).await });
    }

    /// Connections each worker serves now, in worker order (for the tests).
    #[cfg(test)]
    fn loads(&self) -> Vec<usize> {
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

/// One worker thread: its runtime is built (and, at the end, dropped) on
/// the thread itself, so a failure to start leaves nothing to clean up on
/// the caller's runtime. Returns once the runtime runs.
fn worker(
    number: usize,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<(tokio::runtime::Handle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name(format!("sealgate-worker-{number}"))
        .spawn(move || {
            crate::worker::set_index(number);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(rt.handle().clone()));
            // The runtime runs its connections while this waits.
            rt.block_on(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
        })?;
    match rx.recv() {
        Ok(Ok(handle)) => Ok((handle, thread)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("the worker thread ended at start")),
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
            workers.spawn(move |load| async move {
                let _ = tx.send(crate::worker::index());
                let _ = held.await;
                drop(load);
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
