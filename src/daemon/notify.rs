//! systemd readiness protocol (`Type=notify`): READY once the table is
//! programmed, RELOADING/READY around reloads, STOPPING before cleanup,
//! STATUS lines an operator sees in `systemctl status`, and the watchdog.
//! Without `NOTIFY_SOCKET` (not under systemd) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

/// Tells systemd the daemon is ready (the first apply is done).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload begins; systemd wants the monotonic time with it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown begins (cleanup may take a moment).
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// Keep-alive for `WatchdogSec=`.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// Half the watchdog period systemd set, if it set one: how often to ping.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        // Losing a status line must never stop the director.
        debug!(error = %e, "sd_notify failed");
    }
}
