//! What one scrape shows, as plain data, and its rendering. The daemon
//! fills a [`Scrape`] from its own state and the kernel's counters; nothing
//! here does I/O.

use crate::check::Health;
use crate::ipvs::snapshot::Stats;

use super::histogram::Histogram;
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

#[derive(Clone, Debug, PartialEq)]
pub struct Scrape {
    pub reals: Vec<Real>,
    pub daemon: Daemon,
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
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample() -> Scrape {
        let mut probes = Histogram::new();
        probes.observe(Duration::from_millis(3));
        probes.observe(Duration::from_millis(40));
        let up = Real {
            virtual_: "tcp 10.0.0.1:80".into(),
            real: "10.0.1.1:80".into(),
            health: Health::Up,
            configured_weight: 5,
            kernel_weight: Some(5),
            transitions: vec![
                ((Health::Unknown, Health::Up), 1),
                ((Health::Down, Health::Up), 2),
                ((Health::Up, Health::Down), 2),
            ],
            probe_durations: probes,
            ..Real::default()
        };
        let unknown = Real {
            virtual_: "fwmark 7 ipv6".into(),
            real: "[2001:db8::1]:443".into(),
            maintenance: true,
            configured_weight: 1,
            ..Real::default()
        };
        let stats = Stats {
            conns: 24,
            inpkts: 168,
            outpkts: 120,
            inbytes: 9600,
            outbytes: 11784,
            ..Stats::default()
        };
        Scrape {
            reals: vec![up, unknown],
            daemon: Daemon {
                reloads_ok: 2,
                reloads_failed: 1,
                reconcile_passes: 9,
                reconcile_failures: 0,
                changes_applied: 4,
                changes_refused: 1,
                last_reconcile_error: true,
            },
            kernel: Ok(vec![
                KernelEntry {
                    virtual_: "tcp 10.0.0.1:80".into(),
                    real: None,
                    stats,
                    conns_now: None,
                },
                KernelEntry {
                    virtual_: "tcp 10.0.0.1:80".into(),
                    real: Some("10.0.1.1:80".into()),
                    stats: Stats { conns: 10, ..stats },
                    conns_now: Some((3, 7)),
                },
            ]),
        }
    }

    fn has(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in\n{text}"
        );
    }

    #[test]
    fn per_real_health_weights_and_transitions() {
        let t = render(&sample());
        let up = r#"virtual="tcp 10.0.0.1:80",real="10.0.1.1:80""#;
        let unk = r#"virtual="fwmark 7 ipv6",real="[2001:db8::1]:443""#;
        has(&t, &format!("lvsd_real_up{{{up}}} 1"));
        has(&t, &format!("lvsd_real_up{{{unk}}} 0"));
        has(&t, &format!("lvsd_real_health_unknown{{{up}}} 0"));
        has(&t, &format!("lvsd_real_health_unknown{{{unk}}} 1"));
        has(&t, &format!("lvsd_real_maintenance{{{unk}}} 1"));
        has(&t, &format!("lvsd_real_configured_weight{{{up}}} 5"));
        has(&t, &format!("lvsd_real_kernel_weight{{{up}}} 5"));
        assert!(
            !t.contains(&format!("lvsd_real_kernel_weight{{{unk}}}")),
            "a real not in the kernel has no kernel weight"
        );
        has(
            &t,
            &format!(r#"lvsd_real_transitions_total{{{up},from="up",to="down"}} 2"#),
        );
        has(
            &t,
            &format!(r#"lvsd_real_transitions_total{{{up},from="unknown",to="up"}} 1"#),
        );
    }

    #[test]
    fn probe_durations_as_a_histogram() {
        let t = render(&sample());
        let up = r#"virtual="tcp 10.0.0.1:80",real="10.0.1.1:80""#;
        let name = "lvsd_real_check_duration_seconds";
        has(&t, &format!("# TYPE {name} histogram"));
        has(&t, &format!(r#"{name}_bucket{{{up},le="0.001"}} 0"#));
        has(&t, &format!(r#"{name}_bucket{{{up},le="0.005"}} 1"#));
        has(&t, &format!(r#"{name}_bucket{{{up},le="0.05"}} 2"#));
        has(&t, &format!(r#"{name}_bucket{{{up},le="+Inf"}} 2"#));
        let sum = format!("{name}_sum{{{up}}} ");
        let line = t.lines().find(|l| l.starts_with(&sum)).unwrap_or_default();
        let v: f64 = line[sum.len().min(line.len())..]
            .parse()
            .unwrap_or(f64::NAN);
        assert!((v - 0.043).abs() < 1e-9, "{line:?}");
        has(&t, &format!("{name}_count{{{up}}} 2"));
    }

    #[test]
    fn daemon_and_kernel_counters() {
        let t = render(&sample());
        has(&t, r#"lvsd_config_reloads_total{result="ok"} 2"#);
        has(&t, r#"lvsd_config_reloads_total{result="failed"} 1"#);
        has(&t, "lvsd_reconcile_passes_total 9");
        has(&t, "lvsd_ipvs_changes_applied_total 4");
        has(&t, "lvsd_ipvs_changes_refused_total 1");
        has(&t, "lvsd_reconcile_last_error 1");
        has(&t, "lvsd_ipvs_read_error 0");
        let svc = r#"virtual="tcp 10.0.0.1:80""#;
        let real = r#"virtual="tcp 10.0.0.1:80",real="10.0.1.1:80""#;
        has(&t, "# TYPE lvsd_ipvs_service_connections_total counter");
        has(
            &t,
            &format!("lvsd_ipvs_service_connections_total{{{svc}}} 24"),
        );
        has(
            &t,
            &format!(r#"lvsd_ipvs_service_packets_total{{{svc},direction="in"}} 168"#),
        );
        has(
            &t,
            &format!(r#"lvsd_ipvs_service_bytes_total{{{svc},direction="out"}} 11784"#),
        );
        has(
            &t,
            &format!("lvsd_ipvs_real_connections_total{{{real}}} 10"),
        );
        has(
            &t,
            &format!(r#"lvsd_ipvs_real_bytes_total{{{real},direction="in"}} 9600"#),
        );
        has(
            &t,
            &format!("lvsd_ipvs_real_active_connections{{{real}}} 3"),
        );
        has(
            &t,
            &format!("lvsd_ipvs_real_inactive_connections{{{real}}} 7"),
        );
    }

    #[test]
    fn an_unreadable_kernel_is_said_and_its_counters_are_absent() {
        let mut s = sample();
        s.kernel = Err("no IPVS".into());
        let t = render(&s);
        has(&t, "lvsd_ipvs_read_error 1");
        assert!(!t.contains("lvsd_ipvs_service_connections_total{"), "{t}");
        // The rest is still there.
        has(
            &t,
            r#"lvsd_real_up{virtual="tcp 10.0.0.1:80",real="10.0.1.1:80"} 1"#,
        );
    }

    /// The format's structural rules: every family declared once with HELP
    /// then TYPE, every sample under its own family, names and lines valid.
    #[test]
    fn families_are_declared_once_and_never_interleaved() {
        let t = render(&sample());
        let mut declared = std::collections::BTreeSet::new();
        let mut current: Option<(String, String)> = None;
        let name_ok = |n: &str| {
            n.starts_with("lvsd_") && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let mut lines = t.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or_default().to_string();
                assert!(name_ok(&name), "{line}");
                assert!(declared.insert(name.clone()), "{name} declared twice");
                let ty = lines.next().unwrap_or_default();
                let kind = ty
                    .strip_prefix(&format!("# TYPE {name} "))
                    .unwrap_or_else(|| panic!("HELP of {name} not followed by its TYPE: {ty}"));
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{ty}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "counter {name} without _total");
                }
                current = Some((name, kind.to_string()));
                continue;
            }
            let (family, kind) = current
                .clone()
                .unwrap_or_else(|| panic!("sample before any family: {line}"));
            let sample_name = line.split(['{', ' ']).next().unwrap_or_default();
            let ok = sample_name == family
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| sample_name == format!("{family}{s}")));
            assert!(ok, "{line} under family {family}");
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert!(t.ends_with('\n'));
    }
}
