//! The harness itself: the VM has IPVS, namespaces isolate tables, and the
//! lvsd binary under test runs there.

use lvsd_integration::{lvsd_bin, require_vm, sh, Netns};

#[test]
fn ipvs_is_loaded_and_tables_are_per_namespace() {
    require_vm();
    let a = Netns::new("vm-a");
    let b = Netns::new("vm-b");
    a.sh("ipvsadm -A -t 10.1.0.1:80 -s rr");
    assert_eq!(a.sh("ipvsadm -S -n"), "-A -t 10.1.0.1:80 -s rr\n");
    assert_eq!(b.sh("ipvsadm -S -n"), "");
}

#[test]
fn lvsd_binary_runs_in_the_guest() {
    require_vm();
    let out = sh(&format!("{} --version", lvsd_bin().display()));
    assert!(
        out.starts_with("lvsd "),
        "unexpected --version output: {out}"
    );
}
