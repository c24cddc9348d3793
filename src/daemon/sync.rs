//! `syncdaemon=`: the kernel's connection sync threads, started, changed and
//! stopped by lvsd, and `ipvstimeouts=`.
//!
//! Ownership works as for services: lvsd stops only the threads it started
//! itself (recorded beside the ownership record, so a restarted lvsd still
//! knows them). A thread someone else started (`ipvsadm --start-daemon`,
//! keepalived) is left alone and reported. The plan is pure ([`crate::director::sync_plan`]); the
//! kernel is behind [`SyncKernel`], so the rules are tested without one.

use std::path::{Path, PathBuf};

use tracing::{error, info, warn};

pub mod header;
pub mod listen;

use crate::config::model::Sync;
use crate::ipvs::snapshot::{Daemon, DaemonState, Timeouts};
use crate::ipvs::{Client, IpvsError};

pub use crate::director::sync_plan::{
    plan, state_name, wanted, Action, ForeignSyncid, Ours, SyncView,
};

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

/// Where lvsd records the threads it started (I/O, so here, not in the
/// pure plan).
impl Ours {
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
            foreign: Vec::new(),
        },
        Err(e) => SyncView {
            threads: Vec::new(),
            error: Some(format!("cannot list the sync threads: {e}")),
            foreign: Vec::new(),
        },
    }
}

/// The daemon's side: lvsd's record of its own threads, and logging.
pub struct SyncThreads {
    ours: Ours,
    record: PathBuf,
    /// Reports messages of other syncids on the backup's group.
    listener: Option<listen::Listener>,
}

impl SyncThreads {
    /// `record`: where lvsd keeps which threads it started (beside the
    /// ownership record).
    pub fn new(record: PathBuf) -> SyncThreads {
        SyncThreads {
            ours: Ours::load(&record),
            record,
            listener: None,
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
        // Also after a failed step: it may have restarted the backup
        // thread before something else was refused.
        self.listen(k, s);
        result.map(|_| ())
    }

    /// Starts, restarts or stops the listener for `s`, judging by the
    /// backup thread the kernel runs (its syncid is what it drops others
    /// by, whoever started it or whatever the last step managed). Outside a
    /// tokio runtime (the unit tests of the threads) there is none to run
    /// it on.
    fn listen(&mut self, k: &mut impl SyncKernel, s: &Sync) {
        // No backup asked for (most directors): nothing to ask the kernel.
        if !listen::Spec::wanted(s) {
            self.listener = None;
            return;
        }
        let running = match k.daemons() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "cannot list the sync threads; the foreign syncid report keeps its settings");
                return;
            }
        };
        let backup = running.iter().find(|d| d.state == DaemonState::Backup);
        let want = backup.and_then(listen::Spec::of_thread);
        if self.listener.as_ref().map(listen::Listener::spec) == want.as_ref() {
            return;
        }
        self.listener = None;
        if let (Some(spec), Ok(rt)) = (want, tokio::runtime::Handle::try_current()) {
            self.listener = Some(listen::Listener::spawn(&rt, spec));
        }
    }

    /// The threads running now, each marked with whether lvsd started it,
    /// and the messages of other syncids seen.
    pub fn view(&self, k: &mut impl SyncKernel) -> SyncView {
        let mut v = view(k, self.ours);
        v.foreign = self
            .listener
            .as_ref()
            .map(listen::Listener::view)
            .unwrap_or_default();
        v
    }

    /// At shutdown: stops the threads lvsd started.
    pub fn stop(&mut self, k: &mut impl SyncKernel) {
        self.listener = None;
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
#[path = "sync_tests.rs"]
mod tests;
