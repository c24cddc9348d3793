//! Reading a configuration for a reload off the main loop.
//!
//! Loading resolves every host name with getaddrinfo, which blocks for as
//! long as the resolver takes (seconds per name when a name server is
//! down). On the main loop that would stall health passes and the
//! watchdog, so the file is read, parsed and resolved on the blocking pool
//! under [`DEADLINE`]; the loop goes on meanwhile and takes the result as
//! one more event. A load past its deadline fails the reload; the running
//! configuration stays.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use tracing::{debug, error, info};

use crate::check::Checker;
use crate::config::{self, resolve, Config, Loaded, Resolver};
use crate::director::checks::{specs, SpecError};
use crate::director::controller::Input;
use crate::ipvs::kernel::Kernel;

use super::alerts::Phase;
use super::logging::{self, Sink};
use super::maintenance::Maintenance;
use super::notify;
use super::run::log_diagnostics;
use super::serve::{observe, State};
use super::sync::SyncKernel;

/// How long a reload may take to read and resolve its file. glibc gives
/// one name at most 5 s x 2 attempts per name server; a file of names on a
/// dead resolver is not worth waiting longer for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Why a reload kept the running configuration.
#[derive(Debug, Error)]
pub enum ReloadError {
    /// The file has errors (each was logged as `FILE:LINE: message`).
    #[error("the configuration has errors; keeping the running one")]
    Invalid,
    #[error("{0}; keeping the running configuration")]
    Specs(#[from] SpecError),
    #[error("reading and resolving the configuration took over {} s (a slow or dead name server?); keeping the running one", .0.as_secs())]
    Timeout(Duration),
    /// The load on the blocking pool panicked or was cancelled.
    #[error("the configuration load did not finish: {0}; keeping the running one")]
    Aborted(String),
}

/// Which resolver a load uses.
#[derive(Clone, Default)]
pub enum Resolve {
    /// getaddrinfo and `/etc/services`, read anew for every load.
    #[default]
    System,
    /// A given one (tests).
    Given(Arc<dyn Resolver + Send + Sync>),
}

/// What a load read: the parsed file and its bytes (for the file watch).
pub struct Fetched {
    pub loaded: Loaded,
    pub source: Option<Vec<u8>>,
}

type Pending = Pin<Box<dyn Future<Output = Result<Fetched, ReloadError>> + Send>>;

/// At most one load in flight; a reload asked for meanwhile is run after it
/// (the file may have changed again since the first was read).
#[derive(Default)]
pub struct Loader {
    pending: Option<Pending>,
    again: bool,
}

impl Loader {
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts reading `path`; false (and remembered for later) when a load
    /// is already in flight.
    pub fn start(&mut self, path: PathBuf, resolve: Resolve, deadline: Duration) -> bool {
        if self.busy() {
            self.again = true;
            return false;
        }
        let task = tokio::task::spawn_blocking(move || {
            let (loaded, source) = match resolve {
                Resolve::System => config::load_source(&path, &resolve::System::new()),
                Resolve::Given(r) => config::load_source(&path, r.as_ref()),
            };
            Fetched { loaded, source }
        });
        // From now, not from when the loop first polls the load.
        let until = tokio::time::Instant::now() + deadline;
        self.pending = Some(Box::pin(async move {
            // A resolve past the deadline cannot be cancelled (getaddrinfo
            // blocks its thread); its result is dropped when it comes.
            match tokio::time::timeout_at(until, task).await {
                Ok(Ok(f)) => Ok(f),
                Ok(Err(e)) => Err(ReloadError::Aborted(e.to_string())),
                Err(_) => Err(ReloadError::Timeout(deadline)),
            }
        }));
        true
    }

    /// The result of the load in flight; pending forever when there is
    /// none (for `select!`). Cancel-safe: the load stays in flight.
    pub async fn finished(&mut self) -> Result<Fetched, ReloadError> {
        match self.pending.as_mut() {
            Some(p) => {
                let r = p.await;
                self.pending = None;
                r
            }
            None => std::future::pending().await,
        }
    }

    /// Whether a reload was asked for while the last load ran (cleared).
    pub fn take_again(&mut self) -> bool {
        std::mem::take(&mut self.again)
    }
}

impl<K: Kernel + SyncKernel, P: Checker> State<K, P> {
    /// Reload, first half: the file is read, parsed and resolved on the
    /// blocking pool ([`Loader`]); the loop goes on serving and takes the
    /// result in [`State::finish_reload`]. One asked for while a load runs
    /// is run after it.
    pub(super) fn reload(&mut self) {
        let started = std::time::Instant::now();
        let path = self.opts.config.clone();
        if self
            .loader
            .start(path, self.resolve.clone(), self.reload_deadline)
        {
            notify::reloading();
            info!(config = %self.opts.config.display(), "reloading");
            self.reload_started = started;
        } else {
            debug!("a reload is already reading the file; another follows it");
        }
    }

    /// Reload, second half: validate fully, then swap. A bad file (or one
    /// that could not be read in time) changes nothing; health of
    /// unchanged checks is kept by the engine.
    pub(super) fn finish_reload(&mut self, fetched: Result<Fetched, ReloadError>) {
        let started = self.reload_started;
        self.phase = Phase::Reloading;
        // Where a reload's time goes, for the "done" line.
        let mut parsed = Duration::ZERO;
        let mut checked = Duration::ZERO;
        let (loaded, source) = match fetched {
            Ok(f) => (
                accept_loaded(f.loaded, self.opts.debug).ok_or(ReloadError::Invalid),
                Some(f.source),
            ),
            // Nothing was parsed: the watch keeps what it saw last.
            Err(e) => (Err(e), None),
        };
        let outcome = match loaded {
            Err(e) => Err(e),
            // Its checks were validated and started when it was loaded:
            // nothing to reconfigure (checks, monitor files, maintenance,
            // metrics), only the pass below that compares with the kernel.
            Ok(config) if config == *self.config() => {
                parsed = started.elapsed();
                debug!("the configuration is unchanged");
                // ldirectord reloads its execute= instances on every reload.
                let list = self.instance_list(&config.global.execute);
                self.instances.reconfigure(&list);
                let m = self.rescan_maintenance(&config);
                let m = m.unwrap_or_else(|| self.ctl.maintenance().clone());
                checked = started.elapsed();
                Ok(self.pass(Input::Maintenance(m)))
            }
            Ok(config) => match specs(&config) {
                Err(e) => Err(ReloadError::from(e)),
                Ok(specs) => {
                    parsed = started.elapsed();
                    let list = self.instance_list(&config.global.execute);
                    self.instances.reconfigure(&list);
                    self.monitor.set_config(&config);
                    observe(&self.engine, &self.monitor);
                    self.engine.apply(specs);
                    self.maintenance = Maintenance::new(config.global.maintenancedir.clone());
                    self.apply_sync(&config.global.sync);
                    if let Err(e) = self.metrics.configure(&config) {
                        error!(error = %e, "cannot bind the metrics endpoint");
                    }
                    let m = self.rescan_maintenance(&config);
                    let m = m.unwrap_or_else(|| self.ctl.maintenance().clone());
                    checked = started.elapsed();
                    Ok(self.pass(Input::Reload(Box::new(config), m)))
                }
            },
        };
        // What was parsed, not the file now: a later write is a change.
        if let Some(source) = source {
            self.watch.seen_parsed(source.as_deref());
        }
        self.phase = Phase::Running;
        self.metrics.reload(outcome.is_ok());
        match outcome {
            Ok(changes) => {
                // Timed from the signal's handling to the kernel's last ACK
                // (or to the diff that found nothing to change).
                let total = started.elapsed();
                let ms = total.as_millis();
                let phases = format!(
                    "parse {} ms, checks {} ms, pass {} ms, status file {} ms",
                    parsed.as_millis(),
                    (checked - parsed).as_millis(),
                    (total - checked)
                        .saturating_sub(self.status_cost)
                        .as_millis(),
                    self.status_cost.as_millis()
                );
                match changes {
                    Some(n) => info!("reload done in {ms} ms, {n} changes ({phases})"),
                    None => {
                        info!("reload done in {ms} ms; the table is not in line yet ({phases})")
                    }
                }
                notify::ready("reloaded");
            }
            Err(why) => {
                error!("reload failed: {why}");
                notify::ready(&format!("reload failed: {why}"));
            }
        }
    }
}

/// A loaded file, as the daemon takes it: a valid one points the log copy
/// at its `logfile=` first, then every diagnostic is logged.
pub(super) fn accept_loaded(loaded: Loaded, debug: bool) -> Option<Config> {
    if !loaded.has_errors() {
        logging::configure(Sink::for_config(&loaded.config.global, debug));
    }
    log_diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        None
    } else {
        Some(loaded.config)
    }
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
