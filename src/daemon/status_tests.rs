//! Tests of [`super`] (status.rs).

use super::*;

#[test]
fn no_status_from_a_table_that_could_not_be_read() {
    use crate::director::controller::{Controller, Input};
    use crate::director::reconcile::Director;
    use crate::ipvs::memory::MemoryKernel;
    let cf = "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq 2\n";
    let config = crate::config::test_config(cf);
    let d = Director::new(MemoryKernel::default(), config, Default::default(), None);
    let mut c = Controller::new(d, Box::new(Default::default), Default::default());
    let p = Path::new("/x.cf");
    assert_eq!(
        of_view(p, 1, c.view(), &SyncView::default()),
        None,
        "before any pass"
    );
    let none = SyncView::default();
    let good = of_view(p, 1, &c.step(Input::Resync).view, &none).unwrap();
    assert!(good.virtuals.iter().all(|v| v.present), "{good:?}");
    // One read fails (a signal on the socket): no status says the
    // services are gone; the next good pass reports them again.
    c.kernel().fail_dumps = 1;
    let failed = c.step(Input::Resync);
    assert!(failed.report.is_err());
    assert_eq!(of_view(p, 1, &failed.view, &none), None);
    assert_eq!(
        of_view(p, 1, &c.step(Input::Health).view, &none),
        Some(good)
    );
}

fn sample() -> DaemonStatus {
    DaemonStatus {
        pid: 42,
        config: PathBuf::from("/etc/ha.d/ldirectord.cf"),
        virtuals: vec![VirtualStatus {
            service: "tcp 10.0.0.1:80".into(),
            ipvsadm: "-t 10.0.0.1:80".into(),
            scheduler: "wlc".into(),
            present: true,
            fallback_active: false,
            reals: vec![
                RealStatus {
                    real: "10.0.1.1:80".into(),
                    health: "up".into(),
                    maintenance: false,
                    weight: Some(5),
                    configured_weight: 5,
                    failures: 0,
                    last: Some("up".into()),
                },
                RealStatus {
                    real: "10.0.1.2:80".into(),
                    health: "down".into(),
                    maintenance: true,
                    weight: None,
                    configured_weight: 1,
                    failures: 3,
                    last: Some("down (connect 10.0.1.2:80: refused)".into()),
                },
            ],
        }],
        sync: vec![],
        sync_error: None,
        sync_foreign: vec![],
    }
}

#[test]
fn renders_health_weights_and_reasons() {
    let s = sample();
    let text = render(&s);
    assert_eq!(
        text,
        "tcp 10.0.0.1:80 wlc\n\
         \x20 -> 10.0.1.1:80                  up                   weight     5/5     up\n\
         \x20 -> 10.0.1.2:80                  down (maintenance)   weight     -/1     down (connect 10.0.1.2:80: refused)\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = path(dir.path(), "x");
    store(&p, &s).unwrap();
    assert_eq!(load(&p).unwrap(), s);
}

#[test]
fn porcelain_lines_for_scripts() {
    let mut s = sample();
    s.virtuals[0].reals[1].last = Some("down\t(odd\nmessage)".into());
    let r = Report::new(
        ProcState::Running(42),
        Path::new("/etc/ha.d/ldirectord.cf"),
        Path::new("/run/lvsd.ldirectord.cf.pid"),
        Some(s.clone()),
    );
    assert_eq!(
        render_porcelain(&r),
        "lvsd-status\t1\n\
         daemon\trunning\t42\tready\t/etc/ha.d/ldirectord.cf\t/run/lvsd.ldirectord.cf.pid\n\
         virtual\ttcp 10.0.0.1:80\t-t 10.0.0.1:80\twlc\tyes\tno\n\
         real\ttcp 10.0.0.1:80\t10.0.1.1:80\tup\t5\t5\tno\t0\tup\n\
         real\ttcp 10.0.0.1:80\t10.0.1.2:80\tdown\t-\t1\tyes\t3\tdown (odd message)\n"
    );
    // JSON carries the same data and reads back.
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""state":"running""#), "{json}");
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn sync_threads_are_shown_with_who_started_them() {
    use crate::ipvs::snapshot::DaemonState;
    let view = View::default();
    let sync = SyncView {
        threads: vec![
            (DaemonState::Master, "eth1".into(), 7, true),
            (DaemonState::Backup, "eth2".into(), 9, false),
        ],
        error: None,
        foreign: vec![crate::daemon::sync::ForeignSyncid {
            interface: "eth2".into(),
            syncid: 8,
            ours: 9,
            messages: 3,
            last_peer: "192.0.2.1".parse().unwrap(),
        }],
    };
    let s = build(Path::new("/x.cf"), 42, &view, &sync);
    assert_eq!(
        render(&s),
        "sync master on eth1 syncid 7 (started by lvsd)\n\
         sync backup on eth2 syncid 9 (not started by lvsd; left alone)\n\
         sync: 3 messages with syncid 8 on eth2 (last from 192.0.2.1), ours is 9: \
         the backup thread drops these: no connections are learnt\n"
    );
    let r = Report::new(
        ProcState::Running(42),
        Path::new("/x.cf"),
        Path::new("/run/lvsd.x.cf.pid"),
        Some(s.clone()),
    );
    assert!(render_porcelain(&r).ends_with(
        "sync\tmaster\teth1\t7\tlvsd\nsync\tbackup\teth2\t9\tother\n\
             sync-foreign\teth2\t8\t9\t3\t192.0.2.1\n"
    ));
    let json = serde_json::to_string(&s).unwrap();
    assert!(
        json.contains(
            r#""sync":[{"state":"master","interface":"eth1","syncid":7,"started_by_lvsd":true}"#
        ),
        "{json}"
    );
    assert!(
        json.contains(
            r#""sync_foreign":[{"interface":"eth2","syncid":8,"our_syncid":9,"messages":3,"last_peer":"192.0.2.1"}]"#
        ),
        "{json}"
    );
    // A file written before the field existed still reads.
    let old = r#"{"pid":1,"config":"/x.cf","virtuals":[]}"#;
    assert_eq!(
        serde_json::from_str::<DaemonStatus>(old).unwrap().sync,
        vec![]
    );
}

#[test]
fn a_status_file_of_another_pid_or_a_stopped_daemon_is_not_reported() {
    let s = sample();
    let cfg = Path::new("/x.cf");
    let pf = Path::new("/run/lvsd.x.cf.pid");
    // Left behind by a daemon that was killed; the new one has not
    // written its own yet.
    let r = Report::new(ProcState::Running(43), cfg, pf, Some(s.clone()));
    assert_eq!(r.status, None);
    assert!(render_porcelain(&r).contains("daemon\trunning\t43\tnone\t"));
    let r = Report::new(ProcState::Stale(42), cfg, pf, Some(s.clone()));
    assert_eq!(
        (r.state, r.pid, r.status),
        (DaemonState::Stale, Some(42), None)
    );
    let r = Report::new(ProcState::Stopped, cfg, pf, None);
    assert_eq!(
        render_porcelain(&r),
        "lvsd-status\t1\ndaemon\tstopped\t-\tnone\t/x.cf\t/run/lvsd.x.cf.pid\n"
    );
}

#[test]
fn a_hand_edited_status_renders_without_control_characters() {
    let s = DaemonStatus {
        pid: 1,
        config: "/etc/ha.d/web.cf".into(),
        virtuals: vec![VirtualStatus {
            service: "tcp 10.0.0.1:80\x1b]0;x\x07".into(),
            ipvsadm: String::new(),
            scheduler: "wrr".into(),
            present: true,
            fallback_active: false,
            reals: vec![RealStatus {
                real: "10.0.1.1:80".into(),
                health: "up".into(),
                maintenance: false,
                weight: Some(1),
                configured_weight: 1,
                failures: 0,
                last: Some("down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)".into()),
            }],
        }],
        sync: vec![],
        sync_error: None,
        sync_foreign: vec![],
    };
    let out = render(&s);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let controls = lines.iter().flat_map(|l| l.chars()).any(char::is_control);
    assert!(!controls, "{out:?}");
    assert!(lines[1].ends_with(r"down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)"));
    assert!(lines[0].starts_with(r"tcp 10.0.0.1:80\x1b]0;x\x07"));
}
