//! Which serving thread runs the current code. Per-core workers (see
//! `listener::workers`) number themselves 1..=N when they start; every other
//! thread is 0. Per-worker resources, the upstream connection pools first, are
//! indexed by it, so a worker never shares them with another thread: no lock
//! contention and no cross-thread wake-up to use them.

use std::cell::Cell;

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// This thread's worker number: 1..=N on a serving worker, 0 elsewhere.
pub fn index() -> usize {
    INDEX.with(Cell::get)
}

/// Marks the calling thread as worker `n` (1-based); called once, at its start.
pub(crate) fn set_index(n: usize) {
    INDEX.with(|c| c.set(n));
}

/// Picks the slot of `slots` that belongs to this thread (0 on non-workers);
/// a worker numbered beyond `slots` (the count changed on a reload, which
/// only a restart applies) shares by modulo.
pub fn slot(slots: usize) -> usize {
    index() % slots.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_numbered_independently() {
        assert_eq!(index(), 0);
        let seen = std::thread::spawn(|| {
            set_index(3);
            (index(), slot(3), slot(2), slot(0))
        })
        .join()
        .ok();
        assert_eq!(seen, Some((3, 0, 1, 0)));
        assert_eq!(index(), 0, "another thread's number does not leak");
    }
}
