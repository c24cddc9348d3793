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
        // A failed read leaves the last view as it was (marked unsynced).
        let result = self.kernel.dump().and_then(|mut actual| {
            let result = self.pass(facts, &mut actual, true);
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
            return self.reconcile(facts);
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
    /// view plus the changes the kernel confirmed. `full`: the table was
    /// read first (see [`LOG_EACH_UP_TO`]).
    fn pass(&mut self, facts: &Facts, actual: &mut Table, full: bool) -> Result<Report, IpvsError> {
        let mut report = Report::default();
        let mut summed = false;
        for attempt in 0..=RACE_RETRIES {
            let want = desired(&self.config, facts, &self.placed, actual);
            let changes = diff(actual, &want, &self.owned);
            if changes.is_empty() {
                break;
            }
            let each = !full || changes.len() <= LOG_EACH_UP_TO;
            summed |= !each;
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
        if summed {
            log_summary(&report);
        }
        self.finish_pass(actual, &mut report);
        Ok(report)
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
mod tests {
    use super::*;
    use crate::check::Health;
    use crate::ipvs::memory::MemoryKernel;
    use crate::ipvs::table::{Dest, Family, Forward, Protocol, Service, ServiceEntry};

    fn config(text: &str) -> Config {
        crate::config::test_config(text)
    }

    fn tcp(s: &str) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: s.parse().unwrap(),
        }
    }

    fn foreign() -> (ServiceKey, ServiceEntry) {
        let mut e = ServiceEntry::new(Service::new("rr", Family::Inet));
        e.dests
            .insert("192.0.2.9:80".parse().unwrap(), Dest::new(Forward::Masq, 3));
        (tcp("192.0.2.1:80"), e)
    }

    /// Nothing checked yet.
    fn nothing() -> Facts {
        Facts::default()
    }

    /// Every real of [`CF`] checked and failing.
    fn all_down() -> Facts {
        let mut f = all_up();
        f.health.values_mut().for_each(|h| *h = Health::Down);
        f
    }

    fn all_up() -> Facts {
        Facts::all_up(&config(CF))
    }

    const CF: &str = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2\n\tfallback=127.0.0.1:80\n";

    #[test]
    fn foreign_services_survive_and_recorded_ones_are_cleaned_up() {
        let (fk, fe) = foreign();
        let stale = tcp("10.9.9.9:80");
        let mut table = Table::new();
        table.services.insert(fk, fe.clone());
        table
            .services
            .insert(stale, ServiceEntry::new(Service::new("wlc", Family::Inet)));
        let recorded: Owned = [stale].into();
        let mut d = Director::new(MemoryKernel::new(table), config(CF), recorded, None);

        let r = d.reconcile(&nothing()).unwrap();
        let t = d.table().clone();
        assert_eq!(t.services[&fk], fe, "foreign service untouched");
        assert!(!t.services.contains_key(&stale), "recorded service removed");
        let ours = &t.services[&tcp("10.0.0.1:80")];
        assert_eq!(ours.dests.len(), 1, "only the fallback before any check");
        assert_eq!(r.serving_edges, vec![(tcp("10.0.0.1:80"), false)]);
        assert!(d.fallback_on(&tcp("10.0.0.1:80")));

        // All up: the real replaces the fallback; a second pass is a no-op.
        let r = d.reconcile(&all_up()).unwrap();
        assert_eq!(r.serving_edges, vec![(tcp("10.0.0.1:80"), true)]);
        assert!(!d.fallback_on(&tcp("10.0.0.1:80")));
        let dests: Vec<_> = d.table().services[&tcp("10.0.0.1:80")]
            .dests
            .keys()
            .copied()
            .collect();
        assert_eq!(dests, vec!["10.0.1.1:80".parse().unwrap()]);
        assert!(d.reconcile(&all_up()).unwrap().applied.is_empty());

        // Clean stop removes ours only.
        assert!(d.clean_stop().unwrap().failed.is_empty());
        let left = d.kernel().dump().unwrap();
        assert_eq!(left.services.keys().copied().collect::<Vec<_>>(), vec![fk]);
    }

    /// A kernel where an operator adds the same service just before lvsd.
    struct Racy {
        inner: MemoryKernel,
        raced: bool,
    }

    impl Kernel for Racy {
        fn dump(&mut self) -> Result<Table, IpvsError> {
            self.inner.dump()
        }
        fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
            if !self.raced {
                self.raced = true;
                if let Change::AddService(k, s) = change {
                    self.inner.apply(&Change::AddService(*k, s.clone()))?;
                }
            }
            self.inner.apply(change)
        }
    }

    #[test]
    fn a_race_with_an_operator_is_read_again_not_fatal() {
        let k = Racy {
            inner: MemoryKernel::default(),
            raced: false,
        };
        let c = config(CF);
        let want = crate::director::desired::all_up(&c);
        let mut d = Director::new(k, c, Owned::new(), None);
        let r = d.reconcile(&all_up()).unwrap();
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(d.table(), &want);
    }

    #[test]
    fn cleanstop_no_leaves_the_table_serving() {
        let mut d = Director::new(
            MemoryKernel::default(),
            config(&format!("cleanstop=no\n{CF}")),
            Owned::new(),
            None,
        );
        d.reconcile(&all_up()).unwrap();
        assert!(d.clean_stop().unwrap().failed.is_empty());
        assert_eq!(d.kernel().dump().unwrap().len(), 1);
    }

    #[test]
    fn a_virtual_dropped_from_the_config_is_removed_on_reload() {
        let two = format!("{CF}virtual=10.0.0.2:80\n\treal=10.0.1.2:80 masq\n");
        let mut d = Director::new(MemoryKernel::default(), config(&two), Owned::new(), None);
        d.reconcile(&Facts::all_up(&config(&two))).unwrap();
        assert_eq!(d.table().len(), 2);
        d.set_config(config(CF));
        let r = d.reconcile(&all_up()).unwrap();
        assert_eq!(r.applied, vec![Change::DelService(tcp("10.0.0.2:80"))]);
    }

    /// Counts what reaches the kernel.
    #[derive(Default)]
    struct Counting {
        inner: MemoryKernel,
        dumps: usize,
        writes: usize,
    }

    impl Kernel for Counting {
        fn dump(&mut self) -> Result<Table, IpvsError> {
            self.dumps += 1;
            self.inner.dump()
        }
        fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
            self.writes += 1;
            self.inner.apply(change)
        }
    }

    #[test]
    fn an_update_with_nothing_to_do_touches_the_kernel_not_at_all() {
        let mut d = Director::new(Counting::default(), config(CF), Owned::new(), None);
        assert!(d.reconcile(&all_up()).unwrap().read);
        let (dumps, writes) = (d.kernel().dumps, d.kernel().writes);
        assert_eq!(dumps, 1, "a full pass that applies cleanly reads once");
        // A no-op reload, twice.
        d.set_config(config(CF));
        for _ in 0..2 {
            let r = d.update(&all_up()).unwrap();
            assert!(r.applied.is_empty() && !r.read, "{:?}", r.applied);
        }
        assert_eq!((d.kernel().dumps, d.kernel().writes), (dumps, writes));
        // A real going down (and the fallback coming in) is written, still
        // without a read, and the copy stays exact.
        let r = d.update(&all_down()).unwrap();
        assert!(!r.applied.is_empty());
        assert_eq!(d.kernel().writes, writes + r.applied.len());
        assert_eq!(d.kernel().dumps, dumps);
        let kernel = d.kernel().inner.dump().unwrap();
        assert_eq!(d.table(), &kernel);
    }

    #[test]
    fn an_update_refused_because_of_drift_reads_the_table_and_repairs() {
        let c = config(CF);
        let want = crate::director::desired::all_up(&c);
        let mut d = Director::new(Counting::default(), c, Owned::new(), None);
        d.reconcile(&all_up()).unwrap();
        // An operator deletes lvsd's service behind its back.
        let key = *want.services.keys().next().unwrap();
        d.kernel().inner.apply(&Change::DelService(key)).unwrap();
        let dumps = d.kernel().dumps;
        // A real goes down: editing a service that is gone is refused,
        // the table is read, and the next round puts the service back.
        let r = d.update(&all_down()).unwrap();
        assert!(r.failed.is_empty(), "a race, not a failure: {:?}", r.failed);
        assert!(d.kernel().dumps > dumps, "the table was read again");
        assert!(r.read, "and the report says so");
        let kernel = d.kernel().inner.dump().unwrap();
        assert_eq!(d.table(), &kernel);
        assert!(kernel.services.contains_key(&key), "service restored");
    }

    #[test]
    fn after_a_kernel_error_the_next_update_is_a_full_pass() {
        struct Broken(bool, MemoryKernel);
        impl Kernel for Broken {
            fn dump(&mut self) -> Result<Table, IpvsError> {
                if self.0 {
                    return Err(IpvsError::FamilyMissing);
                }
                self.1.dump()
            }
            fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
                self.1.apply(change)
            }
        }
        let c = config(CF);
        let want = crate::director::desired::all_up(&c);
        let mut d = Director::new(Broken(true, MemoryKernel::default()), c, Owned::new(), None);
        assert!(
            d.update(&all_up()).is_err(),
            "never synced: a full pass, which fails"
        );
        d.kernel().0 = false;
        assert!(d.update(&all_up()).unwrap().read, "a full pass reads");
        assert_eq!(d.table(), &want);
    }
}

#[cfg(test)]
#[path = "reconcile_faults.rs"]
mod faults;

#[cfg(test)]
#[path = "reconcile_log_tests.rs"]
mod log_tests;
