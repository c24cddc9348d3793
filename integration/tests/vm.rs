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

/// The test networks carry traffic through an IPVS table in both modes
/// (programmed here with ipvsadm, so that later failures point at lvsd).
#[test]
fn topologies_pass_traffic_through_ipvs() {
    use lvsd_integration::topology::{Mode, Topology};
    require_vm();
    for (mode, fwd, net) in [(Mode::Nat, "-m", 50), (Mode::Dr, "-g", 52)] {
        let t = Topology::new("vmt", mode, 2, net);
        t.director.sh(&format!("ipvsadm -A -t {}:80 -s rr", t.vip));
        for ip in &t.real_ips {
            t.director
                .sh(&format!("ipvsadm -a -t {}:80 -r {ip}:80 {fwd} -w 1", t.vip));
        }
        let got = t.fetch(4, None);
        let rs1 = got
            .iter()
            .filter(|s| s.as_deref() == Some("vmtrs1"))
            .count();
        let rs2 = got
            .iter()
            .filter(|s| s.as_deref() == Some("vmtrs2"))
            .count();
        assert_eq!(
            (rs1, rs2),
            (2, 2),
            "{mode:?}: round robin over two reals: {got:?}"
        );
        drop(t);
    }
}
