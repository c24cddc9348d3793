//! The pass: what it changes, owns, refuses and repairs.

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
