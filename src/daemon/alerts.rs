//! Which alert mails to send when (`emailalert`, `emailalertfreq`,
//! `emailalertstatus`), as ldirectord decides it. Pure: changes and time
//! in, mails out; [`super::mailer`] sends them.
//!
//! - One mail per change of a real server in the kernel: `Added`,
//!   `Quiescent`, `Deleted`, `Restored` (ldirectord's subjects, e.g.
//!   `Deleted real server: 10.0.0.2:80 (10.0.0.1:80)`).
//! - While a real server stays out (deleted or quiesced) a reminder,
//!   `Inaccessible real server: RIP:PORT (VIP:PORT)`, every
//!   `emailalertfreq` seconds (0: none).
//! - When a stopping director removes its services (`cleanstop`), one
//!   `Purged real server (stop)` mail per real server they held.
//! - Only in the daemon states `emailalertstatus` lists; the reminders keep
//!   their schedule in the other states, as ldirectord's do.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::model::{AlertStatus, Config, Virtual};
use crate::director::view::View;
use crate::ipvs::table::Table;
use crate::ipvs::{Change, ServiceKey};

/// The daemon's state, for `emailalertstatus` and the `Daemon-Status:` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Running,
    Stopping,
    Reloading,
}

impl Phase {
    pub fn allowed(self, s: AlertStatus) -> bool {
        match self {
            Phase::Starting => s.starting,
            Phase::Running => s.running,
            Phase::Stopping => s.stopping,
            Phase::Reloading => s.reloading,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Reloading => "reloading",
        })
    }
}

/// One alert to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// `emailalert` as written: one address or a comma list.
    pub to: String,
    pub from: Option<String>,
    /// `smtp=` host[:port]; `None`: the local sendmail.
    pub smtp: Option<String>,
    pub subject: String,
    pub body: String,
}

/// The reminders due while real servers stay out.
#[derive(Debug, Default)]
pub struct Alerts {
    /// (service, real as in the kernel) → when the last mail about it went.
    out: BTreeMap<(ServiceKey, SocketAddr), Instant>,
}

impl Alerts {
    /// The mails for the changes a reconcile pass applied; `view` (the
    /// director after that pass) tells a fallback from a real server.
    pub fn changes(
        &mut self,
        config: &Config,
        view: &View,
        applied: &[Change],
        phase: Phase,
        now: Instant,
        host: &str,
    ) -> Vec<Mail> {
        let mut mails = Vec::new();
        for change in applied {
            let (key, addr, what) = match change {
                Change::AddDest(k, a, d) | Change::EditDest(k, a, d) if d.weight == 0 => {
                    (k, a, What::Quiescent)
                }
                Change::AddDest(k, a, d) => (k, a, What::Added(d.weight)),
                Change::EditDest(k, a, d) => (k, a, What::Restored(d.weight)),
                Change::DelDest(k, a) => (k, a, What::Deleted),
                Change::DelService(k) => {
                    self.out.retain(|(s, _), _| s != k);
                    continue;
                }
                Change::AddService(..) | Change::EditService(..) => continue,
            };
            let Some(v) = config.virtuals.iter().find(|v| v.key == *key) else {
                continue;
            };
            let fallback = view.is_fallback(key, *addr);
            let tag = if fallback { "fallback" } else { "real" };
            let who = format!("{tag} server: {addr} ({})", virtual_str(key));
            let subject = match what {
                What::Added(w) => format!("Added {who} (Weight set to {w})"),
                What::Restored(w) => format!("Restored {who} (Weight set to {w})"),
                What::Quiescent => format!("Quiescent {who} (Weight set to 0)"),
                What::Deleted => format!("Deleted {who}"),
            };
            let id = (*key, *addr);
            let out = matches!(what, What::Quiescent | What::Deleted);
            if out && !fallback && v.emailalertfreq > 0 {
                self.out.insert(id, now);
            } else {
                self.out.remove(&id);
            }
            mails.extend(mail(config, v, subject, phase, host));
        }
        mails
    }

    /// The reminders due at `now` (call it every second or so).
    pub fn due(&mut self, config: &Config, phase: Phase, now: Instant, host: &str) -> Vec<Mail> {
        let mut mails = Vec::new();
        self.out.retain(|(key, addr), last| {
            let Some(v) = config.virtuals.iter().find(|v| v.key == *key) else {
                return false;
            };
            if v.emailalertfreq == 0 {
                return false;
            }
            let every = Duration::from_secs(u64::from(v.emailalertfreq));
            if now.saturating_duration_since(*last) >= every {
                *last = now;
                let subject = format!("Inaccessible real server: {addr} ({})", virtual_str(key));
                mails.extend(mail(config, v, subject, phase, host));
            }
            true
        });
        mails
    }

    /// The mails for a stop that removed `removed` (cleanstop): ldirectord's
    /// `Purged real server (stop)` for each real each of them held in
    /// `table` (the table before the stop).
    pub fn purged(
        &mut self,
        config: &Config,
        table: &Table,
        removed: &[ServiceKey],
        host: &str,
    ) -> Vec<Mail> {
        let mut mails = Vec::new();
        for key in removed {
            self.out.retain(|(s, _), _| s != key);
            let (Some(v), Some(entry)) = (
                config.virtuals.iter().find(|v| v.key == *key),
                table.services.get(key),
            ) else {
                continue;
            };
            for addr in entry.dests.keys() {
                let subject = format!("Purged real server (stop): {addr} ({})", virtual_str(key));
                mails.extend(mail(config, v, subject, Phase::Stopping, host));
            }
        }
        mails
    }

    /// How many real servers are being reminded about.
    pub fn outstanding(&self) -> usize {
        self.out.len()
    }
}

enum What {
    Added(u32),
    Restored(u32),
    Quiescent,
    Deleted,
}

/// ldirectord's `get_virtual`: `VIP:PORT`, or the firewall mark.
fn virtual_str(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Inet { addr, .. } => addr.to_string(),
        ServiceKey::FwMark { mark, .. } => mark.to_string(),
    }
}

/// The mail for one subject, if `v` wants mail in this phase.
fn mail(config: &Config, v: &Virtual, subject: String, phase: Phase, host: &str) -> Option<Mail> {
    if !phase.allowed(v.emailalertstatus) {
        return None;
    }
    let to = v.emailalert.as_deref().map(str::trim).unwrap_or("");
    if to.is_empty() {
        return None;
    }
    let subject = match &v.servicename {
        Some(name) if !name.is_empty() => format!("[{name}] {subject}"),
        _ => subject,
    };
    let mut body =
        format!("ldirectord host: {host}\nLog-Message: {subject}\nDaemon-Status: {phase}\n");
    let mut extra = String::new();
    if let Some(name) = v.servicename.as_deref().filter(|s| !s.is_empty()) {
        extra.push_str(&format!("Service name: {name}\n"));
    }
    if let Some(c) = v.comment.as_deref().filter(|s| !s.is_empty()) {
        extra.push_str(&format!("Comment: {c}\n"));
    }
    if !extra.is_empty() {
        body.push('\n');
        body.push_str(&extra);
    }
    Some(Mail {
        to: to.to_string(),
        from: config.global.emailalertfrom.clone(),
        smtp: v.smtp.clone(),
        subject,
        body,
    })
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
