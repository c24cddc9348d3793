//! The director process: start-up and shutdown, in their order. Signals
//! first (one that comes during start-up waits in its stream), the lock
//! and the pid file at once, then the configuration, the kernel, the
//! checks, metrics and the sync threads before the first pass; the loop
//! is in [`super::serve`], reloads in [`super::reload`]. At shutdown the
//! `execute=` instances, the checks, cleanstop, the sync threads lvsd
//! started, `fallbackcommand stop`, the mails, then the lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{error, info, warn};

use crate::check::{Engine, Prober};
use crate::config::{self, Config, Diagnostic, Severity};
use crate::director::checks::{specs, SpecError};
use crate::director::controller::{Controller, Input};
use crate::director::owned;
use crate::director::reconcile::Director;
use crate::ipvs::{Client, IpvsError};

use super::alerts::Phase;
use super::execute::{self, Instances};
use super::hooks;
use super::maintenance::Maintenance;
use super::metrics::Metrics;
use super::monitor::MonitorFiles;
use super::notify;
use super::pidfile::{self, Flavor, InstanceLock, LockError, LockRecord, PidFile};
use super::serve::{blocking, first_round, observe, serve, State};
use super::status;
use super::sync::{SyncError, SyncThreads};
use super::watch::FileWatch;

mod setup;
pub use setup::*;

/// Runs the director until SIGTERM/SIGINT. Blocks; builds its own runtime.
pub fn run(opts: RunOptions) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io_err("cannot start the async runtime"))?;
    let result = rt.block_on(main_loop(opts));
    // A reload's resolve stuck past its deadline must not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// SIGHUP/SIGTERM/SIGINT, caught from the first moment: one that comes
/// during start-up waits in its stream (a reload, or the stop path).
struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> Result<Signals, DaemonError> {
        Ok(Signals {
            hup: signal(SignalKind::hangup()).map_err(io_err("cannot handle SIGHUP"))?,
            term: signal(SignalKind::terminate()).map_err(io_err("cannot handle SIGTERM"))?,
            int: signal(SignalKind::interrupt()).map_err(io_err("cannot handle SIGINT"))?,
        })
    }
}

/// SIGTERM or SIGINT.
async fn stop_signal(mut term: Signal, mut int: Signal) {
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Removes the pid file when the daemon ends, however it ends.
struct PidGuard(Option<PidFile>);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            p.remove_if_ours(std::process::id());
        }
    }
}

/// The pid file this daemon writes: the one asked for, unless a live
/// director of another configuration with the same file name holds it;
/// then one named by the state key, so neither loses track of the other.
fn claim_pidfile(opts: &RunOptions) -> Result<Option<PidFile>, DaemonError> {
    let Some(mut p) = opts.pidfile.clone() else {
        return Ok(None);
    };
    let me = std::process::id();
    if let Ok(pidfile::ProcState::Running(other)) = p.state() {
        if other != me {
            let alt = p
                .path
                .with_file_name(format!("{}.{}.pid", opts.flavor.name(), opts.key));
            warn!(pid = other, taken = %p.path.display(), pidfile = %alt.display(),
                "the pid file belongs to the director of another configuration with the same file name; using another");
            p = PidFile { path: alt };
        }
    }
    p.write(me)
        .map_err(io_err(format!("cannot write {}", p.path.display())))?;
    Ok(Some(p))
}

async fn main_loop(mut opts: RunOptions) -> Result<(), DaemonError> {
    let signals = Signals::new()?;
    std::fs::create_dir_all(&opts.state_dir).map_err(io_err(format!(
        "cannot create {}",
        opts.state_dir.display()
    )))?;
    // One daemon per configuration, and the pid file at once: `stop` and
    // a second `start` see a daemon that is still starting.
    let lock = InstanceLock::acquire(&opts.lock_path())?;
    let canonical = pidfile::canonical(&opts.config);
    opts.pidfile = claim_pidfile(&opts)?;
    let _pid_guard = PidGuard(opts.pidfile.clone());
    let mut record = LockRecord {
        pid: std::process::id(),
        config: canonical.clone(),
        pidfile: opts.pidfile.as_ref().map(|p| p.path.clone()),
        ready: false,
    };
    lock.set(&record).map_err(io_err(format!(
        "cannot write {}",
        opts.lock_path().display()
    )))?;
    let config = load_daemon_config(&opts.config, opts.debug)
        .ok_or_else(|| DaemonError::Config(opts.config.clone()))?;
    let check_specs = specs(&config)?;
    let client = tokio::task::block_in_place(Client::connect)?;
    let loaded = owned::load_for(&opts.owned_path(), &opts.legacy_owned_path(), &canonical)
        .map_err(io_err("cannot read the ownership record"))?;
    for line in loaded.bad {
        warn!(%line, "ignoring an unreadable line of the ownership record");
    }
    if let Some(other) = &loaded.foreign {
        error!(record = %opts.owned_path().display(), config = %other.display(),
            "the ownership record belongs to another configuration; set aside, nothing in it is removed");
    }
    if let Some(old) = &loaded.migrated_from {
        info!(from = %old.display(), to = %opts.owned_path().display(), "ownership record moved to its per-path name");
    }
    let recorded = loaded.owned;
    let (mut engine, mut events) = Engine::new(Prober::new());
    let monitor = MonitorFiles::new(&config);
    observe(&engine, &monitor);
    let mut metrics = Metrics::new(engine.observer());
    if let Some(addr) = config.global.metrics {
        // Before the first pass: a daemon that cannot serve what was asked
        // for refuses to start rather than touching the table.
        metrics
            .configure(&config)
            .map_err(io_err(format!("cannot listen for metrics on {addr}")))?;
    }
    engine.apply(check_specs);
    let maintenance = Maintenance::new(config.global.maintenancedir.clone());
    let watch = FileWatch::new(&opts.config);
    let sync_config = config.global.sync.clone();
    let director = Director::new(client, config, recorded, Some(opts.owned_path()));
    let observer = engine.observer();
    let in_maintenance = maintenance.scan(director.config());
    for k in &in_maintenance {
        info!(service = %k.service, real = %k.real, "real server in maintenance");
    }
    let health = Box::new(move || observer.snapshot());
    let mut ctl = Controller::new(director, health, in_maintenance);
    // The sync threads before the table: a start that cannot run what was
    // asked for refuses, as for metrics, before touching anything.
    let mut sync = SyncThreads::new(opts.owned_path().with_extension("sync"));
    tokio::task::block_in_place(|| sync.apply(ctl.kernel(), &sync_config))?;
    let instances = Instances::new(
        execute::Program::this(opts.flavor.name())
            .map_err(|e| warn!(error = %e, "cannot find this program's executable"))
            .ok(),
    );
    let mut st = State::new(opts, ctl, engine, maintenance, metrics, monitor, sync);
    st.instances = instances;
    st.watch = watch;
    // Adopt: reals already serving keep their weight until checked.
    st.pass(Input::Resync);
    // Give the first check round (started at once) a moment to report, so
    // that READY means "programmed from real health" where it can.
    let Signals { mut hup, term, int } = signals;
    let mut shutdown = std::pin::pin!(stop_signal(term, int));
    let stop_now = first_round(&mut st, &mut events, &mut shutdown).await;
    let result = if stop_now {
        info!("told to stop during start-up");
        Ok(())
    } else {
        st.update();
        record.ready = true;
        if let Err(e) = lock.set(&record) {
            warn!(error = %e, "cannot record readiness in the lock file");
        }
        let n = st.config().virtuals.len();
        st.phase = Phase::Running;
        info!(virtuals = n, "table programmed; running");
        notify::ready(&format!("{n} virtual services programmed"));
        let list = st.instance_list(&st.config().global.execute.clone());
        st.instances.start(&list);
        serve(&mut st, &mut events, &mut hup, &mut shutdown).await;
        Ok(())
    };

    st.phase = Phase::Stopping;
    notify::stopping();
    info!("stopping");
    // As ldirectord: the execute= instances stop first.
    st.instances.stop().await;
    st.engine.shutdown().await;
    let ctl = &mut st.ctl;
    let stop = blocking(|| ctl.step(Input::Stop));
    match &stop.report {
        Ok(report) => {
            for (change, why) in &report.failed {
                error!(%change, error = %why, "cleanstop: the kernel refused");
            }
        }
        Err(e) => error!(error = %e, "cleanstop: cannot read the table"),
    }
    let stopped = stop.stopped.unwrap_or_default();
    let mails = st.alerts.purged(
        st.ctl.config(),
        &stopped.before,
        &stopped.removed,
        &st.mailer.host,
    );
    for m in mails {
        st.mailer.send(m);
    }
    blocking(|| st.sync.stop(st.ctl.kernel()));
    for v in &st.ctl.config().virtuals {
        if stopped.unserved.contains(&v.key) {
            if let Some(cmd) = &v.fallbackcommand {
                hooks::fallback_command_wait(cmd, "stop", v).await;
            }
        }
    }
    // Alerts still on their way (each bounded by the mailer's timeout).
    st.mailer.flush().await;
    let _ = std::fs::remove_file(st.opts.status_path());
    drop(_pid_guard);
    info!("stopped");
    // Released only now: a new daemon cannot start before cleanstop is done.
    drop(lock);
    result
}
