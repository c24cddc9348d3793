use super::*;
use crate::config::model::SyncRole;
use crate::daemon::sync::header::{encode, Header, Version};
use crate::ipvs::snapshot::DaemonState;

fn spec(ours: u8) -> Spec {
    Spec {
        interface: "lo".into(),
        group: IpAddr::V4(header::DEFAULT_GROUP_V4),
        port: header::DEFAULT_PORT,
        ours,
    }
}

fn msg(syncid: u8) -> Vec<u8> {
    let mut m = encode(&Header {
        version: Version::V1,
        syncid,
        size: 44,
        nr_conns: 1,
    });
    m.resize(44, 0);
    m
}

#[test]
fn spec_from_the_running_backup_thread_with_a_syncid() {
    let mut d = Daemon {
        state: DaemonState::Backup,
        mcast_ifn: "eth1".into(),
        sync_id: 7,
        sync_maxlen: 0,
        mcast_group: None,
        mcast_port: 0,
        mcast_ttl: 0,
    };
    // The kernel's defaults when the thread names no group or port.
    assert_eq!(
        Spec::of_thread(&d),
        Some(Spec {
            interface: "eth1".into(),
            ..spec(7)
        })
    );
    d.mcast_port = 9000;
    d.mcast_group = Some("239.1.2.3".parse().unwrap());
    let sp = Spec::of_thread(&d).unwrap();
    assert_eq!((sp.group.to_string(), sp.port), ("239.1.2.3".into(), 9000));
    d.sync_id = 0;
    assert_eq!(
        Spec::of_thread(&d),
        None,
        "syncid 0: the kernel takes every syncid"
    );
    d.sync_id = 300;
    assert_eq!(Spec::of_thread(&d), None, "no u8 syncid in the header");
    let mut s = Sync {
        role: SyncRole::Master,
        ..Sync::default()
    };
    assert!(!Spec::wanted(&s), "a master receives nothing");
    s.role = SyncRole::Both;
    assert!(Spec::wanted(&s));
}

#[tokio::test(start_paused = true)]
async fn other_syncids_are_counted_and_logged_once_a_minute() {
    let t = Mutex::new(Tally::default());
    let sp = spec(7);
    let peer: SocketAddr = "192.0.2.1:8848".parse().unwrap();
    let t0 = Instant::now();
    note(&msg(7), peer, &sp, &t, t0);
    note(b"not a sync message", peer, &sp, &t, t0);
    assert!(
        lock(&t).view("lo", 7).is_empty(),
        "ours and junk are not counted"
    );
    note(&msg(8), peer, &sp, &t, t0);
    let v = lock(&t).view("lo", 7);
    assert_eq!(
        v,
        vec![ForeignSyncid {
            interface: "lo".into(),
            syncid: 8,
            ours: 7,
            messages: 1,
            last_peer: peer.ip()
        }]
    );
    let mut t2 = Tally::default();
    let p = peer.ip();
    assert!(t2.record(8, p, t0), "the first is logged");
    assert!(!t2.record(8, p, t0 + Duration::from_secs(59)));
    assert!(t2.record(9, p, t0 + Duration::from_secs(59)), "per syncid");
    assert!(t2.record(8, p, t0 + Duration::from_secs(60)));
    assert_eq!(t2.view("lo", 7)[0].messages, 3);
}

/// The receive loop on a loopback socket (the group socket itself needs
/// multicast on an interface: the kernel test in the IPVS VM has that).
#[tokio::test]
async fn a_listener_reports_what_it_receives() {
    let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sp = spec(7);
    let t = Arc::new(Mutex::new(Tally::default()));
    let addr = rx.local_addr().unwrap();
    let t2 = Arc::clone(&t);
    let sp2 = sp.clone();
    let task = tokio::spawn(async move { receive(&rx, &sp2, &t2).await });
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        tx.send_to(&msg(8), addr).unwrap();
    }
    tx.send_to(&msg(7), addr).unwrap();
    // Wait for the three (bounded: the datagrams are on loopback).
    for _ in 0..500 {
        if lock(&t).view("lo", 7).first().map(|f| f.messages) == Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lock(&t).view("lo", 7)[0].messages, 3);
    task.abort();
}

#[test]
fn an_interface_that_does_not_exist_is_an_error_not_a_panic() {
    let sp = Spec {
        interface: "nosuch0".into(),
        ..spec(7)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { assert!(open(&sp).is_err()) });
}
