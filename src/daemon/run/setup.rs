//! What a director process is given (its options), how it fails, and how
//! it loads its configuration.

use super::*;

/// How a director process is set up (from the command line).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration file, already searched for.
    pub config: PathBuf,
    /// ldirectord's `$CFGNAME`: names the pid file.
    pub name: String,
    /// `$CFGNAME` and a hash of the configuration's canonical path
    /// ([`pidfile::state_key`]): names the lock, ownership and status files.
    pub key: String,
    /// Where the ownership record and the status file live (`/run/lvsd`).
    pub state_dir: PathBuf,
    /// Written once the table is programmed; removed on exit.
    pub pidfile: Option<PidFile>,
    /// How often the whole table is read again to repair drift.
    pub resync: Duration,
    /// ldirectord's `-d`: log to stderr only, not to `logfile=`.
    pub debug: bool,
    /// The name `execute=` instances are run under (`lvsd`/`ldirectord`).
    pub flavor: Flavor,
}

impl RunOptions {
    pub fn owned_path(&self) -> PathBuf {
        self.state_dir.join(format!("{}.owned", self.key))
    }

    /// Where the record was kept before it was keyed by path.
    pub fn legacy_owned_path(&self) -> PathBuf {
        self.state_dir.join(format!("{}.owned", self.name))
    }

    pub fn status_path(&self) -> PathBuf {
        status::path(&self.state_dir, &self.key)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join(format!("{}.lock", self.key))
    }
}

#[derive(Debug, Error)]
pub enum DaemonError {
    /// The configuration is invalid (the diagnostics were logged).
    #[error("{}: invalid configuration", .0.display())]
    Config(PathBuf),
    #[error("{0}")]
    Specs(#[from] SpecError),
    #[error("{0}")]
    Ipvs(#[from] IpvsError),
    #[error("{0}")]
    Lock(#[from] LockError),
    #[error("{}: {}", .0, cause_of(.0))]
    Sync(#[from] SyncError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// The kernel's word under a sync error, for the one line an operator reads.
pub(super) fn cause_of(e: &SyncError) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
}

pub(super) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// Loads and validates a configuration, logging every diagnostic as
/// `FILE:LINE: message`. `None` when it has errors.
pub fn load_config(path: &Path) -> Option<Config> {
    let loaded = config::load(path);
    log_diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        None
    } else {
        Some(loaded.config)
    }
}

/// [`load_config`] for the daemon: a valid file also points the log copy
/// at its `logfile=` (or stdout when supervised) before its warnings are
/// logged, so they land there too.
pub(super) fn load_daemon_config(path: &Path, debug: bool) -> Option<Config> {
    load_daemon_source(path, debug).0
}

/// [`load_daemon_config`], also returning the bytes it parsed (for the
/// file watch: see [`FileWatch::seen_parsed`]).
pub(super) fn load_daemon_source(path: &Path, debug: bool) -> (Option<Config>, Option<Vec<u8>>) {
    let (loaded, bytes) = config::load_source(path, &config::resolve::System::new());
    (crate::daemon::reload::accept_loaded(loaded, debug), bytes)
}

pub(in crate::daemon) fn log_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        match d.severity {
            Severity::Error => error!("{d}"),
            Severity::Warning => warn!("{d}"),
        }
    }
}
