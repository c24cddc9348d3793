//! The director process: load the configuration, start the checks, adopt
//! what the kernel holds, then keep the table in line with health until told
//! to stop. Reload swaps the configuration only once the new one is valid.
//!
//! Netlink calls are synchronous and short (a pass over a 1,000-service
//! table takes milliseconds); they run in `block_in_place` so the check
//! tasks keep their schedule meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::check::engine::{HealthEvent, Status};
use crate::check::{Engine, Health, Outcome, Prober};
use crate::config::{self, Config, Diagnostic, Severity};
use crate::director::checks::{specs, SpecError};
use crate::director::desired::{Knowledge, RealKey};
use crate::director::owned;
use crate::director::reconcile::{Director, Report};
use crate::ipvs::table::ServiceKey;
use crate::ipvs::{Client, IpvsError};

use super::alerts::{Alerts, Phase};
use super::execute::{self, Instances};
use super::hooks;
use super::logging::{self, Sink};
use super::mailer::Mailer;
use super::maintenance::Maintenance;
use super::metrics::Metrics;
use super::monitor::MonitorFiles;
use super::notify;
use super::pidfile::{self, Flavor, InstanceLock, LockError, LockRecord, PidFile};
use super::status;
use super::sync::{SyncError, SyncThreads};
use super::watch::FileWatch;

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
fn cause_of(e: &SyncError) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
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
fn load_daemon_config(path: &Path, debug: bool) -> Option<Config> {
    load_daemon_source(path, debug).0
}

/// [`load_daemon_config`], also returning the bytes it parsed (for the
/// file watch: see [`FileWatch::seen_parsed`]).
fn load_daemon_source(path: &Path, debug: bool) -> (Option<Config>, Option<Vec<u8>>) {
    let (loaded, bytes) = config::load_source(path, &config::resolve::System::new());
    if !loaded.has_errors() {
        logging::configure(Sink::for_config(&loaded.config.global, debug));
    }
    log_diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        (None, bytes)
    } else {
        (Some(loaded.config), bytes)
    }
}

fn log_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        match d.severity {
            Severity::Error => error!("{d}"),
            Severity::Warning => warn!("{d}"),
        }
    }
}

/// Runs the director until SIGTERM/SIGINT. Blocks; builds its own runtime.
pub fn run(opts: RunOptions) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io_err("cannot start the async runtime"))?;
    rt.block_on(main_loop(opts))
}

/// What the director knows at one moment, for [`crate::director::desired`].
struct Know<'a> {
    health: &'a BTreeMap<RealKey, Status>,
    maintenance: &'a BTreeSet<RealKey>,
    placed: &'a BTreeSet<RealKey>,
}

impl Knowledge for Know<'_> {
    fn health(&self, key: &RealKey) -> Health {
        self.health
            .get(key)
            .map(|s| s.health)
            .unwrap_or(Health::Unknown)
    }
    fn in_maintenance(&self, key: &RealKey) -> bool {
        self.maintenance.contains(key)
    }
    fn placed_before(&self, key: &RealKey) -> bool {
        self.placed.contains(key)
    }
}

struct State {
    opts: RunOptions,
    director: Director<Client>,
    engine: Engine<RealKey, Prober>,
    maintenance: Maintenance,
    in_maintenance: BTreeSet<RealKey>,
    /// Reals this director has seen in the kernel or put there.
    placed: BTreeSet<RealKey>,
    /// A configuration was swapped in since the last pass.
    new_config: bool,
    /// `execute=`: the other instances driven with this one.
    instances: Instances,
    watch: FileWatch,
    monitor: Arc<MonitorFiles>,
    alerts: Alerts,
    mailer: Mailer,
    /// For `emailalertstatus` and the alert mails.
    phase: Phase,
    metrics: Metrics,
    /// What writing the status file took last time (reported by reload).
    status_cost: Duration,
    /// What the status file on disk was made from: rewriting 10,000 reals
    /// that did not change is most of a no-op pass.
    status_basis: Option<StatusBasis>,
    /// `syncdaemon=`: the kernel's sync threads lvsd started.
    sync: SyncThreads,
}

/// The inputs of the last status file written, besides the configuration
/// and the table (a change to either clears [`State::status_basis`]).
struct StatusBasis {
    health: BTreeMap<RealKey, Status>,
    maintenance: BTreeSet<RealKey>,
}

impl StatusBasis {
    /// Whether the status file made from `health` would read the same
    /// (it does not show when a probe last ran).
    fn shows_same(
        &self,
        health: &BTreeMap<RealKey, Status>,
        maintenance: &BTreeSet<RealKey>,
    ) -> bool {
        self.maintenance == *maintenance
            && self.health.len() == health.len()
            && self.health.iter().zip(health).all(|((ka, a), (kb, b))| {
                ka == kb && a.health == b.health && a.failures == b.failures && a.last == b.last
            })
    }
}

impl State {
    fn config(&self) -> &Config {
        self.director.config()
    }

    /// The configuration file changed on disk: `callback` runs as in
    /// ldirectord, and with `autoreload=yes` the file is reloaded.
    fn config_file_check(&mut self) {
        if !self.watch.changed() {
            return;
        }
        if let Some(cb) = self.config().global.callback.clone() {
            hooks::callback(&cb, &self.opts.config);
        }
        if self.config().global.autoreload {
            self.reload();
        } else {
            self.watch.refresh();
        }
    }

    /// One health transition: logged (the engine counts it for metrics; the
    /// pass that acts on it comes after the burst).
    fn health_changed(&mut self, ev: &HealthEvent<RealKey>) {
        log_event(ev);
    }

    /// A full pass (reads the whole table): start-up and resync.
    fn reconcile(&mut self) -> Option<usize> {
        self.pass(true)
    }

    /// A pass from the table the last pass left (see
    /// [`Director::update`]): health events, maintenance, reload.
    fn update(&mut self) -> Option<usize> {
        self.pass(false)
    }

    /// One reconcile pass with everything known now; logs and runs hooks.
    /// Returns how many changes the kernel was asked to make (`None`: the
    /// pass failed).
    fn pass(&mut self, full: bool) -> Option<usize> {
        let health = self.engine.snapshot();
        let know = Know {
            health: &health,
            maintenance: &self.in_maintenance,
            placed: &self.placed,
        };
        let director = &mut self.director;
        let result = tokio::task::block_in_place(|| {
            if full {
                director.reconcile(&know)
            } else {
                director.update(&know)
            }
        });
        let table_may_differ = match &result {
            Ok(report) => report.read || !report.applied.is_empty() || !report.failed.is_empty(),
            Err(_) => true,
        };
        if table_may_differ {
            self.status_basis = None;
        }
        let changes = match result {
            Ok(report) => {
                self.metrics.pass(Some(&report), &self.in_maintenance);
                let recount = table_may_differ || std::mem::take(&mut self.new_config);
                self.after_pass(&report, recount);
                Some(report.applied.len() + report.failed.len())
            }
            // The kernel could not be read or written at all: keep the last
            // good state and try again on the next event or resync.
            Err(e) => {
                self.metrics.pass(None, &self.in_maintenance);
                error!(error = %e, "reconcile failed; will retry");
                None
            }
        };
        self.write_status(health);
        changes
    }

    /// Bookkeeping after a pass (the pass itself logged every change and
    /// every refusal), and the alert mails for its changes.
    fn after_pass(&mut self, report: &Report, recount: bool) {
        let mails = self.alerts.changes(
            self.director.config(),
            &report.applied,
            self.phase,
            std::time::Instant::now(),
            &self.mailer.host,
        );
        for m in mails {
            self.mailer.send(m);
        }
        // Only a table that changed (or was read anew), or a new
        // configuration, can show reals not seen before.
        if recount {
            let table = self.director.table();
            for v in &self.director.config().virtuals {
                let Some(e) = table.services.get(&v.key) else {
                    continue;
                };
                for r in &v.reals {
                    let addr = crate::director::plan::dest_addr(&v.key, r.addr, r.forward);
                    if e.dests.contains_key(&addr) {
                        self.placed.insert(RealKey {
                            service: v.key,
                            real: r.addr,
                        });
                    }
                }
            }
        }
        for (key, serving) in &report.serving_edges {
            if let Some(v) = self.config().virtuals.iter().find(|v| v.key == *key) {
                if let Some(cmd) = &v.fallbackcommand {
                    let action = if *serving { "stop" } else { "start" };
                    hooks::fallback_command(cmd, action, v);
                }
            }
        }
    }

    /// The `execute=` instances to drive: those whose files lead back to
    /// this one are left out, with an error.
    fn instance_list(&self, execute: &[String]) -> Vec<String> {
        if execute.is_empty() {
            return Vec::new();
        }
        let own = self
            .opts
            .config
            .canonicalize()
            .unwrap_or_else(|_| self.opts.config.clone());
        let bad = execute::cycles(&own, execute, &execute::read_instance);
        for b in &bad {
            error!(instance = %b, "execute: this instance leads back to this configuration; not driving it (every reload would bounce between them)");
        }
        execute
            .iter()
            .filter(|c| !bad.contains(c))
            .cloned()
            .collect()
    }

    /// Writes the status file unless it would read as the one on disk.
    fn write_status(&mut self, health: BTreeMap<RealKey, Status>) {
        if self
            .status_basis
            .as_ref()
            .is_some_and(|b| b.shows_same(&health, &self.in_maintenance))
        {
            self.status_cost = Duration::ZERO;
            return;
        }
        let t = std::time::Instant::now();
        let Some(s) = status::of_director(
            &self.opts.config,
            std::process::id(),
            &self.director,
            &health,
            &self.in_maintenance,
        ) else {
            // The table could not be read: the file of the last good pass
            // stays (see status::of_director); the next good pass rewrites.
            self.status_basis = None;
            self.status_cost = Duration::ZERO;
            return;
        };
        match status::store(&self.opts.status_path(), &s) {
            Ok(()) => {
                self.status_basis = Some(StatusBasis {
                    health,
                    maintenance: self.in_maintenance.clone(),
                });
            }
            Err(e) => {
                // Written again at the next pass.
                self.status_basis = None;
                warn!(error = %e, "cannot write the status file");
            }
        }
        self.status_cost = t.elapsed();
    }

    /// Sends the reminders due for reals that stay out (`emailalertfreq`).
    fn remind(&mut self) {
        let mails = self.alerts.due(
            self.director.config(),
            self.phase,
            std::time::Instant::now(),
            &self.mailer.host,
        );
        for m in mails {
            self.mailer.send(m);
        }
    }

    /// Rescans the maintenance directory; true if the set changed.
    fn rescan_maintenance(&mut self) -> bool {
        let now = self.maintenance.scan(self.director.config());
        if now != self.in_maintenance {
            for k in now.difference(&self.in_maintenance) {
                info!(service = %k.service, real = %k.real, "real server in maintenance");
            }
            for k in self.in_maintenance.difference(&now) {
                info!(service = %k.service, real = %k.real, "real server out of maintenance");
            }
            self.in_maintenance = now;
            true
        } else {
            false
        }
    }

    /// Reload: parse and validate fully, then swap. A bad file changes
    /// nothing; health of unchanged checks is kept by the engine.
    /// The sync threads after a reload: a failure is logged and the
    /// director goes on serving with the threads it has.
    fn apply_sync(&mut self) {
        let want = self.director.config().global.sync.clone();
        let sync = &mut self.sync;
        let director = &mut self.director;
        if let Err(e) = tokio::task::block_in_place(|| sync.apply(director.kernel(), &want)) {
            error!(
                "{}; the sync threads stay as they were",
                DaemonError::from(e)
            );
        }
    }

    fn reload(&mut self) {
        let started = std::time::Instant::now();
        self.phase = Phase::Reloading;
        notify::reloading();
        info!(config = %self.opts.config.display(), "reloading");
        // Where a reload's time goes, for the "done" line.
        let mut parsed = Duration::ZERO;
        let mut checked = Duration::ZERO;
        let (loaded, source) = load_daemon_source(&self.opts.config, self.opts.debug);
        let outcome = match loaded {
            None => Err("the configuration has errors; keeping the running one".to_string()),
            // Its checks were validated and started when it was loaded:
            // nothing to reconfigure (checks, monitor files, maintenance,
            // metrics), only the pass below that compares with the kernel.
            Some(config) if config == *self.config() => {
                parsed = started.elapsed();
                debug!("the configuration is unchanged");
                // ldirectord reloads its execute= instances on every reload.
                let list = self.instance_list(&config.global.execute);
                self.instances.reconfigure(&list);
                self.rescan_maintenance();
                checked = started.elapsed();
                Ok(self.update())
            }
            Some(config) => match specs(&config) {
                Err(e) => Err(format!("{e}; keeping the running configuration")),
                Ok(specs) => {
                    parsed = started.elapsed();
                    let list = self.instance_list(&config.global.execute);
                    self.instances.reconfigure(&list);
                    self.monitor.set_config(&config);
                    observe(&self.engine, &self.monitor);
                    self.engine.apply(specs);
                    self.maintenance = Maintenance::new(config.global.maintenancedir.clone());
                    self.director.set_config(config);
                    self.apply_sync();
                    self.status_basis = None;
                    self.new_config = true;
                    if let Err(e) = self.metrics.configure(self.director.config()) {
                        error!(error = %e, "cannot bind the metrics endpoint");
                    }
                    self.rescan_maintenance();
                    checked = started.elapsed();
                    Ok(self.update())
                }
            },
        };
        // What was parsed, not the file now: a later write is a change.
        self.watch.seen_parsed(source.as_deref());
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

/// SIGHUP/SIGTERM/SIGINT, caught from the first moment: one that comes
/// during start-up waits in its stream (a reload, or the stop path).
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
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
    let mut signals = Signals::new()?;
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
    let mut director = Director::new(client, config, recorded, Some(opts.owned_path()));
    // The sync threads before the table: a start that cannot run what was
    // asked for refuses, as for metrics, before touching anything.
    let mut sync = SyncThreads::new(opts.owned_path().with_extension("sync"));
    tokio::task::block_in_place(|| sync.apply(director.kernel(), &sync_config))?;
    let st_flavor = opts.flavor;
    let mut st = State {
        opts,
        director,
        engine,
        maintenance,
        in_maintenance: BTreeSet::new(),
        placed: BTreeSet::new(),
        new_config: false,
        instances: Instances::new(
            execute::Program::this(st_flavor.name())
                .map_err(|e| warn!(error = %e, "cannot find this program's executable"))
                .ok(),
        ),
        watch,
        monitor,
        alerts: Alerts::default(),
        mailer: Mailer::default(),
        phase: Phase::Starting,
        metrics,
        status_cost: Duration::ZERO,
        status_basis: None,
        sync,
    };
    st.rescan_maintenance();

    // Adopt: reals already serving keep their weight until checked.
    st.reconcile();
    // Give the first check round (started at once) a moment to report, so
    // that READY means "programmed from real health" where it can.
    let stop_now = first_round(&mut st, &mut events, &mut signals).await;
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
        serve(&mut st, &mut events, &mut signals).await
    };

    st.phase = Phase::Stopping;
    notify::stopping();
    info!("stopping");
    // As ldirectord: the execute= instances stop first.
    st.instances.stop().await;
    st.engine.shutdown().await;
    let before = st.director.table().clone();
    let cleanstop = tokio::task::block_in_place(|| st.director.clean_stop());
    match cleanstop {
        Ok(failed) => {
            for (change, why) in &failed {
                error!(%change, error = %why, "cleanstop: the kernel refused");
            }
            let removed: Vec<ServiceKey> = st
                .director
                .config()
                .virtuals
                .iter()
                .filter(|v| v.cleanstop && before.services.contains_key(&v.key))
                .filter(|v| !failed.iter().any(|(c, _)| *c.service() == v.key))
                .map(|v| v.key)
                .collect();
            let mails = st
                .alerts
                .purged(st.director.config(), &before, &removed, &st.mailer.host);
            for m in mails {
                st.mailer.send(m);
            }
        }
        Err(e) => error!(error = %e, "cleanstop: cannot read the table"),
    }
    tokio::task::block_in_place(|| st.sync.stop(st.director.kernel()));
    let unserved: Vec<ServiceKey> = st.director.unserved().copied().collect();
    for v in &st.director.config().virtuals {
        if unserved.contains(&v.key) {
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

/// Waits until every check has reported once, or until the longest probe
/// deadline (capped) has passed. True when SIGTERM/SIGINT came meanwhile.
async fn first_round(
    st: &mut State,
    events: &mut UnboundedReceiver<HealthEvent<RealKey>>,
    signals: &mut Signals,
) -> bool {
    let cap = st
        .config()
        .virtuals
        .iter()
        .map(|v| v.checktimeout.max(v.negotiatetimeout))
        .max()
        .unwrap_or(0)
        .min(30);
    let deadline =
        Instant::now() + Duration::from_secs(u64::from(cap)) + Duration::from_millis(500);
    loop {
        let pending = st
            .engine
            .snapshot()
            .values()
            .any(|s| s.health == Health::Unknown);
        if !pending || Instant::now() >= deadline {
            return false;
        }
        tokio::select! {
            ev = events.recv() => {
                if let Some(ev) = ev {
                    st.health_changed(&ev);
                }
            }
            // SIGHUP stays in its stream: serve() reloads once running.
            _ = signals.term.recv() => return true,
            _ = signals.int.recv() => return true,
            _ = sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// How often the configuration file is looked at besides inotify's
/// wake-ups (which catch an edit at once): once a second, or every
/// `LVSD_CONFIG_POLL_SECS` seconds (the kernel tests set it long to prove
/// that inotify alone reloads an edit).
fn config_poll() -> Duration {
    std::env::var("LVSD_CONFIG_POLL_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(Duration::from_secs(1), Duration::from_secs)
}

async fn serve(
    st: &mut State,
    events: &mut UnboundedReceiver<HealthEvent<RealKey>>,
    signals: &mut Signals,
) -> Result<(), DaemonError> {
    let Signals { hup, term, int } = signals;
    let mut resync = interval(st.opts.resync);
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    resync.reset();
    let mut tick = interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut watchdog = interval(notify::watchdog_interval().unwrap_or(Duration::from_secs(3600)));
    let file_events = st.watch.waker();
    let mut poll = interval(config_poll());
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                st.health_changed(&ev);
                // Coalesce a burst (many reals failing at once) into one pass.
                sleep(Duration::from_millis(20)).await;
                while let Ok(ev) = events.try_recv() {
                    st.health_changed(&ev);
                }
                st.update();
            }
            _ = hup.recv() => st.reload(),
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = resync.tick() => {
                st.reconcile();
            }
            _ = tick.tick() => {
                st.remind();
                if st.rescan_maintenance() {
                    st.update();
                }
            }
            _ = poll.tick() => st.config_file_check(),
            _ = file_events.notified() => {
                // Editors write in several steps: let them finish.
                sleep(Duration::from_millis(100)).await;
                st.config_file_check();
            }
            _ = watchdog.tick() => notify::watchdog(),
        }
    }
}

/// Feeds every probe result to the monitor files, only while some virtual
/// has one (the observer costs a lookup per result).
fn observe(engine: &Engine<RealKey, Prober>, monitor: &Arc<MonitorFiles>) {
    if monitor.is_empty() {
        engine.observe(None);
    } else {
        let m = Arc::clone(monitor);
        engine.observe(Some(Arc::new(move |key: &RealKey, outcome: &Outcome| {
            m.record(key, outcome)
        })));
    }
}

fn log_event(ev: &HealthEvent<RealKey>) {
    info!(
        service = %ev.key.service,
        real = %ev.key.real,
        from = %ev.from,
        to = %ev.to,
        reason = %ev.reason,
        "real server health changed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(health: Health, failures: u32, last: &str) -> Status {
        Status {
            health,
            failures,
            last: Some(last.to_string()),
            last_checked: None,
        }
    }

    #[test]
    fn status_file_is_rewritten_only_when_it_would_read_differently() {
        let config = crate::config::test_config(
            "virtual=10.0.0.1:80\n    real=10.0.1.1:80 masq\n    real=10.0.1.2:80 masq\n",
        );
        let v = &config.virtuals[0];
        let keys: Vec<RealKey> = v
            .reals
            .iter()
            .map(|r| RealKey {
                service: v.key,
                real: r.addr,
            })
            .collect();
        let health: BTreeMap<RealKey, Status> = keys
            .iter()
            .map(|k| (*k, status(Health::Up, 0, "200 OK")))
            .collect();
        let basis = StatusBasis {
            health: health.clone(),
            maintenance: BTreeSet::new(),
        };
        assert!(basis.shows_same(&health, &BTreeSet::new()));

        // When a probe last ran is not in the file.
        let mut later = health.clone();
        for s in later.values_mut() {
            s.last_checked = Some(Instant::now());
        }
        assert!(basis.shows_same(&later, &BTreeSet::new()));

        // Everything the file shows is noticed.
        let mut h = health.clone();
        h.insert(keys[1], status(Health::Up, 1, "200 OK"));
        assert!(!basis.shows_same(&h, &BTreeSet::new()));
        let mut h = health.clone();
        h.insert(keys[1], status(Health::Up, 0, "timed out"));
        assert!(!basis.shows_same(&h, &BTreeSet::new()));
        let mut h = health.clone();
        h.insert(keys[0], status(Health::Down, 0, "200 OK"));
        assert!(!basis.shows_same(&h, &BTreeSet::new()));
        let mut h = health.clone();
        h.remove(&keys[0]);
        assert!(!basis.shows_same(&h, &BTreeSet::new()));
        let maint: BTreeSet<RealKey> = [keys[0]].into();
        assert!(!basis.shows_same(&health, &maint));
    }
}
