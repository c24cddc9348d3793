//! lvsd's netlink client used in-process against the VM's kernel (root
//! namespace, flushed before and after each test): tables programmed by
//! ipvsadm are dumped exactly, kernel errors come back typed and name the
//! object, and the rest of the family (timeouts, sync daemons, zero, flush)
//! works.

use lvsd::ipvs::change::apply_to;
use lvsd::ipvs::error::{Errno, IpvsError, Op};
use lvsd::ipvs::names::Numeric;
use lvsd::ipvs::save::render_snapshot_save;
use lvsd::ipvs::snapshot::{Daemon, DaemonState, Timeouts};
use lvsd::ipvs::{
    rules, Change, Client, Dest, Family, Forward, Protocol, Service, ServiceKey, Table,
};
use lvsd_integration::ipvs::{assert_same_text, matrix_rules};
use lvsd_integration::{lvsd_bin, require_vm, sh, sh_output};

/// The root namespace's table, emptied now and again when dropped.
struct RootTable;

impl RootTable {
    fn new() -> RootTable {
        require_vm();
        sh("ipvsadm -C");
        // Routes so that IPv4 real servers count as unicast (see Lab).
        sh("ip link show d9 >/dev/null 2>&1 || { ip link add d9 type dummy && ip link set d9 up && \
            ip route add default dev d9 && ip -6 route add default dev d9; }");
        RootTable
    }
}

impl Drop for RootTable {
    fn drop(&mut self) {
        let _ = sh_output(
            "ipvsadm -C; ipvsadm --stop-daemon master; ipvsadm --stop-daemon backup; ip link del d9",
        );
    }
}

fn expected(rules_text: &str) -> Table {
    let mut t = Table::new();
    for c in rules::parse(rules_text).expect("the test rules parse") {
        apply_to(&mut t, &c).expect("the test rules are consistent");
    }
    t
}

#[test]
fn a_table_programmed_by_ipvsadm_is_dumped_exactly() {
    let _t = RootTable::new();
    let text = matrix_rules(false);
    std::fs::write("/tmp/matrix.rules", &text).unwrap();
    sh("ipvsadm -R < /tmp/matrix.rules");
    let mut c = Client::connect().unwrap();
    let got = c.snapshot().unwrap();
    let want = expected(&text);
    assert_eq!(got.table.len(), want.len());
    for (k, e) in &want.services {
        assert_eq!(got.table.services.get(k), Some(e), "service {k}");
    }
    assert_eq!(got.table, want);
    assert_eq!(got.info.version_triple(), (1, 2, 1));
    assert!(got.info.conn_tab_size > 0);
}

#[test]
fn changes_applied_by_the_client_are_what_ipvsadm_sees() {
    let _t = RootTable::new();
    let text = matrix_rules(false);
    let changes = rules::parse(&text).unwrap();
    let mut c = Client::connect().unwrap();
    let results = c.apply_all(&changes).unwrap();
    assert_eq!(results.len(), changes.len());
    for (ch, r) in changes.iter().zip(&results) {
        assert!(r.is_ok(), "{ch}: {:?}", r);
    }
    let want = expected(&text);
    let snap = c.snapshot().unwrap();
    assert_eq!(snap.table, want);
    assert_same_text(
        &sh("ipvsadm -S -n"),
        &render_snapshot_save(&snap, &Numeric),
        "ipvsadm -S -n vs the table lvsd programmed",
    );
    // Edits and deletes, one by one.
    let (k, e) = want.services.iter().next().unwrap();
    let mut svc = e.service.clone();
    svc.scheduler = "rr".into();
    c.apply(&Change::EditService(*k, svc.clone())).unwrap();
    let (a, d) = e.dests.iter().next().unwrap();
    let mut d2 = d.clone();
    d2.weight = 42;
    c.apply(&Change::EditDest(*k, *a, d2.clone())).unwrap();
    let now = c.snapshot().unwrap().table;
    assert_eq!(now.services[k].service, svc);
    assert_eq!(now.services[k].dests[a], d2);
    c.apply(&Change::DelDest(*k, *a)).unwrap();
    c.apply(&Change::DelService(*k)).unwrap();
    assert!(!c.snapshot().unwrap().table.services.contains_key(k));
}

#[test]
fn kernel_errors_are_typed_and_name_the_object() {
    let _t = RootTable::new();
    let k = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.7.0.1:80".parse().unwrap(),
    };
    let a = "10.7.0.2:80".parse().unwrap();
    let mut c = Client::connect().unwrap();
    let svc = Service::new("wlc", Family::Inet);
    c.apply(&Change::AddService(k, svc.clone())).unwrap();

    let e = c.apply(&Change::AddService(k, svc.clone())).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::Exists));
    assert_eq!(
        e.to_string(),
        "add service tcp 10.7.0.1:80: service already exists (EEXIST)"
    );

    let e = c.apply(&Change::DelDest(k, a)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NotFound));
    assert_eq!(
        e.to_string(),
        "delete real server 10.7.0.2:80 of tcp 10.7.0.1:80: no such real server (ENOENT)"
    );

    let other = ServiceKey::FwMark {
        family: Family::Inet6,
        mark: 9,
    };
    let e = c.apply(&Change::DelService(other)).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NoSuchService));
    assert_eq!(
        e.to_string(),
        "delete service fwmark 9 ipv6: no such service (ESRCH)"
    );

    let e = c
        .apply(&Change::AddService(
            other,
            Service::new("nosuch", Family::Inet6),
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            IpvsError::Kernel {
                op: Op::AddService,
                errno: Errno::NotFound,
                ..
            }
        ),
        "{e}"
    );

    // Mixed families are only allowed for tunnels: EINVAL, naming both ends.
    let v6: std::net::SocketAddr = "[fd00::2]:80".parse().unwrap();
    let e = c
        .apply(&Change::AddDest(k, v6, Dest::new(Forward::Masq, 1)))
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::Invalid));
    assert_eq!(
        e.to_string(),
        "add real server [fd00::2]:80 of tcp 10.7.0.1:80: invalid argument (EINVAL)"
    );

    // A pipelined batch: each failure is tied to its change, the rest apply.
    let d = Dest::new(Forward::Masq, 1);
    let batch = [
        Change::AddDest(k, a, d.clone()),
        Change::AddDest(k, a, d.clone()),
        Change::AddDest(other, a, d.clone()),
        Change::DelDest(k, a),
    ];
    let r = c.apply_all(&batch).unwrap();
    assert!(r[0].is_ok() && r[3].is_ok(), "{r:?}");
    assert_eq!(r[1].as_ref().unwrap_err().errno(), Some(Errno::Exists));
    assert_eq!(
        r[2].as_ref().unwrap_err().errno(),
        Some(Errno::NoSuchService)
    );
    assert!(c.snapshot().unwrap().table.services[&k].dests.is_empty());
}

#[test]
fn a_service_deleted_during_a_dump_is_an_error_not_a_partial_table() {
    let _t = RootTable::new();
    sh("ipvsadm -A -t 10.6.0.1:80 -s rr && ipvsadm -a -t 10.6.0.1:80 -r 10.6.0.2:80 -m");
    let mut c = Client::connect().unwrap();
    let services = c.services().unwrap();
    assert_eq!(services.len(), 1);
    // Between the service dump and its destinations' dump, it goes away.
    sh("ipvsadm -D -t 10.6.0.1:80");
    let e = c.dests(&services[0].0).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::NoSuchService), "{e}");
    assert!(e.to_string().contains("tcp 10.6.0.1:80"), "{e}");
}

#[test]
fn timeouts_daemons_zero_and_flush_through_the_client() {
    let _t = RootTable::new();
    let mut c = Client::connect().unwrap();
    let t = Timeouts {
        tcp: 1000,
        tcp_fin: 60,
        udp: 45,
    };
    c.set_timeouts(&t).unwrap();
    assert_eq!(c.timeouts().unwrap(), t);
    assert_eq!(
        sh("ipvsadm -L --timeout"),
        "Timeout (tcp tcpfin udp): 1000 60 45\n"
    );
    c.set_timeouts(&Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    })
    .unwrap();

    let d = Daemon {
        state: DaemonState::Backup,
        mcast_ifn: "d9".into(),
        sync_id: 12,
        sync_maxlen: 1200,
        mcast_group: Some("239.2.2.2".parse().unwrap()),
        mcast_port: 7000,
        mcast_ttl: 2,
    };
    c.start_daemon(&d).unwrap();
    assert_eq!(
        sh("ipvsadm -L --daemon"),
        "backup sync daemon (mcast=d9, syncid=12, maxlen=1200, group=239.2.2.2, port=7000, ttl=2)\n"
    );
    assert_eq!(c.daemons().unwrap(), vec![d.clone()]);
    let e = c.start_daemon(&d).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::Exists), "{e}");
    c.stop_daemon(DaemonState::Backup).unwrap();
    assert!(c.daemons().unwrap().is_empty());

    sh("ipvsadm -A -t 10.8.0.1:80 -s rr && ipvsadm -A -u 10.8.0.1:53 -s rr");
    c.zero(None).unwrap();
    c.flush().unwrap();
    assert!(c.snapshot().unwrap().table.is_empty());
    assert_eq!(sh("ipvsadm -S -n"), "");
}

#[test]
fn without_cap_net_admin_lvsd_says_so_in_one_line() {
    let _t = RootTable::new();
    let out = sh_output(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all {} list -n",
        lvsd_bin().display()
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_ADMIN"), "{err}");
    assert!(out.stdout.is_empty());
}
