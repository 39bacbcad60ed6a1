//! systemd `Type=notify`: READY=1 once the listeners are bound and `/readyz`
//! would answer 200 (with STATUS= naming what it still waits for), or after
//! READY_WAIT at the latest (an identity provider down at boot must not make
//! systemd kill and restart a gateway whose other routes could serve),
//! RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 when the drain
//! begins, and WATCHDOG=1 every half `WatchdogSec` while the runtime runs.
//! Without `NOTIFY_SOCKET` (not under systemd) every call is a no-op.

use crate::state::Shared;
use sd_notify::NotifyState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often readiness is looked at before READY=1 (start-up only).
const READY_POLL: Duration = Duration::from_millis(100);
/// The longest READY=1 waits for readiness (the unit's TimeoutStartSec is 60 s).
const READY_WAIT: Duration = Duration::from_secs(30);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

fn under_systemd() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Sends READY=1 when nothing is left unready, and starts the watchdog.
pub fn started(state: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    if !under_systemd() {
        return;
    }
    if let Some(period) = sd_notify::watchdog_enabled().filter(|p| !p.is_zero()) {
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tokio::select! {
                    _ = tick.tick() => send(&[NotifyState::Watchdog]),
                    Ok(()) = stop.changed() => return,
                }
            }
        });
    }
    tokio::spawn(async move {
        let mut last = String::new();
        let deadline = tokio::time::Instant::now() + READY_WAIT;
        loop {
            let missing = crate::admin::not_ready(&state);
            if missing.is_empty() {
                send(&[NotifyState::Ready, NotifyState::Status("serving")]);
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let status = format!("serving; /readyz still 503: {}", missing.join("; "));
                send(&[NotifyState::Ready, NotifyState::Status(&status)]);
                return;
            }
            let status = format!("waiting for: {}", missing.join("; "));
            if status != last {
                send(&[NotifyState::Status(&status)]);
                last = status;
            }
            tokio::select! {
                _ = tokio::time::sleep(READY_POLL) => {}
                Ok(()) = shutdown.changed() => return,
            }
        }
    });
}

/// A SIGHUP reload begins.
pub fn reloading() {
    if under_systemd() {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }
}

/// The reload ended (applied or refused: either way the gateway serves).
pub fn reloaded(ok: bool) {
    if under_systemd() {
        let status = if ok {
            "serving (reloaded)"
        } else {
            "serving (reload refused; see the log)"
        };
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }
}

/// The drain begins.
pub fn stopping() {
    if under_systemd() {
        send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
    }
}
