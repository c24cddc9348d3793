//! The exposition of a whole [`Scrape`], checked line by line.

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
        sync: Sync {
            threads: vec![
                SyncThread {
                    state: "master".into(),
                    interface: "eth0".into(),
                    syncid: 7,
                    ours: true,
                },
                SyncThread {
                    state: "backup".into(),
                    interface: "eth1".into(),
                    syncid: 0,
                    ours: false,
                },
            ],
            error: false,
            foreign: vec![("eth1".into(), 8, 12)],
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

/// Issue 16: the sync threads status shows are in the metrics too.
#[test]
fn sync_threads_by_state_interface_syncid_and_owner() {
    let t = render(&sample());
    has(
        &t,
        r#"lvsd_sync_thread{state="master",interface="eth0",syncid="7",owner="lvsd"} 1"#,
    );
    has(
        &t,
        r#"lvsd_sync_thread{state="backup",interface="eth1",syncid="0",owner="other"} 1"#,
    );
    has(&t, "lvsd_sync_error 0");
    has(
        &t,
        r#"lvsd_sync_foreign_syncid_messages_total{interface="eth1",syncid="8"} 12"#,
    );
    let mut s = sample();
    s.sync = Sync {
        threads: Vec::new(),
        error: true,
        foreign: Vec::new(),
    };
    let t = render(&s);
    assert!(!t.contains("lvsd_sync_thread{"), "{t}");
    has(&t, "lvsd_sync_error 1");
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
