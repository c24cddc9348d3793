//! The daemon's view of itself, written to `/run/lvsd/NAME.status.json`
//! after every pass, and rendered by `lvsd status`: every virtual and real
//! with its health, the weight the kernel holds and the last check result.
//! `--json` and `--porcelain` print the same data for programs ([`Report`]).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::escape_text;
use crate::director::view::View;
use crate::ipvs::names::Numeric;
use crate::ipvs::save::rule_service_name;

use super::pidfile::ProcState;
use super::sync::{state_name, SyncView};

mod text;
pub use text::*;

mod porcelain;
pub use porcelain::*;

pub fn path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.status.json"))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub config: PathBuf,
    pub virtuals: Vec<VirtualStatus>,
    /// The kernel's connection sync threads (`syncdaemon=`), whoever
    /// started them.
    #[serde(default)]
    pub sync: Vec<SyncStatus>,
    /// Why the threads could not be listed, if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_error: Option<String>,
    /// Sync messages of other syncids seen on the backup's sync group:
    /// the kernel's backup thread drops them, so it learns no connection
    /// from that master.
    #[serde(default)]
    pub sync_foreign: Vec<ForeignSyncidStatus>,
}

/// Sync messages of one other syncid seen on the backup's sync group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignSyncidStatus {
    pub interface: String,
    /// The sender's syncid.
    pub syncid: u8,
    /// This backup's syncid.
    pub our_syncid: u8,
    /// Messages seen since lvsd started listening.
    pub messages: u64,
    /// The sender of the last one.
    pub last_peer: String,
}

/// One running sync thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// `master` or `backup`.
    pub state: String,
    pub interface: String,
    pub syncid: u32,
    /// Whether this lvsd started it (and stops it at shutdown); `false`:
    /// someone else did (ipvsadm, keepalived), and lvsd leaves it alone.
    pub started_by_lvsd: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualStatus {
    pub service: String,
    /// The service as `ipvsadm -S -n` names it (`-t 10.0.0.1:80`, `-f 7 -6`),
    /// so that scripts can find it in `lvsd save -n`.
    #[serde(default)]
    pub ipvsadm: String,
    pub scheduler: String,
    /// Whether the kernel holds the service.
    pub present: bool,
    pub fallback_active: bool,
    pub reals: Vec<RealStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealStatus {
    pub real: String,
    pub health: String,
    pub maintenance: bool,
    /// The weight the kernel holds; `None` when the real is not in the table.
    pub weight: Option<u32>,
    pub configured_weight: u32,
    pub failures: u32,
    pub last: Option<String>,
}

/// The status a view (and the sync threads) show.
pub fn build(config_path: &Path, pid: u32, view: &View, sync: &SyncView) -> DaemonStatus {
    let virtuals = view
        .virtuals
        .iter()
        .map(|v| VirtualStatus {
            service: v.key.to_string(),
            ipvsadm: rule_service_name(&v.key, &Numeric),
            scheduler: v.scheduler.clone(),
            present: v.present,
            fallback_active: v.fallback_active,
            reals: v
                .reals
                .iter()
                .map(|r| RealStatus {
                    real: r.key.real.to_string(),
                    health: r.health.to_string(),
                    maintenance: r.maintenance,
                    weight: r.kernel_weight,
                    configured_weight: r.configured_weight,
                    failures: r.failures,
                    last: r.last.clone(),
                })
                .collect(),
        })
        .collect();
    DaemonStatus {
        pid,
        config: config_path.to_path_buf(),
        virtuals,
        sync: sync
            .threads
            .iter()
            .map(|(state, interface, syncid, ours)| SyncStatus {
                state: state_name(*state).to_string(),
                interface: interface.clone(),
                syncid: *syncid,
                started_by_lvsd: *ours,
            })
            .collect(),
        sync_error: sync.error.clone(),
        sync_foreign: sync
            .foreign
            .iter()
            .map(|f| ForeignSyncidStatus {
                interface: f.interface.clone(),
                syncid: f.syncid,
                our_syncid: f.ours,
                messages: f.messages,
                last_peer: f.last_peer.to_string(),
            })
            .collect(),
    }
}

/// The status of a director, or `None` while its table view is not known
/// to match the kernel (a pass failed): a file saying every virtual is
/// missing would have the OCF monitor fail a director that serves fine, so
/// the file on disk (from the last good pass) is kept instead. The monitor
/// at depth 10 reads the kernel itself and sees a table that is really gone.
pub fn of_view(config_path: &Path, pid: u32, view: &View, sync: &SyncView) -> Option<DaemonStatus> {
    view.synced.then(|| build(config_path, pid, view, sync))
}

pub fn store(path: &Path, s: &DaemonStatus) -> io::Result<()> {
    let text = serde_json::to_string_pretty(s).map_err(io::Error::other)?;
    // As root in a shared directory: never through a planted symlink, and
    // readers see the old file or the new one.
    super::pidfile::replace_file(path, text.as_bytes(), 0o644)
}

pub fn load(path: &Path) -> io::Result<DaemonStatus> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether the daemon runs, as the pid file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Running,
    /// The pid file names a process that is gone (or is not lvsd).
    Stale,
    Stopped,
}

/// What `lvsd status --json` prints, and `--porcelain` in lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub state: DaemonState,
    /// The running daemon's pid, or the stale one.
    pub pid: Option<u32>,
    pub config: PathBuf,
    pub pidfile: PathBuf,
    /// The daemon's status; `None` unless it runs and has written it since
    /// it started (right after start, or while a pid is stale).
    pub status: Option<DaemonStatus>,
}

impl Report {
    /// `status` is what the status file holds; one left by an earlier
    /// daemon (killed before it could remove it) is not this one's.
    pub fn new(
        proc: ProcState,
        config: &Path,
        pidfile: &Path,
        status: Option<DaemonStatus>,
    ) -> Report {
        let (state, pid) = match proc {
            ProcState::Running(p) => (DaemonState::Running, Some(p)),
            ProcState::Stale(p) => (DaemonState::Stale, Some(p)),
            ProcState::Stopped => (DaemonState::Stopped, None),
        };
        let status = status.filter(|s| state == DaemonState::Running && Some(s.pid) == pid);
        Report {
            state,
            pid,
            config: config.to_path_buf(),
            pidfile: pidfile.to_path_buf(),
            status,
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
