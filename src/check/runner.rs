//! One group's task: wait for its staggered start, then probe and record
//! once per `interval`, at a fixed rate. ldirectord sleeps `checkinterval`
//! after each pass instead, so a slow probe pushes the next one back; at a
//! fixed rate a target that goes dark is seen within interval + deadline.
//! A probe that overruns the interval is followed at once by the next, and
//! once probes are quick again the task is back on its grid (start + k x
//! interval): tasks started in one batch keep waking together.
//!
//! Every probe runs under [`Probe::deadline`], extended by the time lvsd
//! itself was measured behind during the probe (see [`super::lag`]); when
//! it passes, the probe's future is dropped, which is what cancels its
//! sockets and child processes.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::combined::{Combined, Step};
use super::hysteresis::Hysteresis;
use super::lag::Lag;
use super::prober::service_name;
use super::spec::{CheckKind, Method, Probe, Protocol};
use super::state::{GroupId, Key, Shared, Subscriber};
use super::{Checker, Outcome};

pub(crate) struct Task<K: Key, C> {
    pub(crate) id: GroupId,
    pub(crate) probe: Probe,
    pub(crate) interval: Duration,
    /// When the first probe runs (the engine staggers new groups' starts).
    pub(crate) start: Instant,
    pub(crate) checker: Arc<C>,
    pub(crate) shared: Arc<Shared<K>>,
    pub(crate) subscribers: watch::Receiver<Vec<(K, u32)>>,
    /// The engine's measure of its own scheduling lag.
    pub(crate) lag: Arc<Lag>,
}

impl<K: Key, C> Clone for Task<K, C> {
    fn clone(&self) -> Self {
        Task {
            id: self.id,
            probe: self.probe.clone(),
            interval: self.interval,
            start: self.start,
            checker: Arc::clone(&self.checker),
            shared: Arc::clone(&self.shared),
            subscribers: self.subscribers.clone(),
            lag: Arc::clone(&self.lag),
        }
    }
}

/// Runs a group's task and restarts it, one interval later, whenever it
/// dies: a panic outside the probe (recording, the result hook) would
/// otherwise leave its keys frozen at their last health. The keys go back
/// to Unknown, since nothing vouches for their health until the next probe.
pub(crate) async fn supervise<K: Key, C: Checker>(task: Task<K, C>) {
    let mut attempt = task.clone();
    loop {
        let why = match CatchUnwind(Box::pin(run(attempt))).await {
            Err(panic) => super::escape_text(&panic_message(&*panic)),
            Ok(()) => "ended".to_owned(),
        };
        tracing::error!(addr = %task.probe.addr(), panic = %why, "check task died; restarting it");
        let keys: Vec<K> = task
            .subscribers
            .borrow()
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        task.shared.reset(
            task.id,
            &keys,
            &format!("check task died ({why}); restarted"),
        );
        attempt = Task {
            start: Instant::now() + task.interval,
            ..task.clone()
        };
    }
}

pub(crate) async fn run<K: Key, C: Checker>(mut task: Task<K, C>) {
    let mut subscribers = Vec::new();
    merge(&mut subscribers, &task.subscribers.borrow_and_update());
    let mut combined = match &task.probe.kind {
        CheckKind::Combined { connects, .. } => Some(Combined::new(*connects)),
        _ => None,
    };
    let mut due = Some(task.start);
    loop {
        if let Some(due) = due {
            tokio::time::sleep_until(due).await;
        }
        let (method, step) = method(&task.probe, combined.as_ref());
        let started = Instant::now();
        let outcome = probe_once(&*task.checker, &task.probe, method, &task.lag).await;
        let took = started.elapsed();
        if let (Some(c), Some(step)) = (combined.as_mut(), step) {
            c.record(step, outcome.is_up());
        }
        tracing::debug!(addr = %task.probe.addr(), %outcome, "probe");
        if task.subscribers.has_changed().unwrap_or(false) {
            merge(&mut subscribers, &task.subscribers.borrow_and_update());
        }
        let now = Instant::now();
        task.shared
            .record(task.id, &mut subscribers, &outcome, now, took);
        due = next_due(task.start, task.interval, started, now);
    }
}

/// When the next probe runs, after one that began at `began` ended at `now`:
/// `None` (at once) if it took longer than the interval, else the first
/// point of the grid `start + k x interval` after `began` and not before
/// `now`.
fn next_due(start: Instant, interval: Duration, began: Instant, now: Instant) -> Option<Instant> {
    if now - began > interval {
        return None;
    }
    let k = now.saturating_duration_since(start).as_nanos() / interval.as_nanos().max(1);
    let grid = u32::try_from(k)
        .ok()
        .and_then(|k| interval.checked_mul(k))
        .map(|offset| start + offset);
    let Some(mut next) = grid else {
        // Beyond 2^32 intervals: off the grid, at the fixed rate still.
        return Some(began + interval);
    };
    if next < now || next <= began {
        next += interval;
    }
    Some(next)
}

/// Runs `probe` once under its deadline, as the first round of its task
/// would (`checktype=N` negotiates first). For one-off checks and tests.
pub async fn run_once<C: Checker>(checker: &C, probe: &Probe) -> Outcome {
    match probe.kind {
        CheckKind::On => Outcome::Up,
        CheckKind::Off => Outcome::down("checktype=off", "never up"),
        // No ticker runs for a one-off probe: its deadline is as written.
        _ => probe_once(checker, probe, method(probe, None).0, &Lag::default()).await,
    }
}

/// Runs one probe under its deadline, extended by the lag measured while
/// it ran (see [`Lag::extend`]). A probe that panics is Down with that
/// reason: left to unwind, the panic would end the group's task and
/// freeze its keys at their last health (Up, with its weight).
pub(crate) async fn probe_once<C: Checker>(
    checker: &C,
    probe: &Probe,
    method: Method<'_>,
    lag: &Lag,
) -> Outcome {
    let timeout = probe.deadline(method);
    let tried = || format!("{} {}", describe(probe, method), probe.addr());
    let mut checked = CatchUnwind(Box::pin(checker.check(probe, method)));
    let began = Instant::now();
    let lag_then = lag.behind(began);
    let mut deadline = began + timeout;
    let mut extra = Duration::ZERO;
    let result = loop {
        match tokio::time::timeout_at(deadline, &mut checked).await {
            Ok(result) => break Some(result),
            Err(_) => match lag.extend(began, lag_then, timeout, Instant::now()) {
                Some((later, lagged)) if later > deadline => {
                    (deadline, extra) = (later, lagged);
                }
                _ => break None,
            },
        }
    };
    match result {
        Some(Ok(outcome)) => outcome,
        Some(Err(panic)) => {
            let why = super::escape_text(&panic_message(&*panic));
            tracing::error!(addr = %probe.addr(), panic = %why, "probe panicked");
            Outcome::down(tried(), format_args!("the probe panicked: {why}"))
        }
        None if extra.is_zero() => {
            Outcome::down(tried(), format_args!("no answer within {timeout:?}"))
        }
        None => Outcome::down(
            tried(),
            format_args!("no answer within {timeout:?}, nor in the {extra:?} more lvsd was behind"),
        ),
    }
}

/// Polls a future, turning a panic in it into an `Err` with the payload.
/// After a panic the future is never polled again (it is dropped by the
/// caller), which is why asserting unwind safety is sound here. Boxed so
/// that no `unsafe` pin projection is needed.
pub(crate) struct CatchUnwind<F>(pub(crate) Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Which probe this round runs.
fn method<'a>(probe: &'a Probe, combined: Option<&Combined>) -> (Method<'a>, Option<Step>) {
    match &probe.kind {
        CheckKind::Connect => (Method::Connect, None),
        CheckKind::Ping => (Method::Ping, None),
        CheckKind::External(ext) => (Method::External(ext), None),
        CheckKind::Negotiate(service) => (Method::Negotiate(service), None),
        CheckKind::Combined { service, .. } => {
            match combined.map(Combined::next).unwrap_or(Step::Negotiate) {
                Step::Connect => (Method::Connect, Some(Step::Connect)),
                Step::Negotiate => (Method::Negotiate(service), Some(Step::Negotiate)),
            }
        }
        // The engine never starts a task for these; answer as they would.
        CheckKind::On | CheckKind::Off => (Method::Connect, None),
    }
}

/// What a probe was, for the reason given when its deadline passes.
fn describe(probe: &Probe, method: Method<'_>) -> String {
    match method {
        Method::Connect if probe.target.protocol == Protocol::Udp => {
            "ICMP echo (connect on UDP) to".to_owned()
        }
        Method::Connect => "TCP connect to".to_owned(),
        Method::Ping => "ICMP echo to".to_owned(),
        Method::External(ext) => format!("external check {} for", ext.command.display()),
        Method::Negotiate(service) => format!("negotiate {} with", service_name(service)),
    }
}

/// Brings the subscriber list up to `wanted`, keeping existing counters.
fn merge<K: Key>(subscribers: &mut Vec<Subscriber<K>>, wanted: &[(K, u32)]) {
    let mut old: Vec<Subscriber<K>> = std::mem::take(subscribers);
    for (key, failure_count) in wanted {
        let hysteresis = match old.iter().position(|s| &s.key == key) {
            Some(i) => {
                let mut h = old.swap_remove(i).hysteresis;
                h.set_failure_count(*failure_count);
                h
            }
            None => Hysteresis::new(*failure_count),
        };
        subscribers.push(Subscriber {
            key: key.clone(),
            hysteresis,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overrun_runs_at_once_then_the_grid_resumes() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let iv = s(3);
        let next = |began, ended| next_due(t0, iv, t0 + began, t0 + ended);
        // Quick probes: the next grid point, also for one that took no time.
        assert_eq!(next(s(0), ms(100)), Some(t0 + s(3)));
        assert_eq!(next(s(3), s(3)), Some(t0 + s(6)));
        // Exactly one interval long: the next grid point, which is now.
        assert_eq!(next(s(0), s(3)), Some(t0 + s(3)));
        // Longer than the interval: at once.
        assert_eq!(next(s(0), s(4)), None);
        // The probe run at once (4 s to 5 s) puts the task back on the grid.
        assert_eq!(next(s(4), s(5)), Some(t0 + s(6)));
        // A probe that started late ends past a grid point: the one after.
        assert_eq!(next(ms(2_900), ms(3_100)), Some(t0 + s(6)));
    }
}
