//! The reconcile step: compute what the kernel should hold, apply the
//! difference. The only place that writes to IPVS. A full pass
//! ([`Director::reconcile`]) reads the table first; an update
//! ([`Director::update`]) starts from the table the last pass left and reads
//! only when the kernel refuses something.
//!
//! A change refused because the table moved under us (an operator's ipvsadm
//! added or removed the same entry: EEXIST, ENOENT, ESRCH) is not a failure:
//! the table is read again and the difference recomputed, a few times at
//! most. Any other refusal is reported with the change, and the other
//! changes still go in.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tracing::{debug, info, warn};

use crate::config::model::Config;
use crate::ipvs::change::{apply_to, Change};
use crate::ipvs::error::{Errno, IpvsError};
use crate::ipvs::kernel::Kernel;
use crate::ipvs::table::{ServiceKey, Table};

use super::desired::{desired, fallback_active, real_serving, Facts, RealKey};
use super::diff::{diff, Owned};
use super::owned;
use super::plan::dest_addr;

/// How many times a pass re-reads the table after racing with someone else.
const RACE_RETRIES: usize = 3;

/// A full pass (start-up, resync) that makes more changes than this logs
/// each at debug level and one summary line: a start programming 1,000
/// services x 10 reals wrote 11,000 lines, twice (stderr and `logfile=`),
/// seconds of CPU in the emulated VM after the table was full. The status
/// file and `lvsd status` show every real. Health passes keep a line per
/// change whatever their size: each says which real moved, and when.
pub const LOG_EACH_UP_TO: usize = 100;

/// What one pass did.
#[derive(Debug, Default)]
pub struct Report {
    /// Changes the kernel accepted, in order.
    pub applied: Vec<Change>,
    /// Changes the kernel refused for another reason than a race, with
    /// the kernel's answer (its errno in [`IpvsError::Kernel`]).
    pub failed: Vec<(Change, IpvsError)>,
    /// Virtuals that stopped (`false`) or started again (`true`) having a
    /// real server that serves: the edges where ldirectord runs
    /// `fallbackcommand start` and `stop`.
    pub serving_edges: Vec<(ServiceKey, bool)>,
    /// Whether the pass read the table from the kernel (a full pass, or a
    /// re-read after a refusal): the table may then differ from the last
    /// one even with nothing applied.
    pub read: bool,
}

/// The director's view of the kernel for one configuration.
pub struct Director<K: Kernel> {
    kernel: K,
    config: Config,
    owned: Owned,
    state_file: Option<PathBuf>,
    /// Virtuals with no real server serving (their fallback may be in).
    unserved: BTreeSet<ServiceKey>,
    /// The kernel's table as of the end of the last pass.
    last: Table,
    /// Whether `last` is known to match the kernel (a pass succeeded since
    /// the last error); if not, the next pass reads the table in full.
    synced: bool,
    /// Configured reals seen in the table at the end of some pass: what
    /// [`desired`] needs to tell a quiesced real someone removed (stays
    /// out) from one never placed (goes in at weight 0).
    placed: BTreeSet<RealKey>,
}

impl<K: Kernel> Director<K> {
    /// `recorded` is the set read from the state file: services an earlier
    /// run owned, which are removed if the configuration no longer has them.
    pub fn new(kernel: K, config: Config, recorded: Owned, state_file: Option<PathBuf>) -> Self {
        let mut d = Director {
            kernel,
            config,
            owned: recorded,
            state_file,
            unserved: BTreeSet::new(),
            last: Table::new(),
            synced: false,
            placed: BTreeSet::new(),
        };
        d.own_config();
        d
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The kernel's table after the last pass (owned and foreign services).
    /// After a failed pass it is the last view lvsd had (with the changes
    /// the kernel confirmed), not an empty one: see [`Director::synced`].
    pub fn table(&self) -> &Table {
        &self.last
    }

    /// Whether [`Director::table`] is known to match the kernel: false
    /// before the first pass succeeds and after a pass failed (the kernel
    /// could not be read, or the outcome of some changes is unknown). Do
    /// not report the table as the kernel's while it is false.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    /// The configured reals this director has seen in the kernel's table
    /// at the end of a pass (see [`desired`]).
    pub fn placed(&self) -> &BTreeSet<RealKey> {
        &self.placed
    }

    /// Swaps in a new configuration. Services of the old one stay owned
    /// until a pass has removed them.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
        self.own_config();
    }

    fn own_config(&mut self) {
        let before = self.owned.len();
        self.owned
            .extend(self.config.virtuals.iter().map(|v| v.key));
        if self.owned.len() != before {
            self.store_owned();
        }
    }

    fn store_owned(&self) {
        if let Some(path) = &self.state_file {
            if let Err(e) = owned::store(path, &self.owned) {
                warn!(path = %path.display(), error = %e, "cannot record owned services");
            }
        }
    }

    /// A full pass: read the whole table, then desired, diff, apply. For
    /// start-up and the periodic resync, which repair drift.
    pub fn reconcile(&mut self, facts: &Facts) -> Result<Report, IpvsError> {
        self.full_pass(facts, true)
    }

    /// `summarise`: a start-up or resync may log a big pass as one line
    /// ([`LOG_EACH_UP_TO`]); a health pass that had to read the table
    /// first (after a failed pass) still logs each change.
    fn full_pass(&mut self, facts: &Facts, summarise: bool) -> Result<Report, IpvsError> {
        // A failed read leaves the last view as it was (marked unsynced).
        let result = self.kernel.dump().and_then(|mut actual| {
            let result = self.pass(facts, &mut actual, summarise);
            self.last = actual;
            result
        });
        self.synced = result.is_ok();
        self.note_placed();
        result.map(|report| Report {
            read: true,
            ..report
        })
    }

    /// A pass from the table as the last pass left it, without reading the
    /// kernel first: for health events, maintenance and reloads, where only
    /// lvsd is expected to have moved its own services. A no-op costs no
    /// netlink traffic at all, and a burst of failures at 10,000 reals does
    /// not read 10,000 reals twice. If anything is refused (an operator got
    /// there first, or drift made a change invalid) the table is read and
    /// the pass goes on as a full one; drift that refuses nothing waits for
    /// the resync.
    pub fn update(&mut self, facts: &Facts) -> Result<Report, IpvsError> {
        if !self.synced {
            return self.full_pass(facts, false);
        }
        // Taken, not cloned (10,000 reals); put back whatever happens, so a
        // failed pass leaves the last view, not an empty table.
        let mut actual = std::mem::take(&mut self.last);
        let result = self.pass(facts, &mut actual, false);
        self.last = actual;
        self.synced = result.is_ok();
        self.note_placed();
        result
    }

    /// Records the configured reals the table holds after a pass (also a
    /// failed one: the table then has what the kernel confirmed).
    fn note_placed(&mut self) {
        for v in &self.config.virtuals {
            let Some(e) = self.last.services.get(&v.key) else {
                continue;
            };
            for r in &v.reals {
                if e.dests.contains_key(&dest_addr(&v.key, r.addr, r.forward)) {
                    self.placed.insert(RealKey {
                        service: v.key,
                        real: r.addr,
                    });
                }
            }
        }
    }

    /// `actual` is edited in place: on an error it still holds the last
    /// view plus the changes the kernel confirmed. `summarise`: see
    /// [`LOG_EACH_UP_TO`]; the summary is written on an error too, so the
    /// log keeps what a pass that failed half-way had applied.
    fn pass(
        &mut self,
        facts: &Facts,
        actual: &mut Table,
        summarise: bool,
    ) -> Result<Report, IpvsError> {
        let mut report = Report::default();
        // Decided once, from the first attempt: a retry after a race logs
        // the same way, so no change is both a line and in the summary.
        let mut each = None;
        let result = self.attempts(facts, actual, summarise, &mut each, &mut report);
        if each == Some(false) {
            log_summary(&report);
        }
        result?;
        self.finish_pass(actual, &mut report);
        Ok(report)
    }

    /// Desired, diff, apply; again after a race with someone else.
    fn attempts(
        &mut self,
        facts: &Facts,
        actual: &mut Table,
        summarise: bool,
        each: &mut Option<bool>,
        report: &mut Report,
    ) -> Result<(), IpvsError> {
        for attempt in 0..=RACE_RETRIES {
            let want = desired(&self.config, facts, &self.placed, actual);
            let changes = diff(actual, &want, &self.owned);
            if changes.is_empty() {
                break;
            }
            let each = *each.get_or_insert(!summarise || changes.len() <= LOG_EACH_UP_TO);
            let results = self.kernel.apply_all(&changes)?;
            let mut raced = false;
            // Whether `actual` no longer says what the kernel holds.
            let mut unsure = false;
            for (change, result) in changes.into_iter().zip(results) {
                match result {
                    Ok(()) if each => {
                        info!(%change, "applied");
                        unsure |= apply_to(actual, &change).is_err();
                        report.applied.push(change);
                    }
                    Ok(()) => {
                        debug!(%change, "applied");
                        // The kernel took it: the same edit on our copy
                        // keeps it exact without reading the table back.
                        unsure |= apply_to(actual, &change).is_err();
                        report.applied.push(change);
                    }
                    Err(e) if is_race(&e) && attempt < RACE_RETRIES => {
                        warn!(%change, error = %e, "table changed underneath; reading it again");
                        raced = true;
                        unsure = true;
                    }
                    Err(e) => {
                        warn!(%change, error = %e, "change refused");
                        report.failed.push((change, e));
                        unsure = true;
                    }
                }
            }
            if !unsure {
                break;
            }
            *actual = self.kernel.dump()?;
            report.read = true;
            if !raced {
                break;
            }
        }
        Ok(())
    }

    fn finish_pass(&mut self, actual: &Table, report: &mut Report) {
        // Services removed from the configuration are no longer ours once gone.
        let configured: BTreeSet<ServiceKey> = self.config.virtuals.iter().map(|v| v.key).collect();
        let before = self.owned.len();
        self.owned
            .retain(|k| configured.contains(k) || actual.services.contains_key(k));
        if self.owned.len() != before {
            self.store_owned();
        }
        for v in &self.config.virtuals {
            let serving = real_serving(v, actual);
            let was = !self.unserved.contains(&v.key);
            if serving != was {
                report.serving_edges.push((v.key, serving));
                if serving {
                    self.unserved.remove(&v.key);
                } else {
                    self.unserved.insert(v.key);
                }
            }
        }
        self.unserved.retain(|k| configured.contains(k));
    }

    /// Whether the fallback server of this virtual is in the table.
    pub fn fallback_on(&self, key: &ServiceKey) -> bool {
        self.config
            .virtuals
            .iter()
            .find(|v| v.key == *key)
            .is_some_and(|v| fallback_active(v, &self.last))
    }

    /// Virtuals without a serving real server (for `fallbackcommand stop`
    /// on shutdown).
    pub fn unserved(&self) -> impl Iterator<Item = &ServiceKey> {
        self.unserved.iter()
    }

    /// `cleanstop`: removes the owned services whose virtual asks for it
    /// (all of them with `cleanstop=yes`, the default). The report holds
    /// the deletions done and those the kernel refused.
    pub fn clean_stop(&mut self) -> Result<Report, IpvsError> {
        let mut report = Report {
            read: true,
            ..Report::default()
        };
        self.synced = false;
        let actual = self.kernel.dump()?;
        let doomed: Vec<ServiceKey> = self
            .config
            .virtuals
            .iter()
            .filter(|v| v.cleanstop && actual.services.contains_key(&v.key))
            .map(|v| v.key)
            .collect();
        for key in doomed {
            let change = Change::DelService(key);
            match self.kernel.apply(&change) {
                Ok(()) => {
                    info!(%change, "cleanstop");
                    self.owned.remove(&key);
                    report.applied.push(change);
                }
                Err(e) if is_race(&e) => {
                    self.owned.remove(&key);
                }
                Err(e) => report.failed.push((change, e)),
            }
        }
        self.store_owned();
        Ok(report)
    }
}

/// The one line of a pass too big for a line per change: how many of each.
fn log_summary(report: &Report) {
    let mut n = [0usize; 6];
    for c in &report.applied {
        n[match c {
            Change::AddService(..) => 0,
            Change::EditService(..) => 1,
            Change::DelService(..) => 2,
            Change::AddDest(..) => 3,
            Change::EditDest(..) => 4,
            Change::DelDest(..) => 5,
        }] += 1;
    }
    info!(
        changes = report.applied.len(),
        services_added = n[0],
        services_edited = n[1],
        services_removed = n[2],
        reals_added = n[3],
        reals_edited = n[4],
        reals_removed = n[5],
        refused = report.failed.len(),
        "applied in one pass (each change at debug level; the status file shows every real)"
    );
}

/// EEXIST / ENOENT / ESRCH: someone else changed the same entry.
fn is_race(e: &IpvsError) -> bool {
    matches!(
        e,
        IpvsError::Kernel {
            errno: Errno::Exists | Errno::NotFound | Errno::NoSuchService,
            ..
        }
    )
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reconcile_faults.rs"]
mod faults;

#[cfg(test)]
#[path = "reconcile_log_tests.rs"]
mod log_tests;
