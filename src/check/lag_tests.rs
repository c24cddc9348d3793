//! A starved lvsd is not a dead real: deadlines that pass while lvsd itself
//! could not run are extended by the lag measured, and a dark real is still
//! Down within its bound plus that lag.
//!
//! The stall is modelled with the paused clock: `tokio::time::advance`
//! called from a task moves the clock while no other task runs, which is
//! what a worker blocked in a system call, or a process the kernel did not
//! schedule, looks like to tokio when it resumes. Every timer that expired
//! meanwhile fires in the one turn after the stall.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::spec::{Timeouts, VirtualService};
use super::*;

const TIMEOUT: Duration = Duration::from_secs(2);
const INTERVAL: Duration = Duration::from_secs(1);

/// A real whose answer takes two round trips (connect, then request) of
/// `rtt` each; from call `dark_from` on it never answers.
#[derive(Clone)]
struct TwoTrips {
    rtt: Duration,
    dark_from: u32,
    calls: Arc<AtomicU32>,
}

impl Checker for TwoTrips {
    async fn check(&self, _: &Probe, _: Method<'_>) -> Outcome {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n >= self.dark_from {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.rtt).await;
        tokio::time::sleep(self.rtt).await;
        Outcome::Up
    }
}

fn spec() -> CheckSpec<&'static str> {
    CheckSpec {
        key: "a",
        probe: Probe {
            target: Target {
                addr: SocketAddr::from(([10, 0, 0, 1], 80)),
                real_port: 80,
                protocol: spec::Protocol::Tcp,
                virtual_service: VirtualService::Addr(SocketAddr::from(([192, 0, 2, 1], 80))),
            },
            kind: CheckKind::Connect,
            timeouts: Timeouts {
                check: TIMEOUT,
                negotiate: TIMEOUT,
            },
            check_count: 1,
        },
        interval: INTERVAL,
        failure_count: 1,
    }
}

fn engine(dark_from: u32) -> (Engine<&'static str, TwoTrips>, Rx) {
    let checker = TwoTrips {
        rtt: Duration::from_millis(300),
        dark_from,
        calls: Arc::default(),
    };
    let (mut engine, rx) = Engine::new(checker);
    engine.apply([spec()]);
    (engine, rx)
}

type Rx = UnboundedReceiver<HealthEvent<&'static str>>;

/// The next transition and when it came, or `None` if none by `until`.
async fn next(rx: &mut Rx, until: Instant) -> Option<(Health, Instant)> {
    let e = tokio::time::timeout_at(until, rx.recv()).await.ok()??;
    Some((e.to, Instant::now()))
}

/// Stalls the runtime from `at` for `stall`, as a blocked worker would.
async fn stall(at: Instant, stall: Duration) {
    tokio::time::sleep_until(at).await;
    tokio::time::advance(stall).await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_passes_while_lvsd_is_stalled_is_not_a_timeout() {
    let t0 = Instant::now();
    let (engine, mut rx) = engine(u32::MAX);
    assert_eq!(
        next(&mut rx, t0 + INTERVAL).await.map(|e| e.0),
        Some(Health::Up)
    );
    // The second probe (from 1 s) has made its first round trip by 1.3 s;
    // lvsd stalls from 1.2 s to 4.2 s, past the probe's deadline (3 s).
    // When it runs again the answer of the first trip is there, the second
    // has yet to be made: without the lag this was "no answer within 2s".
    stall(t0 + Duration::from_millis(1200), Duration::from_secs(3)).await;
    let got = next(&mut rx, t0 + Duration::from_secs(20)).await;
    assert_eq!(got, None, "{:?}", engine.snapshot()["a"].last);
    assert_eq!(engine.snapshot()["a"].health, Health::Up);
    // The stall is what the ticker measured (less its 2 ms slack).
    let lag = engine.lag();
    assert!(lag.worst >= Duration::from_millis(2_900), "{lag:?}");
    assert!(lag.worst <= Duration::from_secs(3), "{lag:?}");
}

#[tokio::test(start_paused = true)]
async fn a_dark_real_is_down_within_the_bound_plus_the_lag_even_if_lvsd_stalls() {
    let t0 = Instant::now();
    // Up on the first probe (done at 0.6 s), dark from the second (1 s).
    let (engine, mut rx) = engine(1);
    assert_eq!(
        next(&mut rx, t0 + INTERVAL).await.map(|e| e.0),
        Some(Health::Up)
    );
    stall(t0 + Duration::from_millis(1200), Duration::from_secs(3)).await;
    let (health, at) = next(&mut rx, t0 + Duration::from_secs(20))
        .await
        .expect("a dark real goes down");
    assert_eq!(health, Health::Down);
    // The deadline (3 s) got the lag (2.9 s) but at most one more timeout:
    // Down at 5 s, within interval + timeout + 100 ms + lag of the real
    // going dark (0.6 s + 3.1 s + 2.9 s).
    assert_eq!(at - t0, Duration::from_secs(5));
    let last = engine.snapshot()["a"].last.clone().unwrap_or_default();
    assert!(
        last.contains("no answer within 2s, nor in the 2s more"),
        "{last}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_no_lag_a_dark_real_is_down_at_its_timeout_and_the_ticker_stops_with_the_checks() {
    let t0 = Instant::now();
    let (mut engine, mut rx) = engine(0);
    let (health, at) = next(&mut rx, t0 + Duration::from_secs(20))
        .await
        .expect("a dark real goes down");
    assert_eq!((health, at - t0), (Health::Down, TIMEOUT));
    let last = engine.snapshot()["a"].last.clone().unwrap_or_default();
    assert!(last.ends_with("no answer within 2s)"), "{last}");
    assert_eq!(engine.lag(), LagReport::default());
    // With nothing to probe the ticker is gone: a stall now is not lag.
    engine.apply([]);
    stall(Instant::now(), Duration::from_secs(3)).await;
    tokio::task::yield_now().await;
    assert_eq!(engine.lag(), LagReport::default());
}

#[test]
fn without_lag_since_the_probe_began_the_deadline_stands() {
    let lag = lag::Lag::default();
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // No ticker, no lag: timed out at the deadline.
    assert_eq!(lag.extend(t0, Duration::ZERO, s(2), t0 + s(2)), None);
    // Lag before the probe began does not count: `lag_then` is taken off.
    assert_eq!(lag.extend(t0, s(5), s(2), t0 + s(2)), None);
}
