//! Tests of [`super`] (sync.rs).

use super::*;
use crate::config::model::SyncRole;
use crate::ipvs::error::{Errno, Op, Target};

/// The kernel's rules: one thread per role, EEXIST for a second,
/// ESRCH to stop none, ENODEV for an unknown interface.
#[derive(Default)]
struct Fake {
    running: Vec<Daemon>,
    timeouts: Option<Timeouts>,
    interfaces: Vec<&'static str>,
}

fn refuse(op: Op, errno: Errno) -> IpvsError {
    IpvsError::Kernel {
        op,
        target: Target::None,
        errno,
    }
}

impl SyncKernel for Fake {
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        Ok(self.running.clone())
    }
    fn start_daemon(&mut self, d: &Daemon) -> Result<(), IpvsError> {
        if !self.interfaces.contains(&d.mcast_ifn.as_str()) {
            return Err(refuse(Op::StartDaemon, Errno::Other(libc::ENODEV)));
        }
        if self.running.iter().any(|r| r.state == d.state) {
            return Err(refuse(Op::StartDaemon, Errno::Exists));
        }
        self.running.push(d.clone());
        Ok(())
    }
    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        let before = self.running.len();
        self.running.retain(|d| d.state != state);
        if self.running.len() == before {
            return Err(refuse(Op::StopDaemon, Errno::NoSuchService));
        }
        Ok(())
    }
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        self.timeouts = Some(*t);
        Ok(())
    }
    fn has_interface(&self, name: &str) -> bool {
        self.interfaces.contains(&name)
    }
}

fn sync(role: SyncRole, ifn: &str, id: u8) -> Sync {
    Sync {
        role,
        interface: Some(ifn.into()),
        syncid: id,
        ..Sync::default()
    }
}

fn fake() -> Fake {
    Fake {
        interfaces: vec!["eth0", "eth1"],
        ..Fake::default()
    }
}

#[test]
fn both_starts_two_threads_and_stop_takes_only_ours() {
    let mut k = fake();
    let mut ours = Ours::default();
    step(&mut k, &sync(SyncRole::Both, "eth0", 3), &mut ours).unwrap();
    assert_eq!(k.running.len(), 2);
    assert!(ours.master && ours.backup);
    // Nothing to do a second time.
    let again = step(&mut k, &sync(SyncRole::Both, "eth0", 3), &mut ours).unwrap();
    assert!(again.is_empty(), "{again:?}");
    stop_ours(&mut k, &mut ours).unwrap();
    assert!(k.running.is_empty());
}

#[test]
fn a_thread_someone_else_started_is_left_alone_and_reported() {
    let mut k = fake();
    k.running
        .push(wanted(&sync(SyncRole::Master, "eth1", 9)).remove(0));
    let mut ours = Ours::default();
    let acts = step(&mut k, &sync(SyncRole::Both, "eth0", 3), &mut ours).unwrap();
    assert!(acts.contains(&Action::Foreign {
        state: DaemonState::Master,
        differs: true
    }));
    assert!(!ours.master && ours.backup);
    // Turning sync off stops ours, not theirs.
    step(&mut k, &Sync::default(), &mut ours).unwrap();
    assert_eq!(k.running.len(), 1);
    assert_eq!(k.running[0].mcast_ifn, "eth1");
    stop_ours(&mut k, &mut ours).unwrap();
    assert_eq!(k.running.len(), 1);
}

#[test]
fn a_changed_setting_restarts_our_thread() {
    let mut k = fake();
    let mut ours = Ours::default();
    step(&mut k, &sync(SyncRole::Backup, "eth0", 3), &mut ours).unwrap();
    let acts = step(&mut k, &sync(SyncRole::Backup, "eth1", 3), &mut ours).unwrap();
    assert!(matches!(acts[..], [Action::Restart(_)]), "{acts:?}");
    assert_eq!(k.running[0].mcast_ifn, "eth1");
}

#[test]
fn a_bad_interface_is_an_error_that_names_it_and_changes_nothing_else() {
    let mut k = fake();
    let mut ours = Ours::default();
    let e = step(&mut k, &sync(SyncRole::Master, "nope0", 3), &mut ours).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot start the master sync thread on interface nope0: no such interface"
    );
    assert!(k.running.is_empty());
    assert_eq!(ours, Ours::default());
}

/// Found by integration/tests/sync.rs: a reload naming a missing
/// interface stopped the running thread, then failed to start the new.
#[test]
fn a_reload_to_a_missing_interface_keeps_the_running_thread() {
    let mut k = fake();
    let mut ours = Ours::default();
    step(&mut k, &sync(SyncRole::Master, "eth0", 3), &mut ours).unwrap();
    assert!(step(&mut k, &sync(SyncRole::Master, "nope0", 3), &mut ours).is_err());
    assert_eq!(k.running.len(), 1);
    assert_eq!(k.running[0].mcast_ifn, "eth0");
    assert!(ours.master);
}

#[test]
fn a_recorded_thread_that_died_is_not_ours_any_more() {
    let mut k = fake();
    let mut ours = Ours {
        master: true,
        backup: false,
    };
    let acts = step(&mut k, &Sync::default(), &mut ours).unwrap();
    assert!(acts.is_empty(), "{acts:?}");
    assert!(!ours.master);
    // Someone else's master started since is theirs, not ours to stop.
    k.running
        .push(wanted(&sync(SyncRole::Master, "eth1", 1)).remove(0));
    stop_ours(&mut k, &mut ours).unwrap();
    assert_eq!(k.running.len(), 1);
}

#[test]
fn timeouts_are_set_when_configured() {
    let mut k = fake();
    let s = Sync {
        timeouts: Some(crate::config::model::IpvsTimeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }),
        ..Sync::default()
    };
    step(&mut k, &s, &mut Ours::default()).unwrap();
    assert_eq!(
        k.timeouts,
        Some(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        })
    );
}

#[test]
fn the_record_round_trips_and_ignores_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.sync");
    Ours {
        master: true,
        backup: true,
    }
    .store(&p)
    .unwrap();
    assert_eq!(
        Ours::load(&p),
        Ours {
            master: true,
            backup: true
        }
    );
    std::fs::write(&p, b"\xff\xfemaster\nbogus\nbackup\n").unwrap();
    assert_eq!(
        Ours::load(&p),
        Ours {
            master: false,
            backup: true
        }
    );
    assert_eq!(Ours::load(&dir.path().join("missing")), Ours::default());
}

/// The listener follows the backup thread's settings: started with it,
/// restarted for a new syncid, stopped when the backup goes or lvsd stops.
#[tokio::test]
async fn the_foreign_syncid_listener_follows_the_backup_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = fake();
    let mut t = SyncThreads::new(dir.path().join("x.sync"));
    let spec = |t: &SyncThreads| t.listener.as_ref().map(|l| l.spec().clone());
    t.apply(&mut k, &sync(SyncRole::Backup, "eth0", 3)).unwrap();
    assert_eq!(
        spec(&t).map(|s| (s.interface, s.ours)),
        Some(("eth0".into(), 3))
    );
    t.apply(&mut k, &sync(SyncRole::Both, "eth0", 4)).unwrap();
    assert_eq!(spec(&t).map(|s| s.ours), Some(4));
    assert!(t.view(&mut k).foreign.is_empty());
    t.apply(&mut k, &sync(SyncRole::Master, "eth0", 4)).unwrap();
    assert_eq!(spec(&t), None, "a master alone receives nothing");
    t.apply(&mut k, &sync(SyncRole::Backup, "eth0", 4)).unwrap();
    t.stop(&mut k);
    assert_eq!(spec(&t), None);
}

/// The listener judges by the backup thread the kernel runs: one started
/// by someone else with another syncid, or none when lvsd's could not be
/// started.
#[tokio::test]
async fn the_foreign_syncid_listener_follows_the_kernels_backup_thread() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |t: &SyncThreads| t.listener.as_ref().map(|l| l.spec().clone());
    let mut k = fake();
    k.running
        .push(wanted(&sync(SyncRole::Backup, "eth1", 9)).remove(0));
    let mut t = SyncThreads::new(dir.path().join("x.sync"));
    t.apply(&mut k, &sync(SyncRole::Backup, "eth0", 3)).unwrap();
    assert_eq!(
        spec(&t).map(|s| (s.interface, s.ours)),
        Some(("eth1".into(), 9)),
        "the running thread drops by syncid 9 on eth1, not by the file's 3"
    );
    // No backup thread runs (its interface is gone): nothing to report.
    let mut k = Fake::default();
    let mut t = SyncThreads::new(dir.path().join("y.sync"));
    assert!(t.apply(&mut k, &sync(SyncRole::Backup, "eth0", 3)).is_err());
    assert_eq!(spec(&t), None);
}
