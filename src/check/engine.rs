//! The check engine: runs the probes the specs ask for and reports health.
//!
//! Specs with the same [`Probe`] and interval form one group, checked by one
//! tokio task whose result feeds every key in the group, each through its own
//! [`Hysteresis`](super::hysteresis::Hysteresis) (ldirectord keeps `failcount` per virtual and real, but
//! probes a `real_id` once). `checktype=on`/`off` need no task: their state is
//! set when the specs are applied. The state they share lives in
//! [`state`](super::state), so that this module and the tasks' [`runner`]
//! both depend on it and the runner never on the engine.
//!
//! [`Engine::apply`] takes the whole desired set and diffs it against what
//! runs: unchanged groups keep running with their state, groups no longer
//! wanted are aborted, new ones start in batches spread over their interval. Events
//! go out on transitions only; [`Engine::snapshot`] reads every state, and a
//! [`ResultHook`] set with [`Engine::observe`] sees every probe result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::hysteresis::Health;
use super::lag::{Lag, LagReport};
use super::runner;
use super::spec::{CheckKind, CheckSpec, Probe};
use super::state::{GroupId, Shared};
use super::Checker;
// The engine's public vocabulary, kept at `check::engine::` where callers
// name it; it lives in `state`, which the runner shares.
pub use super::state::{HealthEvent, Key, Observed, Observer, ResultHook, Status, Transitions};

/// Probes that start together, at most. Each wake-up of the checks costs a
/// context switch or two, which in the IPVS VM cost more than the probes'
/// own work; probes that start together are woken together, and their
/// answers tend to be read in one wake-up too (in the VM: 32 per batch
/// halved lvsd's CPU at 200 targets, 128 took another tenth off at 1,000).
/// Batches this small still spread a large set over the interval (10,000
/// targets: 79 batches).
pub const BATCH: usize = 128;

/// When the `i`-th of `count` new groups first runs, after the apply: the
/// groups go in batches of at most [`BATCH`], spread evenly over `interval`.
pub fn stagger(i: usize, count: usize, interval: Duration) -> Duration {
    let batches = count.div_ceil(BATCH).max(1);
    let batch = i * batches / count.max(1);
    // batch < batches <= count, so the factors fit u32 for any real count.
    let (b, n) = (
        u32::try_from(batch).unwrap_or(u32::MAX),
        u32::try_from(batches).unwrap_or(u32::MAX),
    );
    interval * b / n
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    probe: Probe,
    interval: Duration,
}

struct Group<K> {
    id: GroupId,
    subscribers: watch::Sender<Vec<(K, u32)>>,
    task: JoinHandle<()>,
}

/// Runs health checks for a set of [`CheckSpec`]s.
pub struct Engine<K: Key, C: Checker> {
    checker: Arc<C>,
    shared: Arc<Shared<K>>,
    groups: HashMap<GroupKey, Group<K>>,
    next_id: GroupId,
    lag: Arc<Lag>,
    /// Measures `lag` while any probe task runs.
    ticker: Option<JoinHandle<()>>,
}

impl<K: Key, C: Checker> Engine<K, C> {
    /// An engine with no checks, and the receiver of its transition events.
    pub fn new(checker: C) -> (Self, mpsc::UnboundedReceiver<HealthEvent<K>>) {
        let (events, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(events));
        let engine = Engine {
            checker: Arc::new(checker),
            shared,
            groups: HashMap::new(),
            next_id: 0,
            lag: Arc::default(),
            ticker: None,
        };
        (engine, rx)
    }

    /// Makes the running checks match `specs` (see the module docs). Must be
    /// called inside a tokio runtime. A key listed twice keeps its last spec.
    // Probes hash by value; the only interior mutability is a compiled
    // regex's match cache, which takes no part in Eq or Hash.
    #[allow(clippy::mutable_key_type)]
    pub fn apply(&mut self, specs: impl IntoIterator<Item = CheckSpec<K>>) {
        // The last spec of a key wins.
        let mut last: HashMap<K, CheckSpec<K>> = HashMap::new();
        for spec in specs {
            last.insert(spec.key.clone(), spec);
        }
        let seen: HashSet<K> = last.keys().cloned().collect();
        let mut wanted: HashMap<GroupKey, Vec<(K, u32)>> = HashMap::new();
        let mut fixed: BTreeMap<K, Health> = BTreeMap::new();
        for (key, spec) in last {
            match spec.probe.kind {
                CheckKind::On => {
                    fixed.insert(key, Health::Up);
                }
                CheckKind::Off => {
                    fixed.insert(key, Health::Down);
                }
                _ => {
                    let group = GroupKey {
                        probe: spec.probe,
                        interval: spec.interval,
                    };
                    wanted
                        .entry(group)
                        .or_default()
                        .push((key, spec.failure_count));
                }
            }
        }
        for subs in wanted.values_mut() {
            subs.sort();
        }

        // Stop groups no longer wanted; a group whose task has ended (it
        // never does on its own: see `runner::supervise`) starts afresh.
        let stale: Vec<GroupKey> = self
            .groups
            .iter()
            .filter(|(k, g)| !wanted.contains_key(*k) || g.task.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(group) = self.groups.remove(&key) {
                group.task.abort();
            }
        }

        let shared = Arc::clone(&self.shared);
        let mut table = shared.lock();
        // Forget keys that are gone.
        table.retain(|key, _| seen.contains(key));
        for (key, health) in &fixed {
            let why = if *health == Health::Up {
                "checktype=on"
            } else {
                "checktype=off"
            };
            shared.set(&mut table, key, None, *health, why);
        }

        let mut new_groups: Vec<(GroupKey, Vec<(K, u32)>)> = Vec::new();
        for (gkey, subs) in wanted {
            match self.groups.get(&gkey) {
                Some(group) => {
                    for (key, _) in &subs {
                        if table.get(key).and_then(|e| e.group) != Some(group.id) {
                            shared.set(
                                &mut table,
                                key,
                                Some(group.id),
                                Health::Unknown,
                                "check changed",
                            );
                        }
                    }
                    group.subscribers.send_if_modified(|current| {
                        let changed = *current != subs;
                        *current = subs;
                        changed
                    });
                }
                None => new_groups.push((gkey, subs)),
            }
        }
        // Deterministic stagger order, so tests and logs are reproducible.
        new_groups.sort_by(|a, b| a.1.cmp(&b.1));
        let count = new_groups.len();
        let now = Instant::now();
        for (i, (gkey, subs)) in new_groups.into_iter().enumerate() {
            let id = self.next_id;
            self.next_id += 1;
            for (key, _) in &subs {
                shared.set(
                    &mut table,
                    key,
                    Some(id),
                    Health::Unknown,
                    "check (re)started",
                );
            }
            let start = now + stagger(i, count, gkey.interval);
            let (tx, rx) = watch::channel(subs);
            let task = tokio::spawn(runner::supervise(runner::Task {
                id,
                probe: gkey.probe.clone(),
                interval: gkey.interval,
                start,
                checker: Arc::clone(&self.checker),
                shared: Arc::clone(&self.shared),
                subscribers: rx,
                lag: Arc::clone(&self.lag),
            }));
            self.groups.insert(
                gkey,
                Group {
                    id,
                    subscribers: tx,
                    task,
                },
            );
        }
        drop(table);
        self.run_ticker(!self.groups.is_empty());
    }

    /// Starts or stops the lag ticker: it runs while probes do, so an
    /// engine with nothing to probe never wakes.
    fn run_ticker(&mut self, wanted: bool) {
        let running = self.ticker.as_ref().is_some_and(|t| !t.is_finished());
        if wanted && !running {
            self.ticker = Some(tokio::spawn(Arc::clone(&self.lag).tick()));
        } else if !wanted {
            if let Some(ticker) = self.ticker.take() {
                ticker.abort();
                self.lag.stopped();
            }
        }
    }

    /// How far behind lvsd itself has been, as measured by the ticker (see
    /// [`super::lag`]).
    pub fn lag(&self) -> LagReport {
        self.lag.report()
    }

    /// Measures the lag but extends no deadline by it, as before deadlines
    /// were: for the benchmark's baseline only.
    #[doc(hidden)]
    pub fn ignore_lag(&self) {
        self.lag.ignore();
    }

    /// Calls `hook` with every probe result from now on (`None`: stop).
    pub fn observe(&self, hook: Option<ResultHook<K>>) {
        self.shared.set_hook(hook);
    }

    /// The current state of every key.
    pub fn snapshot(&self) -> BTreeMap<K, Status> {
        self.observer().snapshot()
    }

    /// A read-only handle on the state, for readers on other tasks.
    pub fn observer(&self) -> Observer<K> {
        Observer(Arc::clone(&self.shared))
    }

    /// How many probe tasks run (distinct probes).
    pub fn task_count(&self) -> usize {
        self.groups.len()
    }

    /// Ends every group's task behind the engine's back, as a task that
    /// died would (for tests of the recovery).
    #[cfg(test)]
    pub(crate) fn kill_tasks(&self) {
        for group in self.groups.values() {
            group.task.abort();
        }
    }

    /// Stops every check and waits until their tasks are gone.
    pub async fn shutdown(mut self) {
        let groups: Vec<Group<K>> = self.groups.drain().map(|(_, g)| g).collect();
        self.run_ticker(false);
        for group in &groups {
            group.task.abort();
        }
        for group in groups {
            // An aborted task ends with a cancellation error; that is the point.
            let _ = group.task.await;
        }
    }
}

impl<K: Key, C: Checker> Drop for Engine<K, C> {
    fn drop(&mut self) {
        for group in self.groups.values() {
            group.task.abort();
        }
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
    }
}
