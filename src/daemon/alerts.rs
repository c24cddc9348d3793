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
mod tests {
    use super::*;
    use crate::ipvs::{Dest, Forward};

    fn config(extra: &str) -> Config {
        let cf = format!(
            "emailalert=\"ops@example.com\"\nemailalertfrom=lvs@example.com\n{extra}\
             virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate\n\
             \tfallback=127.0.0.1:80\n\tservicename=web\n\tcomment=front\n"
        );
        crate::config::test_config(&cf)
    }

    fn view_of(c: &Config) -> View {
        let none = Default::default();
        crate::director::view::build(c, &Table::new(), true, &none, &Default::default())
    }

    fn key() -> ServiceKey {
        ServiceKey::Inet {
            protocol: crate::ipvs::Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        }
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn subjects(m: &[Mail]) -> Vec<&str> {
        m.iter().map(|m| m.subject.as_str()).collect()
    }

    #[test]
    fn one_mail_per_change_with_ldirectords_words() {
        let c = config("");
        let mut al = Alerts::default();
        let t = Instant::now();
        let changes = [
            Change::AddDest(key(), a("10.0.0.2:80"), Dest::new(Forward::Route, 1)),
            Change::EditDest(key(), a("10.0.0.3:80"), Dest::new(Forward::Route, 0)),
            Change::DelDest(key(), a("10.0.0.2:80")),
            Change::EditDest(key(), a("10.0.0.3:80"), Dest::new(Forward::Route, 5)),
            Change::AddDest(key(), a("127.0.0.1:80"), Dest::new(Forward::Route, 1)),
        ];
        let m = al.changes(&c, &view_of(&c), &changes, Phase::Running, t, "director");
        assert_eq!(
            subjects(&m),
            [
                "[web] Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)",
                "[web] Quiescent real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 0)",
                "[web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)",
                "[web] Restored real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 5)",
                "[web] Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)",
            ]
        );
        assert_eq!(m[0].to, "ops@example.com");
        assert_eq!(m[0].from.as_deref(), Some("lvs@example.com"));
        assert_eq!(m[0].smtp, None);
        assert_eq!(
            m[2].body,
            "ldirectord host: director\n\
             Log-Message: [web] Deleted real server: 10.0.0.2:80 (10.0.0.1:80)\n\
             Daemon-Status: running\n\nService name: web\nComment: front\n"
        );
        // Service-level changes are not about a real server.
        let m = al.changes(
            &c,
            &view_of(&c),
            &[Change::DelService(key())],
            Phase::Running,
            t,
            "director",
        );
        assert!(m.is_empty());
    }

    #[test]
    fn no_address_or_a_filtered_state_sends_nothing() {
        let mut c = config("emailalertstatus=starting,stopping\n");
        let mut al = Alerts::default();
        let t = Instant::now();
        let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
        assert!(al
            .changes(&c, &view_of(&c), &del, Phase::Running, t, "h")
            .is_empty());
        assert!(al
            .changes(&c, &view_of(&c), &del, Phase::Reloading, t, "h")
            .is_empty());
        assert_eq!(
            al.changes(&c, &view_of(&c), &del, Phase::Starting, t, "h")
                .len(),
            1
        );
        assert_eq!(
            al.changes(&c, &view_of(&c), &del, Phase::Stopping, t, "h")
                .len(),
            1
        );
        c.virtuals[0].emailalert = None;
        assert!(al
            .changes(&c, &view_of(&c), &del, Phase::Starting, t, "h")
            .is_empty());
    }

    #[test]
    fn reminders_every_freq_while_out_until_restored() {
        let mut c = config("emailalertfreq=60\n");
        c.virtuals[0].smtp = Some("mx:2525".into());
        let mut al = Alerts::default();
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
        assert_eq!(
            al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h")
                .len(),
            1
        );
        assert!(al.due(&c, Phase::Running, at(59), "h").is_empty());
        let m = al.due(&c, Phase::Running, at(60), "h");
        assert_eq!(
            subjects(&m),
            ["[web] Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)"]
        );
        assert_eq!(m[0].smtp.as_deref(), Some("mx:2525"));
        assert!(al.due(&c, Phase::Running, at(119), "h").is_empty());
        // A filtered state skips the mail but keeps the schedule.
        assert!(al.due(&c, Phase::Running, at(120), "h").len() == 1);
        c.virtuals[0].emailalertstatus = AlertStatus::NONE;
        assert!(al.due(&c, Phase::Running, at(180), "h").is_empty());
        c.virtuals[0].emailalertstatus = AlertStatus::ALL;
        assert!(al.due(&c, Phase::Running, at(200), "h").is_empty());
        assert_eq!(al.due(&c, Phase::Running, at(240), "h").len(), 1);
        // Back in: no more reminders.
        let add = [Change::AddDest(
            key(),
            a("10.0.0.2:80"),
            Dest::new(Forward::Route, 1),
        )];
        assert_eq!(
            al.changes(&c, &view_of(&c), &add, Phase::Running, at(241), "h")
                .len(),
            1
        );
        assert_eq!(al.outstanding(), 0);
        assert!(al.due(&c, Phase::Running, at(1000), "h").is_empty());
    }

    #[test]
    fn cleanstop_purges_are_mailed_per_real_while_stopping() {
        let mut c = config("");
        let mut table = Table::new();
        let mut entry = crate::ipvs::table::ServiceEntry::new(crate::ipvs::Service::new(
            "wlc",
            crate::ipvs::Family::Inet,
        ));
        entry
            .dests
            .insert(a("10.0.0.2:80"), Dest::new(Forward::Route, 1));
        entry
            .dests
            .insert(a("10.0.0.3:80"), Dest::new(Forward::Route, 0));
        table.services.insert(key(), entry);
        let mut al = Alerts::default();
        let m = al.purged(&c, &table, &[key()], "h");
        assert_eq!(
            subjects(&m),
            [
                "[web] Purged real server (stop): 10.0.0.2:80 (10.0.0.1:80)",
                "[web] Purged real server (stop): 10.0.0.3:80 (10.0.0.1:80)",
            ]
        );
        assert!(m[0].body.contains("Daemon-Status: stopping\n"));
        // Not removed (cleanstop=no, or the kernel refused): no mail.
        assert!(al.purged(&c, &table, &[], "h").is_empty());
        c.virtuals[0].emailalertstatus.stopping = false;
        assert!(al.purged(&c, &table, &[key()], "h").is_empty());
    }

    #[test]
    fn no_reminders_without_freq_or_for_the_fallback() {
        let c = config("");
        let mut al = Alerts::default();
        let t0 = Instant::now();
        let del = [Change::DelDest(key(), a("10.0.0.2:80"))];
        al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h");
        assert_eq!(al.outstanding(), 0);
        let c = config("emailalertfreq=10\n");
        let fb = [Change::DelDest(key(), a("127.0.0.1:80"))];
        let m = al.changes(&c, &view_of(&c), &fb, Phase::Running, t0, "h");
        assert_eq!(
            subjects(&m),
            ["[web] Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)"]
        );
        assert_eq!(al.outstanding(), 0);
        // A virtual removed (reload) drops its reminders.
        al.changes(&c, &view_of(&c), &del, Phase::Running, t0, "h");
        assert_eq!(al.outstanding(), 1);
        let gone = Config {
            global: c.global.clone(),
            virtuals: Vec::new(),
        };
        assert!(al
            .due(&gone, Phase::Running, t0 + Duration::from_secs(99), "h")
            .is_empty());
        assert_eq!(al.outstanding(), 0);
    }
}
