//! What the running director does after each pass and on its timers:
//! alert mails and fallback commands, the status file, `emailalertfreq`
//! reminders, maintenance, the sync threads and the `execute=` list.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::check::Checker;
use crate::config::{self, Config};
use crate::director::controller::Input;
use crate::director::desired::RealKey;
use crate::director::reconcile::Report;
use crate::director::view::View;
use crate::ipvs::kernel::Kernel;

use super::execute;
use super::hooks;
use super::run::DaemonError;
use super::serve::{blocking, State};
use super::status;
use super::sync::SyncKernel;

impl<K: Kernel + SyncKernel, P: Checker> State<K, P> {
    /// The alert mails and fallback commands for a pass's changes (the
    /// pass itself logged every change and every refusal).
    pub(super) fn after_pass(&mut self, report: &Report, view: &View) {
        let mails = self.alerts.changes(
            self.ctl.config(),
            view,
            &report.applied,
            self.phase,
            std::time::Instant::now(),
            &self.mailer.host,
        );
        for m in mails {
            self.mailer.send(m);
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
    pub(super) fn instance_list(&self, execute: &[String]) -> Vec<String> {
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
    pub(super) fn write_status(&mut self, view: &Arc<View>) {
        if self
            .written
            .as_ref()
            .is_some_and(|(w, s)| **w == **view && *s == self.sync_view)
        {
            self.status_cost = Duration::ZERO;
            return;
        }
        let t = std::time::Instant::now();
        let pid = std::process::id();
        let Some(s) = status::of_view(&self.opts.config, pid, view, &self.sync_view) else {
            // The table could not be read: the file of the last good pass
            // stays (see status::of_view); the next good pass rewrites.
            self.written = None;
            self.status_cost = Duration::ZERO;
            return;
        };
        match status::store(&self.opts.status_path(), &s) {
            Ok(()) => self.written = Some((Arc::clone(view), self.sync_view.clone())),
            Err(e) => {
                // Written again at the next pass.
                self.written = None;
                warn!(error = %e, "cannot write the status file");
            }
        }
        self.status_cost = t.elapsed();
    }

    /// Sends the reminders due for reals that stay out (`emailalertfreq`).
    pub(super) fn remind(&mut self) {
        let mails = self.alerts.due(
            self.ctl.config(),
            self.phase,
            std::time::Instant::now(),
            &self.mailer.host,
        );
        for m in mails {
            self.mailer.send(m);
        }
    }

    /// Rescans the maintenance directory (under `config`); the set when
    /// it differs from the controller's, logged.
    pub(super) fn rescan_maintenance(&self, config: &Config) -> Option<BTreeSet<RealKey>> {
        let now = self.maintenance.scan(config);
        let was = self.ctl.maintenance();
        if now == *was {
            return None;
        }
        for k in now.difference(was) {
            info!(service = %k.service, real = %k.real, "real server in maintenance");
        }
        for k in was.difference(&now) {
            info!(service = %k.service, real = %k.real, "real server out of maintenance");
        }
        Some(now)
    }

    /// The maintenance directory changed: a pass.
    pub(super) fn maintenance_check(&mut self) {
        if let Some(m) = self.rescan_maintenance(self.ctl.config()) {
            self.pass(Input::Maintenance(m));
        }
    }

    /// The sync threads after a reload: a failure is logged and the
    /// director goes on serving with the threads it has.
    pub(super) fn apply_sync(&mut self, want: &config::model::Sync) {
        let sync = &mut self.sync;
        let ctl = &mut self.ctl;
        if let Err(e) = blocking(|| sync.apply(ctl.kernel(), want)) {
            error!(
                "{}; the sync threads stay as they were",
                DaemonError::from(e)
            );
        }
        self.list_sync();
    }

    /// Lists the kernel's sync threads for the status.
    pub(super) fn list_sync(&mut self) {
        let sync = &self.sync;
        let ctl = &mut self.ctl;
        self.sync_view = blocking(|| sync.view(ctl.kernel()));
        self.metrics.sync(&self.sync_view);
    }
}
