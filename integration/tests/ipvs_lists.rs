//! Tables programmed through lvsd's netlink client (`lvsd restore`), read
//! back by Debian's ipvsadm and by lvsd: `lvsd save`/`lvsd list` must print
//! exactly what `ipvsadm -S`/`ipvsadm -L` print, option by option.

use lvsd_integration::ipvs::{big_rules, matrix_rules, Lab};
use lvsd_integration::require_vm;

const LIST_OPTIONS: [&str; 8] = [
    "",
    "--stats",
    "--rate",
    "--thresholds",
    "--persistent-conn",
    "--tun-info",
    "--stats --exact",
    "--rate --exact",
];

#[test]
fn matrix_programmed_by_lvsd_is_listed_like_ipvsadm() {
    require_vm();
    let lab = Lab::new("ipvs-matrix");
    let rules = matrix_rules(true);
    lab.restore(&rules);
    lab.assert_same("-S -n", "save -n");
    for opt in LIST_OPTIONS {
        lab.assert_same(&format!("-L -n {opt}"), &format!("list -n {opt}"));
    }
    // A real server on one of the director's own addresses: Linux 6.1
    // keeps the configured method (no substitution by Local), and lvsd
    // shows what the kernel says.
    let listing = lab.lvsd("list -n");
    let local = listing
        .lines()
        .find(|l| l.starts_with("  -> 10.250.0.1:1001 "))
        .expect("the real server on a local address is listed");
    assert!(local.contains(" Route "), "{local}");
    // Every service line and real server line made it into the kernel.
    let saved = lab.lvsd("save -n");
    assert_eq!(
        saved.lines().count(),
        rules.lines().count(),
        "every rule is in the kernel"
    );
}

#[test]
fn single_service_listings_have_no_version_line() {
    require_vm();
    let lab = Lab::new("ipvs-one");
    let rules = matrix_rules(false);
    lab.restore(&rules);
    // The service part of every -A line: "-t 192.168.1.1:1001", "-f 92 -6", ...
    let services: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.strip_prefix("-A ")?.split(" -s ").next())
        .collect();
    assert_eq!(services.len(), 104);
    for svc in [0, 20, 30, 45, 60, 79, 80, 90, 103].map(|i| services[i]) {
        for opt in ["", "--stats", "--thresholds"] {
            lab.assert_same(
                &format!("-L -n {opt} {svc}"),
                &format!("list -n {opt} {svc}"),
            );
        }
    }
    let out = lab.lvsd(&format!("list -n {}", services[0]));
    assert!(!out.contains("IP Virtual Server version"), "{out}");
    let missing = lab.ns.sh_output(&format!(
        "{} list -n -t 1.2.3.4:5",
        lvsd_integration::lvsd_bin().display()
    ));
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("tcp 1.2.3.4:5: no such service (ESRCH)"),
        "{err}"
    );
}

#[test]
fn names_are_resolved_like_ipvsadm_without_n() {
    require_vm();
    let lab = Lab::new("ipvs-names");
    // Every address is in /etc/hosts (the guest's copy), so no lookup
    // waits for a DNS server that cannot exist in the VM.
    lvsd_integration::sh(
        "printf '%s\\n' '10.9.0.1 www.example.test' '10.9.0.2 rs-one.example.test' \
         '10.9.0.3 a-real-server-with-a-very-long-name.example.test' \
         '2001:db8::80 www6.example.test' '2001:db8::81 rs6.example.test' >> /etc/hosts",
    );
    lab.restore(
        "-A -t 10.9.0.1:80 -s rr\n\
         -a -t 10.9.0.1:80 -r 10.9.0.2:80 -m -w 1\n\
         -a -t 10.9.0.1:80 -r 10.9.0.3:80 -m -w 2\n\
         -A -u 10.9.0.1:53 -s wlc\n\
         -a -u 10.9.0.1:53 -r 10.9.0.2:53 -m -w 1\n\
         -A -t [2001:db8::80]:443 -s sh\n\
         -a -t [2001:db8::80]:443 -r [2001:db8::81]:443 -m -w 1\n\
         -A -t 10.9.0.1:65000 -s rr\n\
         -A -f 3 -s rr\n\
         -a -f 3 -r 10.9.0.2:0 -g -w 1\n",
    );
    lab.assert_same("-L", "list");
    lab.assert_same("-L --stats", "list --stats");
    lab.assert_same("-S", "save");
    let l = lab.lvsd("list");
    assert!(l.contains("TCP  www.example.test:http rr"), "{l}");
}

#[test]
fn thousand_services_are_listed_like_ipvsadm() {
    require_vm();
    let lab = Lab::new("ipvs-big");
    lab.restore(&big_rules(1000, 10));
    lab.assert_same("-S -n", "save -n");
    lab.assert_same("-L -n", "list -n");
    assert_eq!(lab.lvsd("save -n").lines().count(), 11_000);
}

/// ipvsadm's muscle memory: `--sort` (its default), `--nosort` (the
/// kernel's order, services and real servers), `-Ln` after `list`.
#[test]
fn sort_nosort_and_combined_flags_behave_as_ipvsadm() {
    require_vm();
    let lab = Lab::new("ipvs-sort");
    lab.restore(&matrix_rules(false));
    lab.assert_same("-L -n --sort", "list --sort -n");
    lab.assert_same("-L -n --nosort", "list -n --nosort");
    lab.assert_same("-L -n --nosort --stats", "list -n --nosort --stats");
    lab.assert_same("-Ln", "list -Ln");
    assert_ne!(
        lab.lvsd("list -n --nosort"),
        lab.lvsd("list -n"),
        "the matrix is not in sorted order in the kernel, so --nosort shows"
    );
}

/// `lvsd set` is `ipvsadm --set`: 0 keeps a timeout as it is.
#[test]
fn set_changes_the_timeouts_as_ipvsadm_does() {
    require_vm();
    let lab = Lab::new("ipvs-set");
    lab.lvsd("set 200 60 40");
    assert_eq!(
        lab.ipvsadm("-L --timeout"),
        "Timeout (tcp tcpfin udp): 200 60 40\n"
    );
    lab.lvsd("set 0 0 10");
    assert_eq!(
        lab.ipvsadm("-L --timeout"),
        "Timeout (tcp tcpfin udp): 200 60 10\n"
    );
}

#[test]
fn timeouts_and_sync_daemons_are_listed_like_ipvsadm() {
    require_vm();
    let lab = Lab::new("ipvs-misc");
    lab.assert_same("-L --timeout", "list --timeout");
    lab.ipvsadm("--set 100 50 30");
    lab.assert_same("-L --timeout", "list --timeout");
    assert_eq!(
        lab.lvsd("list --timeout"),
        "Timeout (tcp tcpfin udp): 100 50 30\n"
    );
    lab.assert_same("-L --daemon", "list --daemon");
    lab.ipvsadm("--start-daemon master --mcast-interface d0 --syncid 5");
    lab.ipvsadm(
        "--start-daemon backup --mcast-interface d0 --syncid 7 --sync-maxlen 1400 \
         --mcast-group 239.1.1.1 --mcast-port 9000 --mcast-ttl 3",
    );
    lab.assert_same("-L --daemon", "list --daemon");
    assert!(lab.lvsd("list --daemon").contains("port=9000, ttl=3)"));
}
