//! Start-up's wait for the first round of checks, before the loop.

use tracing::debug;

use super::*;
use crate::director::reconcile::LOG_EACH_UP_TO;

/// Waits until every check has reported once, or until the longest probe
/// deadline (capped) has passed. True when SIGTERM/SIGINT came meanwhile.
pub(in crate::daemon) async fn first_round<K: Kernel + SyncKernel, P: Checker>(
    st: &mut State<K, P>,
    events: &mut UnboundedReceiver<HealthEvent<RealKey>>,
    shutdown: &mut Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let cap = st
        .config()
        .virtuals
        .iter()
        .map(|v| v.checktimeout.max(v.negotiatetimeout))
        .max()
        .unwrap_or(0)
        .min(30);
    let deadline =
        Instant::now() + Duration::from_secs(u64::from(cap)) + Duration::from_millis(500);
    // One line per transition, as it comes, or for a round too big for
    // that each at debug and one summary line (see `log_summary`).
    let each = st.engine.snapshot().len() <= LOG_EACH_UP_TO;
    let stopped = loop {
        let pending = st
            .engine
            .snapshot()
            .values()
            .any(|s| s.health == Health::Unknown);
        if !pending || Instant::now() >= deadline {
            // The engine sends a transition under the lock the snapshot
            // takes: every result the snapshot shows is in the channel.
            // Logged now, they come before the first pass that acts on
            // them (the operator's log must not show a weight first).
            while let Ok(ev) = events.try_recv() {
                note(st, &ev, each);
            }
            break false;
        }
        tokio::select! {
            ev = events.recv() => {
                if let Some(ev) = ev {
                    note(st, &ev, each);
                }
            }
            // SIGHUP stays in its stream: serve() reloads once running.
            _ = shutdown.as_mut() => break true,
            _ = sleep(Duration::from_millis(100)) => {}
        }
    };
    if !each {
        log_summary(&st.engine.snapshot());
    }
    stopped
}

fn note<K: Kernel + SyncKernel, P: Checker>(
    st: &mut State<K, P>,
    ev: &HealthEvent<RealKey>,
    each: bool,
) {
    if each {
        st.health_changed(ev);
    } else {
        debug!(service = %ev.key.service, real = %ev.key.real, from = %ev.from,
            to = %ev.to, reason = %ev.reason, "real server health changed");
    }
}

/// A first round of more than [`LOG_EACH_UP_TO`] reals: one line, each
/// real's state as the round left it. 10,000 `checktype=on` reals coming
/// up wrote 10,000 lines twice (stderr and `logfile=`) between the full
/// table and READY, most of the time lvsd stayed busy after its table was
/// full. The status file and `lvsd status` show every real.
fn log_summary(states: &std::collections::BTreeMap<RealKey, crate::check::Status>) {
    let count = |h: Health| states.values().filter(|s| s.health == h).count();
    info!(
        reals = states.len(),
        up = count(Health::Up),
        down = count(Health::Down),
        unknown = count(Health::Unknown),
        "first check round (each real's health at debug level; the status file shows every real)"
    );
}
