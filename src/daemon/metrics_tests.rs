//! Tests of [`super`] (metrics.rs).

use super::*;
use crate::check::{Engine, Prober};
use crate::ipvs::{Forward, Protocol};

fn config(text: &str) -> Config {
    crate::config::test_config(text)
}

#[tokio::test]
async fn the_endpoint_follows_the_configuration_and_survives_a_bad_address() {
    let (engine, _events) = Engine::<RealKey, _>::new(Prober::new());
    let mut m = Metrics::new(engine.observer());
    let mut c = config("virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n");
    m.configure(&c).expect("off");
    assert_eq!(m.local_addr(), None);

    c.global.metrics = Some("127.0.0.1:0".parse().unwrap());
    m.configure(&c).expect("bind");
    let first = m.local_addr().expect("listening");
    assert!(std::net::TcpStream::connect(first).is_ok());

    // Another address that is taken: the old endpoint keeps serving.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    c.global.metrics = Some(taken.local_addr().unwrap());
    m.configure(&c)
        .expect("a reload never fails on the endpoint");
    assert_eq!(m.local_addr(), Some(first));
    assert!(std::net::TcpStream::connect(first).is_ok());

    // A free one: moved.
    drop(taken);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free_addr = free.local_addr().unwrap();
    drop(free);
    c.global.metrics = Some(free_addr);
    m.configure(&c).expect("move");
    assert_eq!(m.local_addr(), Some(free_addr));

    c.global.metrics = None;
    m.configure(&c).expect("off again");
    assert_eq!(m.local_addr(), None);
}

#[test]
fn kernel_weights_are_found_at_the_kernel_address_of_each_real() {
    // Gate: the kernel's destination carries the virtual's port.
    let c = config(
        "virtual=10.0.0.1:80\n\treal=10.0.1.1 gate 2\n\treal=10.0.1.2 gate\n\
         virtual=10.0.0.2:80\n\treal=10.0.1.3:8080 masq\n",
    );
    let svc = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1:80".parse().unwrap(),
    };
    let counters = DestCounters {
        active_conns: 1,
        inact_conns: 2,
        persist_conns: 0,
        stats: Stats {
            conns: 3,
            ..Stats::default()
        },
    };
    let dest = |a: &str| (a.parse().unwrap(), Dest::new(Forward::Route, 2), counters);
    let kernel = BTreeMap::from([(
        svc,
        (
            Stats {
                conns: 3,
                ..Stats::default()
            },
            vec![dest("10.0.1.1:80")],
        ),
    )]);
    // The table the last pass left, as the view shows it.
    let mut table = crate::ipvs::table::Table::new();
    let mut e =
        crate::ipvs::table::ServiceEntry::new(crate::director::plan::service(&c.virtuals[0]));
    e.dests
        .insert("10.0.1.1:80".parse().unwrap(), Dest::new(Forward::Route, 2));
    table.services.insert(svc, e);
    let view =
        crate::director::view::build(&c, &table, true, &BTreeMap::new(), &Default::default());
    let s = build(
        &view,
        &BTreeMap::new(),
        scrape::Daemon::default(),
        &SyncView::default(),
        Ok(kernel),
    );
    let weights: Vec<_> = s
        .reals
        .iter()
        .map(|r| (r.virtual_.as_str(), r.real.as_str(), r.kernel_weight))
        .collect();
    assert_eq!(
        weights,
        vec![
            ("tcp 10.0.0.1:80", "10.0.1.1:0", Some(2)),
            ("tcp 10.0.0.1:80", "10.0.1.2:0", None),
            ("tcp 10.0.0.2:80", "10.0.1.3:8080", None),
        ]
    );
    assert!(s.reals.iter().all(|r| r.health == Health::Unknown));
    let k = s.kernel.expect("read");
    assert_eq!(k.len(), 2, "the service and its one destination: {k:?}");
    assert_eq!(k[1].real.as_deref(), Some("10.0.1.1:80"));
    assert_eq!(k[1].conns_now, Some((1, 2)));
}

/// Issue 16: the sync threads the daemon last listed (what status shows)
/// reach the scrape, marked with whether lvsd started each; a failed
/// listing is said.
#[tokio::test]
async fn a_scrape_shows_the_sync_threads_last_listed() {
    use crate::ipvs::snapshot::DaemonState;
    let (engine, _events) = Engine::<RealKey, _>::new(Prober::new());
    let m = Metrics::new(engine.observer());
    let c = config("virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n");
    let view = Arc::new(crate::director::view::build(
        &c,
        &crate::ipvs::table::Table::new(),
        true,
        &BTreeMap::new(),
        &Default::default(),
    ));
    m.pass(None, &view);
    m.sync(&SyncView {
        threads: vec![
            (DaemonState::Master, "eth0".into(), 7, true),
            (DaemonState::Backup, "eth1".into(), 7, false),
        ],
        error: None,
        foreign: vec![crate::daemon::sync::ForeignSyncid {
            interface: "eth1".into(),
            syncid: 8,
            ours: 7,
            messages: 12,
            last_peer: "192.0.2.1".parse().unwrap(),
        }],
    });
    let cache = KernelCache::new(KERNEL_CACHE);
    let scrape = |m: &Metrics| {
        scrape_now(&m.recorded, &m.observer, &cache, |_| {
            Ok(BTreeMap::<ServiceKey, KernelService>::new())
        })
    };
    let t = scrape(&m);
    for line in [
        r#"lvsd_sync_thread{state="master",interface="eth0",syncid="7",owner="lvsd"} 1"#,
        r#"lvsd_sync_thread{state="backup",interface="eth1",syncid="7",owner="other"} 1"#,
        "lvsd_sync_error 0",
        r#"lvsd_sync_foreign_syncid_messages_total{interface="eth1",syncid="8"} 12"#,
    ] {
        assert!(t.lines().any(|l| l == line), "missing {line:?} in\n{t}");
    }
    m.sync(&SyncView {
        threads: Vec::new(),
        error: Some("cannot list the sync threads: EPERM".into()),
        foreign: Vec::new(),
    });
    let t = scrape(&m);
    assert!(!t.contains("lvsd_sync_thread{"), "{t}");
    assert!(t.lines().any(|l| l == "lvsd_sync_error 1"), "{t}");
}
