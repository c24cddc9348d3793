//! The health table the engine and its tasks share: every key's state,
//! the durations of its probes and its transitions, behind one lock. The
//! engine ([`super::engine`]) writes which keys exist and which group feeds
//! each; the group tasks ([`super::runner`]) record probe results; readers
//! on other tasks (the metrics endpoint, `lvsd status`) read it through an
//! [`Observer`]. It knows nothing of probing or scheduling, so both the
//! engine and the runner depend on it and not on each other.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::histogram::Histogram;
use super::hysteresis::{Health, Hysteresis};
use super::Outcome;

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

pub(super) struct Entry {
    /// The group whose task feeds the key; `None` for `checktype=on`/`off`.
    pub(super) group: Option<GroupId>,
    seen: Observed,
}

/// One key fed by a group, with its own failure counter.
pub(crate) struct Subscriber<K> {
    pub(crate) key: K,
    pub(crate) hysteresis: Hysteresis,
}

/// State shared by the engine and its tasks.
pub(crate) struct Shared<K> {
    // Ordered: snapshots come out sorted, with no sort of 10,000 keys.
    table: Mutex<BTreeMap<K, Entry>>,
    events: mpsc::UnboundedSender<HealthEvent<K>>,
    hook: RwLock<Option<ResultHook<K>>>,
}

impl<K: Key> Shared<K> {
    pub(super) fn new(events: mpsc::UnboundedSender<HealthEvent<K>>) -> Shared<K> {
        Shared {
            table: Mutex::new(BTreeMap::new()),
            events,
            hook: RwLock::new(None),
        }
    }

    /// Calls `hook` with every probe result from now on (`None`: stop).
    pub(super) fn set_hook(&self, hook: Option<ResultHook<K>>) {
        *self
            .hook
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = hook;
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, BTreeMap<K, Entry>> {
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
    pub(super) fn set(
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

/// Reads the engine's state from another task (the metrics endpoint); stays
/// valid across [`Engine::apply`](super::Engine::apply).
#[derive(Clone)]
pub struct Observer<K: Key>(pub(super) Arc<Shared<K>>);

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
