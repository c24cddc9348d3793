//! The check engine: runs the probes the specs ask for and reports health.
//!
//! Specs with the same [`Probe`] and interval form one group, checked by one
//! tokio task whose result feeds every key in the group, each through its own
//! [`Hysteresis`](super::hysteresis::Hysteresis) (ldirectord keeps `failcount` per virtual and real, but
//! probes a `real_id` once). `checktype=on`/`off` need no task: their state is
//! set when the specs are applied.
//!
//! [`Engine::apply`] takes the whole desired set and diffs it against what
//! runs: unchanged groups keep running with their state, groups no longer
//! wanted are aborted, new ones start in batches spread over their interval. Events
//! go out on transitions only; [`Engine::snapshot`] reads every state, and a
//! [`ResultHook`] set with [`Engine::observe`] sees every probe result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::hysteresis::Health;
use super::runner::{self, Subscriber};
use super::spec::{CheckKind, CheckSpec, Probe};
use super::{Checker, Outcome};
use crate::metrics::Histogram;

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

/// What the engine needs of the director's keys.
pub trait Key: Clone + Eq + Hash + Ord + fmt::Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + Ord + fmt::Debug + Send + Sync + 'static> Key for T {}

/// Sees every probe result of every key (not only transitions), after the
/// engine has recorded it; it runs on the check's task, so it must be quick.
pub type ResultHook<K> = Arc<dyn Fn(&K, &Outcome) + Send + Sync>;

/// A transition of one key's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent<K> {
    pub key: K,
    pub from: Health,
    pub to: Health,
    /// The last probe's outcome, or why the state was set without a probe.
    pub reason: String,
}

/// The current state of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub health: Health,
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// The last probe's outcome (or why no probe runs).
    pub last: Option<String>,
    pub last_checked: Option<Instant>,
}

impl Status {
    fn unknown() -> Status {
        Status {
            health: Health::Unknown,
            failures: 0,
            last: None,
            last_checked: None,
        }
    }
}

/// How often one key's health went from one state to another, counted where
/// the state changes (under the same lock), so that a reader never sees a
/// state without the transition that led to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transitions([[u64; 3]; 3]);

impl Transitions {
    fn slot(h: Health) -> usize {
        match h {
            Health::Unknown => 0,
            Health::Up => 1,
            Health::Down => 2,
        }
    }

    fn count(&mut self, from: Health, to: Health) {
        self.0[Self::slot(from)][Self::slot(to)] += 1;
    }

    /// The transitions seen at least once, as `((from, to), count)`.
    pub fn iter(&self) -> impl Iterator<Item = ((Health, Health), u64)> + '_ {
        const ALL: [Health; 3] = [Health::Unknown, Health::Up, Health::Down];
        ALL.iter()
            .flat_map(|&from| ALL.iter().map(move |&to| (from, to)))
            .map(|(from, to)| ((from, to), self.0[Self::slot(from)][Self::slot(to)]))
            .filter(|&(_, n)| n > 0)
    }
}

/// What the metrics endpoint reads of one key.
#[derive(Clone, Debug)]
pub struct Observed {
    pub status: Status,
    /// How long the probes feeding this key took.
    pub durations: Histogram,
    /// Since the key was first configured; kept across reconfigurations
    /// that keep the key.
    pub transitions: Transitions,
}

/// Identifies a group's task so that a task aborted by a reconfiguration
/// cannot write over the state of its successor.
pub(crate) type GroupId = u64;

struct Entry {
    group: Option<GroupId>,
    seen: Observed,
}

/// State shared by the engine and its tasks.
pub(crate) struct Shared<K> {
    // Ordered: snapshots come out sorted, with no sort of 10,000 keys.
    table: Mutex<BTreeMap<K, Entry>>,
    events: mpsc::UnboundedSender<HealthEvent<K>>,
    hook: RwLock<Option<ResultHook<K>>>,
}

impl<K: Key> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<K, Entry>> {
        // A panic elsewhere while holding the lock leaves plain data behind;
        // keep serving it rather than poisoning every later call.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a probe result for the subscribers of `group`, emitting
    /// events for those whose health changed.
    pub(crate) fn record(
        &self,
        group: GroupId,
        subscribers: &mut [Subscriber<K>],
        outcome: &Outcome,
        at: Instant,
        took: Duration,
    ) {
        let reason = outcome.to_string();
        let hook = self
            .hook
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut observed = Vec::new();
        let mut table = self.lock();
        for sub in subscribers.iter_mut() {
            let Some(entry) = table.get_mut(&sub.key).filter(|e| e.group == Some(group)) else {
                continue;
            };
            entry.seen.durations.observe(took);
            if hook.is_some() {
                observed.push(sub.key.clone());
            }
            let from = sub.hysteresis.health();
            let changed = sub.hysteresis.observe(outcome.is_up());
            entry.seen.status = Status {
                health: sub.hysteresis.health(),
                failures: sub.hysteresis.failures(),
                last: Some(reason.clone()),
                last_checked: Some(at),
            };
            if let Some(to) = changed {
                entry.seen.transitions.count(from, to);
                // The consumer logs transitions in its own terms (the director does).
                tracing::debug!(key = ?sub.key, %from, %to, %reason, "health changed");
                // The receiver may be gone while the engine shuts down.
                let _ = self.events.send(HealthEvent {
                    key: sub.key.clone(),
                    from,
                    to,
                    reason: reason.clone(),
                });
            }
        }
        drop(table);
        if let Some(hook) = hook {
            for key in &observed {
                hook(key, outcome);
            }
        }
    }

    /// Sets the keys of `group` back to Unknown (its task died).
    pub(crate) fn reset(&self, group: GroupId, keys: &[K], why: &str) {
        let mut table = self.lock();
        for key in keys {
            if table.get(key).and_then(|e| e.group) == Some(group) {
                self.set(&mut table, key, Some(group), Health::Unknown, why);
            }
        }
    }

    /// Sets a key's state without a probe (new, fixed or reassigned keys).
    fn set(
        &self,
        table: &mut BTreeMap<K, Entry>,
        key: &K,
        group: Option<GroupId>,
        to: Health,
        why: &str,
    ) {
        let entry = table.entry(key.clone()).or_insert_with(|| Entry {
            group,
            seen: Observed {
                status: Status::unknown(),
                durations: Histogram::new(),
                transitions: Transitions::default(),
            },
        });
        entry.group = group;
        let from = entry.seen.status.health;
        entry.seen.status = Status {
            health: to,
            failures: 0,
            last: Some(why.to_owned()),
            last_checked: None,
        };
        if from != to {
            entry.seen.transitions.count(from, to);
            tracing::debug!(?key, %from, %to, reason = why, "health changed");
            let _ = self.events.send(HealthEvent {
                key: key.clone(),
                from,
                to,
                reason: why.to_owned(),
            });
        }
    }
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
}

impl<K: Key, C: Checker> Engine<K, C> {
    /// An engine with no checks, and the receiver of its transition events.
    pub fn new(checker: C) -> (Self, mpsc::UnboundedReceiver<HealthEvent<K>>) {
        let (events, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            table: Mutex::new(BTreeMap::new()),
            events,
            hook: RwLock::new(None),
        });
        let engine = Engine {
            checker: Arc::new(checker),
            shared,
            groups: HashMap::new(),
            next_id: 0,
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
    }

    /// Calls `hook` with every probe result from now on (`None`: stop).
    pub fn observe(&self, hook: Option<ResultHook<K>>) {
        *self
            .shared
            .hook
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = hook;
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
        for group in &groups {
            group.task.abort();
        }
        for group in groups {
            // An aborted task ends with a cancellation error; that is the point.
            let _ = group.task.await;
        }
    }
}

/// Reads the engine's state from another task (the metrics endpoint); stays
/// valid across [`Engine::apply`].
#[derive(Clone)]
pub struct Observer<K: Key>(Arc<Shared<K>>);

impl<K: Key> Observer<K> {
    /// The current state of every key.
    pub fn snapshot(&self) -> BTreeMap<K, Status> {
        self.0
            .lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.seen.status.clone()))
            .collect()
    }

    /// Every key's state, the durations of the probes that fed it and its
    /// transitions, read at one instant.
    pub fn observed(&self) -> BTreeMap<K, Observed> {
        self.0
            .lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.seen.clone()))
            .collect()
    }
}

impl<K: Key, C: Checker> Drop for Engine<K, C> {
    fn drop(&mut self) {
        for group in self.groups.values() {
            group.task.abort();
        }
    }
}
