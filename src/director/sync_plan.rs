//! The plan for the kernel's connection sync threads (`syncdaemon=`): the
//! threads a configuration asks for, and what to do given those running
//! and those lvsd started. Pure; `daemon::sync` carries it out.

use crate::config::model::Sync;
use crate::ipvs::snapshot::{Daemon, DaemonState};

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
}

/// What the status shows of the sync threads after a step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncView {
    /// Running threads: (role, interface, sync id, started by lvsd).
    pub threads: Vec<(DaemonState, String, u32, bool)>,
    /// The last failure to bring them in line, if the last step failed.
    pub error: Option<String>,
    /// Sync messages of other syncids seen on the backup's group (the
    /// kernel's backup drops them).
    pub foreign: Vec<ForeignSyncid>,
}

/// Sync messages of one other syncid seen on the backup's sync group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignSyncid {
    pub interface: String,
    pub syncid: u8,
    /// The backup's own syncid.
    pub ours: u8,
    pub messages: u64,
    /// Who sent the last one.
    pub last_peer: std::net::IpAddr,
}

pub fn state_name(s: DaemonState) -> &'static str {
    match s {
        DaemonState::Master => "master",
        DaemonState::Backup => "backup",
    }
}
