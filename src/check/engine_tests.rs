//! Engine behaviour under tokio's paused clock with a scripted checker:
//! scheduling, stagger, deadlines, hysteresis, dedupe and reconfiguration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::spec::{Exchange, Service, Timeouts, VirtualService};
use super::*;

/// What the script says one probe does: take `delay`, then answer `up`.
#[derive(Clone, Copy)]
struct Step {
    delay: Duration,
    up: bool,
}

type Calls = Arc<Mutex<Vec<(SocketAddr, &'static str, Instant)>>>;
type Script = dyn Fn(SocketAddr, u32) -> Step + Send + Sync;

/// A checker whose answers come from a script of (address, call number).
#[derive(Clone)]
struct Scripted {
    script: Arc<Script>,
    calls: Calls,
}

impl Scripted {
    fn new(script: impl Fn(SocketAddr, u32) -> Step + Send + Sync + 'static) -> Scripted {
        Scripted {
            script: Arc::new(script),
            calls: Arc::default(),
        }
    }

    /// Times of the probes of `addr`, relative to `t0`, in whole ms.
    fn times(&self, addr: SocketAddr, t0: Instant) -> Vec<u128> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.0 == addr)
            .map(|c| (c.2 - t0).as_millis())
            .collect()
    }

    fn methods(&self, addr: SocketAddr) -> Vec<&'static str> {
        let calls = self.calls.lock().unwrap();
        calls.iter().filter(|c| c.0 == addr).map(|c| c.1).collect()
    }
}

impl Checker for Scripted {
    async fn check(&self, probe: &Probe, method: Method<'_>) -> Outcome {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.iter().filter(|c| c.0 == probe.addr()).count() as u32;
            let name = match method {
                Method::Negotiate(_) => "negotiate",
                _ => "connect",
            };
            calls.push((probe.addr(), name, Instant::now()));
            n
        };
        let step = (self.script)(probe.addr(), n);
        tokio::time::sleep(step.delay).await;
        if step.up {
            Outcome::Up
        } else {
            Outcome::down("scripted", format_args!("call {n}"))
        }
    }
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 80))
}

fn probe(i: u8, kind: CheckKind) -> Probe {
    Probe {
        target: Target {
            addr: addr(i),
            real_port: 80,
            protocol: spec::Protocol::Tcp,
            virtual_service: VirtualService::Addr(SocketAddr::from(([192, 0, 2, 1], 80))),
        },
        kind,
        timeouts: Timeouts {
            check: Duration::from_secs(5),
            negotiate: Duration::from_secs(30),
        },
        check_count: 1,
    }
}

fn spec(key: &str, i: u8, failure_count: u32) -> CheckSpec<String> {
    CheckSpec {
        key: key.to_owned(),
        probe: probe(i, CheckKind::Connect),
        interval: Duration::from_secs(10),
        failure_count,
    }
}

fn instant(up: bool) -> Step {
    Step {
        delay: Duration::ZERO,
        up,
    }
}

async fn next(rx: &mut UnboundedReceiver<HealthEvent<String>>) -> (String, Health, Health) {
    let e = rx.recv().await.expect("engine alive");
    (e.key, e.from, e.to)
}

fn ev(key: &str, from: Health, to: Health) -> (String, Health, Health) {
    (key.to_owned(), from, to)
}

use Health::{Down, Unknown, Up};

#[tokio::test(start_paused = true)]
async fn unknown_then_down_after_failurecount_then_up_on_one_success() {
    // up, then three failures, then up again.
    let script = Scripted::new(|_, n| instant(!(1..=3).contains(&n)));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    engine.apply([spec("a", 1, 3)]);
    assert_eq!(engine.snapshot()["a"].health, Unknown);

    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
    assert_eq!(next(&mut rx).await, ev("a", Up, Down));
    // Down only at the third failure (t = 30 s), not before.
    assert_eq!(Instant::now() - t0, Duration::from_secs(30));
    assert_eq!(engine.snapshot()["a"].failures, 3);
    assert_eq!(next(&mut rx).await, ev("a", Down, Up));
    assert_eq!(
        script.times(addr(1), t0),
        [0, 10_000, 20_000, 30_000, 40_000]
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_probe_is_down_at_its_deadline() {
    let script = Scripted::new(|_, _| Step {
        delay: Duration::from_secs(3600),
        up: true,
    });
    let (mut engine, mut rx) = Engine::new(script);
    let t0 = Instant::now();
    engine.apply([spec("a", 1, 1)]);
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Down));
    // checktimeout (5 s) for a connect check.
    assert_eq!(Instant::now() - t0, Duration::from_secs(5));
    let last = engine.snapshot()["a"].last.clone().unwrap();
    assert!(last.contains("no answer within 5s"), "{last}");
}

#[tokio::test(start_paused = true)]
async fn negotiate_uses_negotiatetimeout() {
    let script = Scripted::new(|_, _| Step {
        delay: Duration::from_secs(3600),
        up: true,
    });
    let (mut engine, mut rx) = Engine::new(script);
    let t0 = Instant::now();
    let mut s = spec("a", 1, 1);
    s.probe.kind = CheckKind::Negotiate(Service::SimpleTcp(Exchange::default()));
    engine.apply([s]);
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Down));
    assert_eq!(Instant::now() - t0, Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn probes_start_at_a_fixed_rate() {
    let script = Scripted::new(|_, _| Step {
        delay: Duration::from_secs(2),
        up: true,
    });
    let (mut engine, _rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    engine.apply([spec("a", 1, 1)]);
    tokio::time::sleep(Duration::from_secs(37)).await;
    assert_eq!(script.times(addr(1), t0), [0, 10_000, 20_000, 30_000]);
}

#[tokio::test(start_paused = true)]
async fn a_probe_longer_than_the_interval_is_followed_at_once() {
    let script = Scripted::new(|_, _| Step {
        delay: Duration::from_secs(4),
        up: true,
    });
    let (mut engine, _rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    let mut s = spec("a", 1, 1);
    s.interval = Duration::from_secs(3);
    engine.apply([s]);
    tokio::time::sleep(Duration::from_secs(13)).await;
    assert_eq!(script.times(addr(1), t0), [0, 4_000, 8_000, 12_000]);
}

#[tokio::test(start_paused = true)]
async fn new_targets_start_in_batches_spread_over_the_interval() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, _rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    // 200 targets: two batches (of at most 128), half the interval apart.
    engine.apply((1..=200).map(|i| spec(&format!("k{i:03}"), i, 1)));
    tokio::time::sleep(Duration::from_millis(9_999)).await;
    let mut firsts: Vec<u128> = (1..=200).map(|i| script.times(addr(i), t0)[0]).collect();
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts, [0, 5_000]);
    let per_batch = |t| {
        (1..=200)
            .filter(|&i| script.times(addr(i), t0)[0] == t)
            .count()
    };
    assert_eq!((per_batch(0), per_batch(5_000)), (100, 100));
    // And they stay together: every probe of every target is on its grid.
    tokio::time::sleep(Duration::from_secs(30)).await;
    for i in 1..=200 {
        let t = script.times(addr(i), t0);
        assert!(t.iter().all(|ms| (ms - t[0]) % 10_000 == 0), "{i}: {t:?}");
    }
}

#[test]
fn stagger_spreads_batches_evenly_and_never_past_the_interval() {
    use crate::check::engine::{stagger, BATCH};
    let iv = Duration::from_secs(30);
    assert_eq!(stagger(0, 1, iv), Duration::ZERO);
    assert!((0..BATCH).all(|i| stagger(i, BATCH, iv) == Duration::ZERO));
    for count in [33, 200, 10_000] {
        let starts: Vec<Duration> = (0..count).map(|i| stagger(i, count, iv)).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{count}: ordered");
        assert!(
            starts.iter().all(|s| *s < iv),
            "{count}: within the interval"
        );
        let mut batches = starts.clone();
        batches.dedup();
        assert_eq!(batches.len(), count.div_ceil(BATCH), "{count}: batches");
        for b in &batches {
            let n = starts.iter().filter(|s| *s == b).count();
            assert!(n <= BATCH, "{count}: a batch of {n}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_probe_in_two_virtuals_runs_once_and_feeds_both() {
    let script = Scripted::new(|_, n| instant(n == 0));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    // Same real, same check; different failure counts per virtual.
    engine.apply([spec("v1/r", 1, 1), spec("v2/r", 1, 2)]);
    assert_eq!(engine.task_count(), 1);
    let mut first = vec![next(&mut rx).await, next(&mut rx).await];
    first.sort();
    assert_eq!(first, [ev("v1/r", Unknown, Up), ev("v2/r", Unknown, Up)]);
    assert_eq!(next(&mut rx).await, ev("v1/r", Up, Down));
    assert_eq!(Instant::now() - t0, Duration::from_secs(10));
    assert_eq!(next(&mut rx).await, ev("v2/r", Up, Down));
    assert_eq!(Instant::now() - t0, Duration::from_secs(20));
    assert_eq!(script.times(addr(1), t0), [0, 10_000, 20_000]);
}

#[tokio::test(start_paused = true)]
async fn reconfiguration_keeps_unchanged_stops_removed_starts_new() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    engine.apply([spec("a", 1, 1), spec("b", 2, 1)]);
    let mut first = vec![next(&mut rx).await, next(&mut rx).await];
    first.sort();
    assert_eq!(first, [ev("a", Unknown, Up), ev("b", Unknown, Up)]);

    tokio::time::sleep_until(t0 + Duration::from_secs(12)).await;
    engine.apply([spec("a", 1, 1), spec("c", 3, 1)]);
    // Unchanged: still Up, no event. New: Unknown until probed. Removed: gone.
    let snap = engine.snapshot();
    assert_eq!(snap["a"].health, Up);
    assert_eq!(snap["c"].health, Unknown);
    assert!(!snap.contains_key("b"));
    assert_eq!(next(&mut rx).await, ev("c", Unknown, Up));

    tokio::time::sleep_until(t0 + Duration::from_secs(41)).await;
    // a kept its schedule (0, 10, 20, ...); b (in a's batch) was never
    // probed after 12 s; c started at the reconfiguration.
    assert_eq!(
        script.times(addr(1), t0),
        [0, 10_000, 20_000, 30_000, 40_000]
    );
    assert_eq!(script.times(addr(2), t0), [0, 10_000]);
    assert_eq!(script.times(addr(3), t0), [12_000, 22_000, 32_000]);
    assert!(rx.try_recv().is_err(), "no event without a transition");
}

#[tokio::test(start_paused = true)]
async fn a_changed_check_restarts_from_unknown() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, mut rx) = Engine::new(script.clone());
    engine.apply([spec("a", 1, 1)]);
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
    let mut changed = spec("a", 1, 1);
    changed.interval = Duration::from_secs(3);
    engine.apply([changed]);
    assert_eq!(engine.task_count(), 1);
    assert_eq!(next(&mut rx).await, ev("a", Up, Unknown));
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
}

#[tokio::test(start_paused = true)]
async fn a_key_listed_twice_keeps_its_last_spec() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, _rx) = Engine::new(script.clone());
    let t0 = Instant::now();
    engine.apply([spec("a", 1, 1), spec("a", 2, 1)]);
    assert_eq!(engine.task_count(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(script.times(addr(1), t0).is_empty());
    assert_eq!(script.times(addr(2), t0), [0]);
}

#[tokio::test(start_paused = true)]
async fn on_and_off_need_no_probe() {
    let script = Scripted::new(|_, _| instant(false));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let mut on = spec("on", 1, 1);
    on.probe.kind = CheckKind::On;
    let mut off = spec("off", 2, 1);
    off.probe.kind = CheckKind::Off;
    engine.apply([on, off]);
    assert_eq!(engine.task_count(), 0);
    let mut events = vec![next(&mut rx).await, next(&mut rx).await];
    events.sort();
    assert_eq!(events, [ev("off", Unknown, Down), ev("on", Unknown, Up)]);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(script.calls.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn combined_runs_n_connects_between_negotiates() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, _rx) = Engine::new(script.clone());
    let mut s = spec("a", 1, 1);
    s.probe.kind = CheckKind::Combined {
        connects: 2,
        service: Service::None,
    };
    engine.apply([s]);
    tokio::time::sleep(Duration::from_secs(55)).await;
    assert_eq!(
        script.methods(addr(1)),
        [
            "negotiate",
            "connect",
            "connect",
            "negotiate",
            "connect",
            "connect"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_probe() {
    let script = Scripted::new(|_, _| instant(true));
    let (mut engine, _rx) = Engine::new(script.clone());
    engine.apply([spec("a", 1, 1), spec("b", 2, 1)]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    engine.shutdown().await;
    let before = script.calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(script.calls.lock().unwrap().len(), before);
}

#[test]
#[allow(clippy::mutable_key_type)] // see Engine::apply
fn distinct_probes_are_distinct_groups() {
    let mut groups: HashMap<Probe, u32> = HashMap::new();
    *groups.entry(probe(1, CheckKind::Connect)).or_default() += 1;
    *groups.entry(probe(1, CheckKind::Connect)).or_default() += 1;
    *groups.entry(probe(1, CheckKind::Ping)).or_default() += 1;
    assert_eq!(groups.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_observer_sees_every_result_not_only_transitions() {
    // up, up, down, down, up: two transitions but five results per key.
    let script = Scripted::new(|_, n| instant(!(2..=3).contains(&n)));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    engine.observe(Some(Arc::new(move |k: &String, o: &Outcome| {
        sink.lock().unwrap().push((k.clone(), o.is_up()));
    })));
    engine.apply([spec("a", 1, 1)]);
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
    assert_eq!(next(&mut rx).await, ev("a", Up, Down));
    assert_eq!(next(&mut rx).await, ev("a", Down, Up));
    let got: Vec<bool> = seen.lock().unwrap().iter().map(|(_, up)| *up).collect();
    assert_eq!(got, [true, true, false, false, true]);
    // Health is what the engine says, observer or not.
    assert_eq!(engine.snapshot()["a"].health, Up);
    engine.observe(None);
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(seen.lock().unwrap().len(), 5, "no calls once removed");
}

#[tokio::test(start_paused = true)]
async fn transitions_are_counted_with_the_state_and_kept_when_the_check_changes() {
    // up, up, down, down, up, then up for good.
    let script = Scripted::new(|_, n| instant(!(2..=3).contains(&n)));
    let (mut engine, mut rx) = Engine::new(script.clone());
    let observer = engine.observer();
    engine.apply([spec("a", 1, 1)]);
    let counts = |o: &engine::Observer<String>| -> Vec<((Health, Health), u64)> {
        o.observed()["a"].transitions.iter().collect()
    };
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
    // The count is there by the time the event is: it was made first.
    assert_eq!(counts(&observer), [((Unknown, Up), 1)]);
    assert_eq!(next(&mut rx).await, ev("a", Up, Down));
    assert_eq!(next(&mut rx).await, ev("a", Down, Up));
    assert_eq!(
        counts(&observer),
        [((Unknown, Up), 1), ((Up, Down), 1), ((Down, Up), 1)]
    );
    assert_eq!(observer.observed()["a"].status.health, Up);

    // A changed check restarts from Unknown (a transition set without a
    // probe) and keeps what was counted.
    let mut changed = spec("a", 1, 1);
    changed.interval = Duration::from_secs(3);
    engine.apply([changed]);
    assert_eq!(next(&mut rx).await, ev("a", Up, Unknown));
    assert_eq!(next(&mut rx).await, ev("a", Unknown, Up));
    assert_eq!(
        counts(&observer),
        [
            ((Unknown, Up), 2),
            ((Up, Unknown), 1),
            ((Up, Down), 1),
            ((Down, Up), 1)
        ]
    );
}
