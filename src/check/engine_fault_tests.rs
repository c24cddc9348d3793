//! The engine when things go wrong inside it: a probe that panics, a
//! group's task that dies. Paused clock, scripted checker.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::spec::{Timeouts, VirtualService};
use super::*;

/// Up, except that call number `panic_at` panics.
struct Panicky {
    calls: Arc<AtomicU32>,
    panic_at: u32,
}

impl Checker for Panicky {
    async fn check(&self, _: &Probe, _: Method<'_>) -> Outcome {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if n == self.panic_at {
            panic!("index out of bounds: the len is 0 but the index is 0");
        }
        Outcome::Up
    }
}

fn spec(key: &str) -> CheckSpec<String> {
    CheckSpec {
        key: key.to_owned(),
        probe: Probe {
            target: Target {
                addr: SocketAddr::from(([10, 0, 0, 1], 389)),
                real_port: 389,
                protocol: spec::Protocol::Tcp,
                virtual_service: VirtualService::Addr(SocketAddr::from(([192, 0, 2, 1], 389))),
            },
            kind: CheckKind::Connect,
            timeouts: Timeouts {
                check: Duration::from_secs(5),
                negotiate: Duration::from_secs(30),
            },
            check_count: 1,
        },
        interval: Duration::from_secs(10),
        failure_count: 1,
    }
}

/// The next event, or a failure if none comes within a minute (of paused
/// time): a dead task sends nothing, and the test must say so, not hang.
async fn next(rx: &mut UnboundedReceiver<HealthEvent<String>>) -> HealthEvent<String> {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an event within 60 s: the group's task is dead")
        .expect("engine alive")
}

fn edge(e: &HealthEvent<String>) -> (Health, Health) {
    (e.from, e.to)
}

use Health::{Down, Unknown, Up};

#[tokio::test(start_paused = true)]
async fn a_panicking_probe_is_down_with_its_reason_and_the_group_keeps_probing() {
    let calls = Arc::new(AtomicU32::new(0));
    let checker = Panicky {
        calls: Arc::clone(&calls),
        panic_at: 1,
    };
    let (mut engine, mut rx) = Engine::new(checker);
    engine.apply([spec("a")]);
    assert_eq!(edge(&next(&mut rx).await), (Unknown, Up));
    let down = next(&mut rx).await;
    assert_eq!(edge(&down), (Up, Down));
    assert!(
        down.reason
            .contains("the probe panicked: index out of bounds"),
        "{}",
        down.reason
    );
    assert_eq!(next(&mut rx).await.to, Up, "probed again after the panic");
    assert!(calls.load(Ordering::SeqCst) >= 3);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_dies_outside_the_probe_is_restarted() {
    let calls = Arc::new(AtomicU32::new(0));
    let checker = Panicky {
        calls: Arc::clone(&calls),
        panic_at: u32::MAX,
    };
    let (mut engine, mut rx) = Engine::new(checker);
    // The hook runs on the group's task: its panic ends the task's run.
    let panicked = Arc::new(AtomicBool::new(false));
    let once = Arc::clone(&panicked);
    engine.observe(Some(Arc::new(move |_: &String, _: &Outcome| {
        if !once.swap(true, Ordering::SeqCst) {
            panic!("hook failed");
        }
    })));
    engine.apply([spec("a")]);
    assert_eq!(edge(&next(&mut rx).await), (Unknown, Up));
    let reset = next(&mut rx).await;
    assert_eq!(edge(&reset), (Up, Unknown));
    assert!(
        reset.reason.contains("check task died (hook failed)"),
        "{}",
        reset.reason
    );
    assert_eq!(edge(&next(&mut rx).await), (Unknown, Up), "restarted");
    let before = calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(calls.load(Ordering::SeqCst) >= before + 3, "keeps probing");
    assert_eq!(engine.snapshot()["a"].health, Up);
}

#[tokio::test(start_paused = true)]
async fn a_reload_restarts_a_group_whose_task_has_ended() {
    let calls = Arc::new(AtomicU32::new(0));
    let checker = Panicky {
        calls: Arc::clone(&calls),
        panic_at: u32::MAX,
    };
    let (mut engine, mut rx) = Engine::new(checker);
    engine.apply([spec("a")]);
    assert_eq!(edge(&next(&mut rx).await), (Unknown, Up));
    engine.kill_tasks();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let before = calls.load(Ordering::SeqCst);
    // The same configuration again: the dead group is started afresh.
    engine.apply([spec("a")]);
    assert_eq!(edge(&next(&mut rx).await), (Up, Unknown));
    assert_eq!(edge(&next(&mut rx).await), (Unknown, Up));
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert!(calls.load(Ordering::SeqCst) >= before + 3, "probing again");
}
