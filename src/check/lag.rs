//! How far behind lvsd itself is, so that a probe's timeout means the real
//! was slow, not lvsd.
//!
//! On a busy host lvsd waits for CPU: answers sit unread in its sockets
//! while the deadline runs, and a healthy real would be taken down. Three
//! designs were weighed. Peeking at the socket when the deadline fires
//! helps only if the whole answer is there; a probe of several round trips
//! (connect, request, TLS) loses time at every step it waits to be polled,
//! and each checker would need its own peek. Retrying at once doubles the
//! probes exactly when CPU is short, and a retry starved the same way fails
//! the same way. So lvsd measures its own scheduling lag: one ticker task
//! per engine wakes every [`TICK`] and adds how late it woke (what the
//! worker was busy with, or the kernel not running lvsd at all) to a total.
//! The ticker waits in the same run queue and timer wheel as the probes, so
//! its lateness is what they suffered. A probe whose deadline passes gets
//! the lag measured since it started added to the deadline, at most one
//! more timeout ([`Lag::extend`]): a dark real is still Down within the
//! bound plus the lag, never later than twice its timeout, and on a quiet
//! host (no lag) exactly at its timeout, as before. A freeze longer than a
//! timeout still fails the probes it caught; the cap keeps failure
//! detection bounded, which matters more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// How often the ticker wakes: 10 wake-ups a second cost nothing beside
/// the probes, and a blocked stretch shows as soon as the next tick is due.
pub const TICK: Duration = Duration::from_millis(100);

/// Lateness up to this much per tick is the timer's own granularity (1 ms
/// wheel slots), not lvsd being behind.
const SLACK: Duration = Duration::from_millis(2);

/// Lateness of one tick above this is worth a warning: checks are then
/// being given extra time.
const WARN: Duration = Duration::from_secs(1);

/// The scheduling lag measured so far (see the module docs).
#[derive(Debug, Default)]
pub struct Lag {
    state: Mutex<State>,
    /// Measure but do not extend deadlines: the benchmark's baseline.
    ignored: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Lag measured by the ticks that woke.
    total: Duration,
    /// The worst lateness of one tick.
    worst: Duration,
    /// When the pending tick is due (`None`: no ticker runs).
    due: Option<Instant>,
}

/// What [`Lag::report`] says: lag measured since the engine first ran
/// checks, and the longest stretch lvsd was behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LagReport {
    pub total: Duration,
    pub worst: Duration,
}

impl Lag {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain numbers; a panic elsewhere cannot leave them half-written.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lag measured up to `now`, counting a tick that is overdue at
    /// `now`: a probe woken in the same turn as a late ticker must not
    /// miss the lag because the ticker has not run yet.
    pub fn behind(&self, now: Instant) -> Duration {
        let s = self.lock();
        let overdue = s
            .due
            .map(|due| now.saturating_duration_since(due).saturating_sub(SLACK))
            .unwrap_or_default();
        s.total + overdue
    }

    pub fn report(&self) -> LagReport {
        let s = self.lock();
        LagReport {
            total: s.total,
            worst: s.worst,
        }
    }

    /// Where a probe that began at `began` (when the lag was `lag_then`)
    /// with `timeout` should now end, asked when its deadline passed at
    /// `now`: `None` if it has timed out, else the later deadline (the
    /// lag measured during the probe added, at most one more timeout),
    /// with the lag counted.
    pub fn extend(
        &self,
        began: Instant,
        lag_then: Duration,
        timeout: Duration,
        now: Instant,
    ) -> Option<(Instant, Duration)> {
        let lag = if self.ignored.load(Ordering::Relaxed) {
            Duration::ZERO
        } else {
            self.behind(now).saturating_sub(lag_then).min(timeout)
        };
        let until = began + timeout + lag;
        (until > now).then_some((until, lag))
    }

    /// From now on, measure the lag but extend no deadline by it.
    pub(crate) fn ignore(&self) {
        self.ignored.store(true, Ordering::Relaxed);
    }

    /// Runs the ticker until the task is aborted.
    pub(crate) async fn tick(self: Arc<Self>) {
        loop {
            // From when it woke, not on a grid: after a stall the ticker
            // measures the stall once rather than catching up.
            let due = Instant::now() + TICK;
            self.lock().due = Some(due);
            tokio::time::sleep_until(due).await;
            let late = Instant::now()
                .saturating_duration_since(due)
                .saturating_sub(SLACK);
            let mut s = self.lock();
            s.total += late;
            s.worst = s.worst.max(late);
            s.due = None;
            drop(s);
            if late > WARN {
                tracing::warn!(
                    behind_ms = late.as_millis(),
                    "lvsd was not scheduled for a while; checks in flight get that time back"
                );
            }
        }
    }

    /// The ticker stopped (aborted mid-sleep): no tick is pending.
    pub(crate) fn stopped(&self) {
        self.lock().due = None;
    }
}
