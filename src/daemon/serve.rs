//! The running director's loop and what it does for each input: health
//! events, SIGHUP, resync, maintenance, the file watch, reloads finishing,
//! the watchdog. Generic over the kernel and the prober, so that tests run
//! it with the in-memory kernel and a scripted prober under paused time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{interval, sleep, Instant, MissedTickBehavior};
use tracing::{error, info};

use crate::check::engine::HealthEvent;
use crate::check::{Checker, Engine, Health, Outcome};
use crate::config::Config;
use crate::director::controller::{Controller, Input};
use crate::director::desired::RealKey;
use crate::director::view::View;
use crate::ipvs::kernel::Kernel;

use super::alerts::{Alerts, Phase};
use super::execute::Instances;
use super::hooks;
use super::mailer::Mailer;
use super::maintenance::Maintenance;
use super::metrics::Metrics;
use super::monitor::MonitorFiles;
use super::notify;
use super::reload::{Loader, Resolve};
use super::run::RunOptions;
use super::sync::{SyncKernel, SyncThreads, SyncView};
use super::watch::FileWatch;

mod first_round;
pub(super) use first_round::first_round;

/// What asks for a reload: SIGHUP, or a channel in tests.
pub(super) trait Hup {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send;
}

impl Hup for tokio::signal::unix::Signal {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
        tokio::signal::unix::Signal::recv(self)
    }
}

impl Hup for tokio::sync::mpsc::UnboundedReceiver<()> {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
        tokio::sync::mpsc::UnboundedReceiver::recv(self)
    }
}

/// Netlink calls are synchronous and short (a pass over a 1,000-service
/// table takes milliseconds); on the multi-threaded runtime they run in
/// `block_in_place` so the check tasks keep their schedule meanwhile.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Everything the running director holds besides its signals and events.
pub(super) struct State<K: Kernel + SyncKernel, P: Checker> {
    pub(super) opts: RunOptions,
    pub(super) ctl: Controller<K>,
    pub(super) engine: Engine<RealKey, P>,
    pub(super) maintenance: Maintenance,
    /// `execute=`: the other instances driven with this one.
    pub(super) instances: Instances,
    pub(super) watch: FileWatch,
    pub(super) monitor: Arc<MonitorFiles>,
    pub(super) alerts: Alerts,
    pub(super) mailer: Mailer,
    /// For `emailalertstatus` and the alert mails.
    pub(super) phase: Phase,
    pub(super) metrics: Metrics,
    /// What writing the status file took last time (reported by reload).
    pub(super) status_cost: Duration,
    /// The view the status file on disk was made from: rewriting 10,000
    /// reals that did not change is most of a no-op pass.
    pub(super) written: Option<(Arc<View>, SyncView)>,
    /// The kernel's sync threads, as last listed (start, reload, resync).
    pub(super) sync_view: SyncView,
    /// `syncdaemon=`: the kernel's sync threads lvsd started.
    pub(super) sync: SyncThreads,
    /// The reload reading its file off the loop, if any.
    pub(super) loader: Loader,
    pub(super) resolve: Resolve,
    pub(super) reload_deadline: Duration,
    /// When the reload in flight was asked for.
    pub(super) reload_started: std::time::Instant,
}

impl<K: Kernel + SyncKernel, P: Checker> State<K, P> {
    /// A director before its first pass (`execute=` instances none, the
    /// file watch on `opts.config`, alerts and mails idle).
    pub(super) fn new(
        opts: RunOptions,
        ctl: Controller<K>,
        engine: Engine<RealKey, P>,
        maintenance: Maintenance,
        metrics: Metrics,
        monitor: Arc<MonitorFiles>,
        sync: SyncThreads,
    ) -> Self {
        let watch = FileWatch::new(&opts.config);
        State {
            opts,
            ctl,
            engine,
            maintenance,
            instances: Instances::new(None),
            watch,
            monitor,
            alerts: Alerts::default(),
            mailer: Mailer::default(),
            phase: Phase::Starting,
            metrics,
            status_cost: Duration::ZERO,
            written: None,
            sync_view: SyncView::default(),
            sync,
            loader: Loader::default(),
            resolve: Resolve::System,
            reload_deadline: super::reload::DEADLINE,
            reload_started: std::time::Instant::now(),
        }
    }

    pub(super) fn config(&self) -> &Config {
        self.ctl.config()
    }

    /// The configuration file changed on disk: `callback` runs as in
    /// ldirectord, and with `autoreload=yes` the file is reloaded.
    pub(super) fn config_file_check(&mut self) {
        // The load in flight reads the file; its result sets the watch.
        if self.loader.busy() || !self.watch.changed() {
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
    pub(super) fn health_changed(&mut self, ev: &HealthEvent<RealKey>) {
        log_event(ev);
    }

    /// One step of the controller; logs, and runs hooks and alerts for
    /// what it did. Returns how many changes the kernel was asked to make
    /// (`None`: the pass failed).
    pub(super) fn pass(&mut self, input: Input) -> Option<usize> {
        // A full pass also lists the sync threads again: someone else may
        // have started or stopped one.
        let full = matches!(input, Input::Resync);
        let ctl = &mut self.ctl;
        let pass = blocking(|| ctl.step(input));
        if full {
            self.list_sync();
        }
        self.metrics.pass(pass.report.as_ref().ok(), &pass.view);
        let changes = match &pass.report {
            Ok(report) => {
                self.after_pass(report, &pass.view);
                Some(report.applied.len() + report.failed.len())
            }
            // The kernel could not be read or written at all: keep the last
            // good state and try again on the next event or resync.
            Err(e) => {
                error!(error = %e, "reconcile failed; will retry");
                None
            }
        };
        self.write_status(&pass.view);
        changes
    }

    /// A pass from the table the last pass left: health, maintenance.
    pub(super) fn update(&mut self) -> Option<usize> {
        self.pass(Input::Health)
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

/// The loop: health events, SIGHUP (`hup`), resync, maintenance, the
/// file watch, reloads finishing and the watchdog, until `shutdown`.
pub(super) async fn serve<K: Kernel + SyncKernel, P: Checker>(
    st: &mut State<K, P>,
    events: &mut UnboundedReceiver<HealthEvent<RealKey>>,
    hup: &mut impl Hup,
    shutdown: &mut Pin<&mut impl Future<Output = ()>>,
) {
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
                let Some(ev) = ev else { return };
                st.health_changed(&ev);
                // Coalesce a burst (many reals failing at once) into one pass.
                sleep(Duration::from_millis(20)).await;
                while let Ok(ev) = events.try_recv() {
                    st.health_changed(&ev);
                }
                st.update();
            }
            _ = hup.recv() => st.reload(),
            _ = shutdown.as_mut() => return,
            _ = resync.tick() => {
                st.pass(Input::Resync);
            }
            _ = tick.tick() => {
                st.remind();
                st.maintenance_check();
            }
            _ = poll.tick() => st.config_file_check(),
            _ = file_events.notified() => {
                // Editors write in several steps: let them finish.
                sleep(Duration::from_millis(100)).await;
                st.config_file_check();
            }
            _ = watchdog.tick() => notify::watchdog(),
            fetched = st.loader.finished() => {
                st.finish_reload(fetched);
                if st.loader.take_again() {
                    st.reload();
                }
            }
        }
    }
}

/// Feeds every probe result to the monitor files, only while some virtual
/// has one (the observer costs a lookup per result).
pub(super) fn observe<P: Checker>(engine: &Engine<RealKey, P>, monitor: &Arc<MonitorFiles>) {
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
#[path = "serve_tests.rs"]
mod tests;
