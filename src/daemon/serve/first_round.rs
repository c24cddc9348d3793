//! Start-up's wait for the first round of checks, before the loop.

use super::*;

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
    loop {
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
                st.health_changed(&ev);
            }
            return false;
        }
        tokio::select! {
            ev = events.recv() => {
                if let Some(ev) = ev {
                    st.health_changed(&ev);
                }
            }
            // SIGHUP stays in its stream: serve() reloads once running.
            _ = shutdown.as_mut() => return true,
            _ = sleep(Duration::from_millis(100)) => {}
        }
    }
}
