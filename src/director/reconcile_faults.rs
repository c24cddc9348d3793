//! A pass that fails (a read or a write of the kernel) keeps the last view.

use super::*;
use crate::check::Health;
use crate::ipvs::memory::MemoryKernel;

const CF: &str = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2\n\tfallback=127.0.0.1:80\n";

fn all_up() -> Facts {
    Facts::all_up(&crate::config::test_config(CF))
}

/// Every real checked and failing.
fn all_down() -> Facts {
    let mut f = all_up();
    f.health.values_mut().for_each(|h| *h = Health::Down);
    f
}

fn synced_director() -> (Director<MemoryKernel>, Table) {
    let c = crate::config::test_config(CF);
    let want = crate::director::desired::all_up(&c);
    let mut d = Director::new(MemoryKernel::default(), c, Owned::new(), None);
    d.reconcile(&all_up()).unwrap();
    assert!(d.synced());
    assert_eq!(d.table(), &want);
    (d, want)
}

#[test]
fn a_failed_update_keeps_the_last_view_and_the_next_one_reads_in_full() {
    let (mut d, want) = synced_director();
    // A real goes down, and the write fails as a whole.
    d.kernel().fail_applies = 1;
    assert!(d.update(&all_down()).is_err());
    assert!(!d.synced(), "the view is marked stale");
    assert_eq!(d.table(), &want, "the last view, not an empty table");
    // The next update reads the table first (a full pass) and goes on.
    let r = d.update(&all_down()).unwrap();
    assert!(r.read, "a full read after the failure");
    assert!(d.synced());
    let kernel = d.kernel().dump().unwrap();
    assert_eq!(d.table(), &kernel);
}

#[test]
fn a_failed_read_keeps_the_last_view() {
    let (mut d, want) = synced_director();
    d.kernel().fail_dumps = 1;
    assert!(d.reconcile(&all_up()).is_err());
    assert!(!d.synced());
    assert_eq!(d.table(), &want);
    // An update right after is a full pass (one read), which succeeds.
    d.kernel().fail_dumps = 0;
    assert!(d.update(&all_up()).unwrap().read);
    assert!(d.synced());
    assert_eq!(d.table(), &want);
}
