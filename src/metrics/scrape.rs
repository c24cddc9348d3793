//! What one scrape shows, as plain data, and its rendering. The daemon
//! fills a [`Scrape`] from its own state and the kernel's counters; nothing
//! here does I/O.

use crate::check::histogram::Histogram;
use crate::check::Health;
use crate::ipvs::snapshot::Stats;

use super::text::{float, Kind, Writer};

/// One real server of one virtual service.
#[derive(Clone, Debug, PartialEq)]
pub struct Real {
    /// The service as lvsd logs it (`tcp 10.0.0.1:80`, `fwmark 7`).
    pub virtual_: String,
    /// The real server as configured (`10.0.1.1:80`).
    pub real: String,
    pub health: Health,
    pub maintenance: bool,
    pub configured_weight: u32,
    /// `None` when the kernel does not hold the real server.
    pub kernel_weight: Option<u32>,
    /// Health transitions since the real entered the configuration, by `(from, to)`.
    pub transitions: Vec<((Health, Health), u64)>,
    /// Durations of the probes that fed this real's health.
    pub probe_durations: Histogram,
}

/// Counters of the daemon itself since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Daemon {
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub reconcile_passes: u64,
    /// Passes that could not read or write the kernel at all.
    pub reconcile_failures: u64,
    pub changes_applied: u64,
    pub changes_refused: u64,
    /// Whether the last pass failed or had a change refused.
    pub last_reconcile_error: bool,
}

/// The kernel's counters of one service or destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelEntry {
    pub virtual_: String,
    /// `None` for the service's own counters.
    pub real: Option<String>,
    pub stats: Stats,
    /// Active and inactive connections (destinations only).
    pub conns_now: Option<(u32, u32)>,
}

/// One connection sync thread the kernel runs (`syncdaemon=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncThread {
    /// `master` or `backup`.
    pub state: String,
    pub interface: String,
    pub syncid: u32,
    /// Whether lvsd started it (it stops only those).
    pub ours: bool,
}

/// The sync threads as last listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sync {
    pub threads: Vec<SyncThread>,
    /// Whether the last attempt to list or bring them in line failed.
    pub error: bool,
    /// Sync messages of other syncids seen on the backup's group:
    /// (interface, their syncid, messages).
    pub foreign: Vec<(String, u8, u64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scrape {
    pub reals: Vec<Real>,
    pub daemon: Daemon,
    pub sync: Sync,
    /// `Err` when the kernel could not be read for this scrape.
    pub kernel: Result<Vec<KernelEntry>, String>,
}

impl Default for Real {
    fn default() -> Real {
        Real {
            virtual_: String::new(),
            real: String::new(),
            health: Health::Unknown,
            maintenance: false,
            configured_weight: 0,
            kernel_weight: None,
            transitions: Vec::new(),
            probe_durations: Histogram::new(),
        }
    }
}

/// The whole exposition.
pub fn render(s: &Scrape) -> String {
    let mut w = Writer::new();
    reals(&mut w, &s.reals);
    daemon(&mut w, &s.daemon);
    sync(&mut w, &s.sync);
    kernel(&mut w, &s.kernel);
    w.finish()
}

fn reals(w: &mut Writer, reals: &[Real]) {
    // Each family is written whole, for every real, before the next.
    type Pick = fn(&Real) -> Option<u64>;
    let gauges: [(&str, &str, Pick); 5] = [
        (
            "lvsd_real_up",
            "1 if the real server's health checks say up, 0 if down or not yet known.",
            |r| Some((r.health == Health::Up).into()),
        ),
        (
            "lvsd_real_health_unknown",
            "1 while the real server's health is not known yet (no check result since it was configured).",
            |r| Some((r.health == Health::Unknown).into()),
        ),
        (
            "lvsd_real_maintenance",
            "1 if the real server is in maintenance (a file in maintenancedir).",
            |r| Some(r.maintenance.into()),
        ),
        (
            "lvsd_real_configured_weight",
            "The weight the configuration gives the real server.",
            |r| Some(r.configured_weight.into()),
        ),
        (
            "lvsd_real_kernel_weight",
            "The weight the kernel holds for the real server; absent when it is not in the table.",
            |r| r.kernel_weight.map(u64::from),
        ),
    ];
    for (name, help, value) in gauges {
        w.family(name, Kind::Gauge, help);
        for r in reals {
            if let Some(v) = value(r) {
                w.sample(name, &[("virtual", &r.virtual_), ("real", &r.real)], v);
            }
        }
    }

    let name = "lvsd_real_transitions_total";
    w.family(
        name,
        Kind::Counter,
        "Health transitions of the real server since it entered the configuration, by from and to state.",
    );
    for r in reals {
        for ((from, to), n) in &r.transitions {
            let (from, to) = (from.to_string(), to.to_string());
            w.sample(
                name,
                &[
                    ("virtual", &r.virtual_),
                    ("real", &r.real),
                    ("from", &from),
                    ("to", &to),
                ],
                *n,
            );
        }
    }

    let name = "lvsd_real_check_duration_seconds";
    w.family(
        name,
        Kind::Histogram,
        "How long the health check probes of the real server took (one probe may feed several reals).",
    );
    let bucket = format!("{name}_bucket");
    for r in reals {
        let h = &r.probe_durations;
        for (le, n) in h.cumulative() {
            let le = float(le);
            w.sample(
                &bucket,
                &[("virtual", &r.virtual_), ("real", &r.real), ("le", &le)],
                n,
            );
        }
        let l = [("virtual", r.virtual_.as_str()), ("real", r.real.as_str())];
        w.sample(&format!("{name}_sum"), &l, h.sum());
        w.sample(&format!("{name}_count"), &l, h.count());
    }
}

fn daemon(w: &mut Writer, d: &Daemon) {
    let name = "lvsd_config_reloads_total";
    w.family(
        name,
        Kind::Counter,
        "Configuration reloads, by result (failed: the running configuration was kept).",
    );
    w.sample(name, &[("result", "ok")], d.reloads_ok);
    w.sample(name, &[("result", "failed")], d.reloads_failed);
    let simple: [(&str, Kind, &str, u64); 5] = [
        (
            "lvsd_reconcile_passes_total",
            Kind::Counter,
            "Reconcile passes (read the kernel, compute the table, apply the difference).",
            d.reconcile_passes,
        ),
        (
            "lvsd_reconcile_failures_total",
            Kind::Counter,
            "Reconcile passes that could not read or write the kernel at all.",
            d.reconcile_failures,
        ),
        (
            "lvsd_ipvs_changes_applied_total",
            Kind::Counter,
            "Changes to the IPVS table the kernel accepted.",
            d.changes_applied,
        ),
        (
            "lvsd_ipvs_changes_refused_total",
            Kind::Counter,
            "Changes to the IPVS table the kernel refused.",
            d.changes_refused,
        ),
        (
            "lvsd_reconcile_last_error",
            Kind::Gauge,
            "1 if the last reconcile pass failed or had a change refused, else 0.",
            d.last_reconcile_error.into(),
        ),
    ];
    for (name, kind, help, v) in simple {
        w.family(name, kind, help);
        w.sample(name, &[], v);
    }
}

fn sync(w: &mut Writer, s: &Sync) {
    let name = "lvsd_sync_thread";
    w.family(
        name,
        Kind::Gauge,
        "1 for each connection sync thread the kernel runs, by state (master/backup), interface and syncid; owner is lvsd if lvsd started it.",
    );
    for t in &s.threads {
        let syncid = t.syncid.to_string();
        let owner = if t.ours { "lvsd" } else { "other" };
        w.sample(
            name,
            &[
                ("state", &t.state),
                ("interface", &t.interface),
                ("syncid", &syncid),
                ("owner", owner),
            ],
            1u64,
        );
    }
    let name = "lvsd_sync_error";
    w.family(
        name,
        Kind::Gauge,
        "1 if the sync threads could not be listed or brought in line with syncdaemon= the last time lvsd tried.",
    );
    w.sample(name, &[], u64::from(s.error));
    let name = "lvsd_sync_foreign_syncid_messages_total";
    w.family(
        name,
        Kind::Counter,
        "Sync messages seen on the backup's sync group with another syncid than syncid=, by interface and their syncid: the kernel's backup thread drops them and learns no connection from that master.",
    );
    for (interface, syncid, n) in &s.foreign {
        let syncid = syncid.to_string();
        w.sample(name, &[("interface", interface), ("syncid", &syncid)], *n);
    }
}

fn kernel(w: &mut Writer, k: &Result<Vec<KernelEntry>, String>) {
    let name = "lvsd_ipvs_read_error";
    w.family(
        name,
        Kind::Gauge,
        "1 if the kernel's IPVS counters could not be read for this scrape (they are then absent).",
    );
    w.sample(name, &[], k.is_err());
    let entries = k.as_deref().unwrap_or_default();
    type Pick = fn(&Stats) -> u64;
    let directed: [(&str, &str, Pick, Pick); 2] = [
        ("packets", "Packets", |s| s.inpkts, |s| s.outpkts),
        ("bytes", "Bytes", |s| s.inbytes, |s| s.outbytes),
    ];
    for (scope, what) in [("service", "virtual service"), ("real", "real server")] {
        let list: Vec<&KernelEntry> = entries
            .iter()
            .filter(|e| e.real.is_some() == (scope == "real"))
            .collect();
        let name = format!("lvsd_ipvs_{scope}_connections_total");
        let help = format!(
            "Connections the kernel scheduled to the {what} (IPVS counters of owned services, refreshed by the kernel every 2 s)."
        );
        w.family(&name, Kind::Counter, &help);
        for e in &list {
            w.sample(&name, &kernel_labels(e, None), e.stats.conns);
        }
        for (unit, what_unit, inward, outward) in directed {
            let name = format!("lvsd_ipvs_{scope}_{unit}_total");
            let help = format!(
                "{what_unit} the kernel forwarded for the {what}, by direction (in: client to real)."
            );
            w.family(&name, Kind::Counter, &help);
            for e in &list {
                w.sample(&name, &kernel_labels(e, Some("in")), inward(&e.stats));
                w.sample(&name, &kernel_labels(e, Some("out")), outward(&e.stats));
            }
        }
    }
    type Now = fn((u32, u32)) -> u32;
    let gauges: [(&str, &str, Now); 2] = [
        (
            "lvsd_ipvs_real_active_connections",
            "Active connections the kernel holds for the real server.",
            |(a, _)| a,
        ),
        (
            "lvsd_ipvs_real_inactive_connections",
            "Inactive connections the kernel holds for the real server.",
            |(_, i)| i,
        ),
    ];
    for (name, help, pick) in gauges {
        w.family(name, Kind::Gauge, help);
        for e in entries {
            if let Some(now) = e.conns_now {
                w.sample(name, &kernel_labels(e, None), pick(now));
            }
        }
    }
}

fn kernel_labels<'a>(
    e: &'a KernelEntry,
    direction: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut l = vec![("virtual", e.virtual_.as_str())];
    if let Some(r) = &e.real {
        l.push(("real", r.as_str()));
    }
    if let Some(d) = direction {
        l.push(("direction", d));
    }
    l
}

#[cfg(test)]
#[path = "scrape_tests.rs"]
mod tests;
