//! `syncdaemon=`: the kernel's connection sync threads, started, changed and
//! stopped by lvsd, and `ipvstimeouts=`.
//!
//! Ownership works as for services: lvsd stops only the threads it started
//! itself (recorded beside the ownership record, so a restarted lvsd still
//! knows them). A thread someone else started (`ipvsadm --start-daemon`,
//! keepalived) is left alone and reported. The plan is pure ([`plan`]); the
//! kernel is behind [`SyncKernel`], so the rules are tested without one.

use std::path::{Path, PathBuf};

use tracing::{error, info, warn};

use crate::config::model::Sync;
use crate::ipvs::snapshot::{Daemon, DaemonState, Timeouts};
use crate::ipvs::{Client, IpvsError};

/// The part of the IPVS client the sync lifecycle needs.
pub trait SyncKernel {
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError>;
    fn start_daemon(&mut self, d: &Daemon) -> Result<(), IpvsError>;
    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError>;
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError>;
    /// Whether this network namespace has an interface of that name.
    fn has_interface(&self, name: &str) -> bool;
}

impl SyncKernel for Client {
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        Client::daemons(self)
    }
    fn start_daemon(&mut self, d: &Daemon) -> Result<(), IpvsError> {
        Client::start_daemon(self, d)
    }
    fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        Client::stop_daemon(self, state)
    }
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        Client::set_timeouts(self, t)
    }
    fn has_interface(&self, name: &str) -> bool {
        nix::net::if_::if_nametoindex(name).is_ok()
    }
}

/// One step of bringing the threads in line with the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Start(Daemon),
    /// A thread lvsd started runs with other settings: stop, then start.
    Restart(Daemon),
    Stop(DaemonState),
    /// Running, not started by lvsd: left alone. `differs`: its settings
    /// are not the configured ones.
    Foreign {
        state: DaemonState,
        differs: bool,
    },
}

/// The threads `s` asks for.
pub fn wanted(s: &Sync) -> Vec<Daemon> {
    let Some(ifn) = &s.interface else {
        return Vec::new();
    };
    let one = |state| Daemon {
        state,
        mcast_ifn: ifn.clone(),
        sync_id: u32::from(s.syncid),
        sync_maxlen: s.maxlen.unwrap_or(0),
        mcast_group: s.group,
        mcast_port: s.port.unwrap_or(0),
        mcast_ttl: s.ttl.unwrap_or(0),
    };
    let mut v = Vec::new();
    if s.role.master() {
        v.push(one(DaemonState::Master));
    }
    if s.role.backup() {
        v.push(one(DaemonState::Backup));
    }
    v
}

/// Whether a running thread has the settings wanted; the kernel reports
/// its own defaults for what was not given, so only given ones count.
fn same(running: &Daemon, want: &Daemon) -> bool {
    running.mcast_ifn == want.mcast_ifn
        && running.sync_id == want.sync_id
        && (want.sync_maxlen == 0 || running.sync_maxlen == want.sync_maxlen)
        && (want.mcast_group.is_none() || running.mcast_group == want.mcast_group)
        && (want.mcast_port == 0 || running.mcast_port == want.mcast_port)
        && (want.mcast_ttl == 0 || running.mcast_ttl == want.mcast_ttl)
}

/// What to do, given the threads wanted, those running and those lvsd
/// started (`ours`).
pub fn plan(want: &[Daemon], running: &[Daemon], ours: Ours) -> Vec<Action> {
    let mut out = Vec::new();
    for state in [DaemonState::Master, DaemonState::Backup] {
        let w = want.iter().find(|d| d.state == state);
        let r = running.iter().find(|d| d.state == state);
        let mine = ours.has(state);
        match (w, r) {
            (Some(w), None) => out.push(Action::Start(w.clone())),
            (Some(w), Some(r)) if mine && !same(r, w) => out.push(Action::Restart(w.clone())),
            (Some(w), Some(r)) if !mine => out.push(Action::Foreign {
                state,
                differs: !same(r, w),
            }),
            (None, Some(_)) if mine => out.push(Action::Stop(state)),
            (None, Some(_)) => out.push(Action::Foreign {
                state,
                differs: false,
            }),
            _ => {}
        }
    }
    out
}

/// The threads lvsd started: what it may stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ours {
    pub master: bool,
    pub backup: bool,
}

impl Ours {
    pub fn has(&self, state: DaemonState) -> bool {
        match state {
            DaemonState::Master => self.master,
            DaemonState::Backup => self.backup,
        }
    }

    pub fn set(&mut self, state: DaemonState, on: bool) {
        match state {
            DaemonState::Master => self.master = on,
            DaemonState::Backup => self.backup = on,
        }
    }

    /// Reads the record; a missing or unreadable one is "none" (lvsd then
    /// leaves running threads alone, the safe side).
    pub fn load(path: &Path) -> Ours {
        let text = std::fs::read(path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let mut o = Ours::default();
        for line in text.lines() {
            match line.trim() {
                "master" => o.master = true,
                "backup" => o.backup = true,
                _ => {}
            }
        }
        o
    }

    /// Writes the record as the other state files are written (no
    /// symlink followed, fsync, rename).
    pub fn store(&self, path: &Path) -> std::io::Result<()> {
        let mut text = String::new();
        if self.master {
            text.push_str("master\n");
        }
        if self.backup {
            text.push_str("backup\n");
        }
        super::pidfile::replace_file(path, text.as_bytes(), 0o644)
    }
}

/// What the status shows of the sync threads after a step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncView {
    /// Running threads: (role, interface, sync id, started by lvsd).
    pub threads: Vec<(DaemonState, String, u32, bool)>,
    /// The last failure to bring them in line, if the last step failed.
    pub error: Option<String>,
}

pub fn state_name(s: DaemonState) -> &'static str {
    match s {
        DaemonState::Master => "master",
        DaemonState::Backup => "backup",
    }
}

/// Brings the threads and timeouts in line with `s`, updating `ours`. A
/// failure stops the step there and is returned; what was done stays done
/// and recorded, so the next step starts from the truth.
pub fn step(k: &mut impl SyncKernel, s: &Sync, ours: &mut Ours) -> Result<Vec<Action>, SyncError> {
    if let Some(t) = s.timeouts {
        k.set_timeouts(&Timeouts {
            tcp: t.tcp,
            tcp_fin: t.tcp_fin,
            udp: t.udp,
        })
        .map_err(|e| SyncError::Timeouts(Box::new(e)))?;
    }
    let running = k.daemons().map_err(|e| SyncError::List(Box::new(e)))?;
    // A recorded thread that no longer runs is no longer ours.
    for state in [DaemonState::Master, DaemonState::Backup] {
        if ours.has(state) && !running.iter().any(|d| d.state == state) {
            ours.set(state, false);
        }
    }
    let actions = plan(&wanted(s), &running, *ours);
    // A missing interface is refused before anything is stopped: a reload
    // naming one must leave the running threads as they are.
    for a in &actions {
        if let Action::Start(d) | Action::Restart(d) = a {
            if !k.has_interface(&d.mcast_ifn) {
                return Err(SyncError::NoInterface(
                    state_name(d.state),
                    d.mcast_ifn.clone(),
                ));
            }
        }
    }
    for a in &actions {
        match a {
            Action::Start(d) => {
                k.start_daemon(d).map_err(|e| {
                    SyncError::Start(state_name(d.state), d.mcast_ifn.clone(), Box::new(e))
                })?;
                ours.set(d.state, true);
            }
            Action::Restart(d) => {
                k.stop_daemon(d.state)
                    .map_err(|e| SyncError::Stop(state_name(d.state), Box::new(e)))?;
                ours.set(d.state, false);
                k.start_daemon(d).map_err(|e| {
                    SyncError::Start(state_name(d.state), d.mcast_ifn.clone(), Box::new(e))
                })?;
                ours.set(d.state, true);
            }
            Action::Stop(state) => {
                k.stop_daemon(*state)
                    .map_err(|e| SyncError::Stop(state_name(*state), Box::new(e)))?;
                ours.set(*state, false);
            }
            Action::Foreign { .. } => {}
        }
    }
    Ok(actions)
}

/// At shutdown: stops the threads lvsd started, and only those.
pub fn stop_ours(k: &mut impl SyncKernel, ours: &mut Ours) -> Result<(), SyncError> {
    for state in [DaemonState::Master, DaemonState::Backup] {
        if ours.has(state) {
            k.stop_daemon(state)
                .map_err(|e| SyncError::Stop(state_name(state), Box::new(e)))?;
            ours.set(state, false);
        }
    }
    Ok(())
}

/// What the status shows, read from the kernel.
pub fn view(k: &mut impl SyncKernel, ours: Ours) -> SyncView {
    match k.daemons() {
        Ok(running) => SyncView {
            threads: running
                .iter()
                .map(|d| (d.state, d.mcast_ifn.clone(), d.sync_id, ours.has(d.state)))
                .collect(),
            error: None,
        },
        Err(e) => SyncView {
            threads: Vec::new(),
            error: Some(format!("cannot list the sync threads: {e}")),
        },
    }
}

/// The daemon's side: lvsd's record of its own threads, and logging.
pub struct SyncThreads {
    ours: Ours,
    record: PathBuf,
}

impl SyncThreads {
    /// `record`: where lvsd keeps which threads it started (beside the
    /// ownership record).
    pub fn new(record: PathBuf) -> SyncThreads {
        SyncThreads {
            ours: Ours::load(&record),
            record,
        }
    }

    /// Brings the threads in line with `s`; logs what it did. The error is
    /// for the caller to decide: fatal at start, logged on reload.
    pub fn apply(&mut self, k: &mut impl SyncKernel, s: &Sync) -> Result<(), SyncError> {
        let before = self.ours;
        let result = step(k, s, &mut self.ours);
        if self.ours != before {
            if let Err(e) = self.ours.store(&self.record) {
                warn!(path = %self.record.display(), error = %e, "cannot record the sync threads lvsd started");
            }
        }
        for a in result.as_deref().unwrap_or_default() {
            match a {
                Action::Start(d) => {
                    info!(role = state_name(d.state), interface = %d.mcast_ifn, syncid = d.sync_id, "sync thread started")
                }
                Action::Restart(d) => {
                    info!(role = state_name(d.state), interface = %d.mcast_ifn, syncid = d.sync_id, "sync thread restarted with new settings")
                }
                Action::Stop(st) => info!(role = state_name(*st), "sync thread stopped"),
                Action::Foreign { state, differs } => warn!(
                    role = state_name(*state),
                    differs = *differs,
                    "a sync thread not started by lvsd runs; left alone"
                ),
            }
        }
        result.map(|_| ())
    }

    /// The threads running now, each marked with whether lvsd started it.
    pub fn view(&self, k: &mut impl SyncKernel) -> SyncView {
        view(k, self.ours)
    }

    /// At shutdown: stops the threads lvsd started.
    pub fn stop(&mut self, k: &mut impl SyncKernel) {
        if self.ours == Ours::default() {
            return;
        }
        match stop_ours(k, &mut self.ours) {
            Ok(()) => info!("sync threads stopped"),
            Err(e) => {
                error!(error = %e, cause = ?std::error::Error::source(&e), "cannot stop the sync threads")
            }
        }
        if let Err(e) = self.ours.store(&self.record) {
            warn!(path = %self.record.display(), error = %e, "cannot record the sync threads lvsd started");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot set the IPVS timeouts")]
    Timeouts(#[source] Box<IpvsError>),
    #[error("cannot list the sync threads")]
    List(#[source] Box<IpvsError>),
    #[error("cannot start the {0} sync thread on interface {1}: no such interface")]
    NoInterface(&'static str, String),
    #[error("cannot start the {0} sync thread on interface {1}")]
    Start(&'static str, String, #[source] Box<IpvsError>),
    #[error("cannot stop the {0} sync thread")]
    Stop(&'static str, #[source] Box<IpvsError>),
}

#[cfg(test)]
mod tests {
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
}
