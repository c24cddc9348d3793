//! The metrics endpoint against a real kernel: lvsd in a director namespace
//! with `metrics=` on, real HTTP traffic through the VIP, then scrapes:
//! health and weights per real, the kernel's counters of the service and of
//! the reals that served, a real failing (health 0, one up→down transition),
//! a reload that moves the endpoint, and a start refused when the address
//! is taken.

use std::time::Duration;

use lvsd_integration::director::{wait_for, Lvsd};
use lvsd_integration::require_vm;
use lvsd_integration::topology::{http_get, Mode, Topology};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
const DETECT: Duration = Duration::from_secs(20);

fn config(vip: &str, reals: &[&str], metrics: &str) -> String {
    let mut s = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\nquiescent=no\nmetrics={metrics}\n\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello from\"\n\tscheduler=wlc\n"
    );
    for r in reals {
        s.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    s
}

/// `GET /metrics` from inside the director's namespace; `None` if nothing answers.
fn scrape(ns: &str, port: u16) -> Option<String> {
    http_get(ns, "127.0.0.1", port, "/metrics")
}

/// The value of the sample `name{labels}` (labels in rendering order).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let prefix = if l.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{}}} ", l.join(","))
    };
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

fn with_dir<'a>(l: &[(&'static str, &'a str)], d: &'static str) -> Vec<(&'static str, &'a str)> {
    let mut v = l.to_vec();
    v.push(("direction", d));
    v
}

#[test]
fn metrics_show_health_transitions_and_kernel_counters() {
    require_vm();
    let mut t = Topology::new("mx", Mode::Nat, 3, 72);
    let vip = t.vip.clone();
    let ns = t.director.name.clone();
    let reals: Vec<String> = t.real_ips.iter().map(|r| format!("{r}:80")).collect();
    let ips: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    // A bare port: 127.0.0.1.
    let lvsd = Lvsd::new(&ns, "mx", &config(&vip, &ips, "9100"));
    lvsd.start();

    let service = format!("tcp {vip}:80");
    let real = |i: usize| [("virtual", service.as_str()), ("real", reals[i].as_str())];
    let (text, _) = wait_for(
        "every real up in the metrics",
        DETECT,
        || scrape(&ns, 9100).unwrap_or_default(),
        // A real whose first check ends after `start` returned is up in
        // the engine a pass (20 ms of coalescing) before it is in the
        // kernel: wait for both, then check the rest.
        |m| {
            (0..3).all(|i| {
                value(m, "lvsd_real_up", &real(i)) == Some(1.0)
                    && value(m, "lvsd_real_kernel_weight", &real(i)) == Some(1.0)
            })
        },
    );
    for i in 0..3 {
        assert_eq!(
            value(&text, "lvsd_real_configured_weight", &real(i)),
            Some(1.0)
        );
        assert_eq!(value(&text, "lvsd_real_kernel_weight", &real(i)), Some(1.0));
        assert_eq!(
            value(&text, "lvsd_real_health_unknown", &real(i)),
            Some(0.0)
        );
    }
    assert_eq!(value(&text, "lvsd_ipvs_read_error", &[]), Some(0.0));
    assert!(
        value(&text, "lvsd_ipvs_changes_applied_total", &[]) >= Some(4.0),
        "a service and three reals added:\n{text}"
    );
    assert!(value(&text, "lvsd_reconcile_passes_total", &[]) >= Some(2.0));

    // Real traffic through the VIP.
    let got = t.fetch(12, None);
    assert!(
        got.iter().all(Option::is_some),
        "every request answered: {got:?}"
    );
    let svc = [("virtual", service.as_str())];
    // The kernel folds its per-CPU counters into what it reports every 2 s.
    let (text, _) = wait_for(
        "the kernel counted the 12 connections",
        DETECT,
        || scrape(&ns, 9100).unwrap_or_default(),
        |m| value(m, "lvsd_ipvs_service_connections_total", &svc) >= Some(12.0),
    );
    for (unit, dir) in [
        ("packets", "in"),
        ("packets", "out"),
        ("bytes", "in"),
        ("bytes", "out"),
    ] {
        let name = format!("lvsd_ipvs_service_{unit}_total");
        let v = value(&text, &name, &with_dir(&svc, dir));
        assert!(v > Some(0.0), "{name} {dir}: {v:?}");
    }
    for i in 0..3 {
        let who = format!("mxrs{}", i + 1);
        let served = got.iter().filter(|s| s.as_deref() == Some(&who)).count();
        let c = value(&text, "lvsd_ipvs_real_connections_total", &real(i));
        let b = value(
            &text,
            "lvsd_ipvs_real_bytes_total",
            &with_dir(&real(i), "out"),
        );
        if served > 0 {
            assert!(
                c >= Some(served as f64),
                "{who} served {served}, conns {c:?}"
            );
            assert!(b > Some(0.0), "{who} served {served}, out bytes {b:?}");
        }
        let probes = value(&text, "lvsd_real_check_duration_seconds_count", &real(i));
        assert!(probes >= Some(1.0), "{who}: probes timed {probes:?}");
    }

    // rs2's server stops: health 0, one up→down transition, out of the kernel.
    t.httpds[1].stop();
    let down = [
        ("virtual", service.as_str()),
        ("real", reals[1].as_str()),
        ("from", "up"),
        ("to", "down"),
    ];
    // The state is the engine's, the transition count the daemon's once it
    // takes the event: a scrape between the two sees one without the other.
    let (text, took) = wait_for(
        "rs2 down and its transition counted in the metrics",
        DETECT,
        || scrape(&ns, 9100).unwrap_or_default(),
        |m| {
            value(m, "lvsd_real_up", &real(1)) == Some(0.0)
                && value(m, "lvsd_real_transitions_total", &down).is_some()
        },
    );
    eprintln!("rs2 down in the metrics {took:?} after its server stopped");
    assert_eq!(
        value(&text, "lvsd_real_transitions_total", &down),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "lvsd_real_up", &real(0)), Some(1.0));
    wait_for(
        "rs2 out of the kernel in the metrics",
        DETECT,
        || scrape(&ns, 9100).unwrap_or_default(),
        |m| value(m, "lvsd_real_kernel_weight", &real(1)).is_none(),
    );
    // The excerpt the README shows.
    let text = scrape(&ns, 9100).expect("scrape");
    for line in text.lines().filter(|l| {
        !l.starts_with('#')
            && (l.starts_with("lvsd_real_up")
                || l.starts_with("lvsd_real_transitions_total")
                || l.starts_with("lvsd_ipvs_service_")
                || l.starts_with("lvsd_real_check_duration_seconds_count")
                || l.starts_with("lvsd_config_reloads_total"))
    }) {
        eprintln!("SCRAPE {line}");
    }

    // Another lvsd asking for the same address refuses to start, and leaves
    // the kernel alone.
    let other_vip = "10.72.0.101";
    let other = Lvsd::new(&ns, "mx-other", &config(other_vip, &ips[..1], "9100"));
    let (code, out) = other.action("start");
    assert_ne!(
        code, 0,
        "a second endpoint on 127.0.0.1:9100 started:\n{out}"
    );
    let said = format!("{out}\n{}", other.log());
    assert!(
        said.contains("cannot listen for metrics on 127.0.0.1:9100"),
        "the bind failure is named:\n{said}"
    );
    assert!(
        !lvsd.ipvsadm("-S -n").contains(other_vip),
        "nothing programmed"
    );

    // Reload with another address: the endpoint moves.
    lvsd.write_config(&config(&vip, &ips, "[::1]:9101"));
    assert_eq!(lvsd.action("reload").0, 0);
    wait_for(
        "the endpoint moved to [::1]:9101",
        DETECT,
        || {
            let out = lvsd_integration::sh_output(&format!(
                "ip netns exec {ns} curl -s -g http://[::1]:9101/metrics"
            ));
            String::from_utf8_lossy(&out.stdout).into_owned()
        },
        |m| value(m, "lvsd_config_reloads_total", &[("result", "ok")]) == Some(1.0),
    );
    assert!(scrape(&ns, 9100).is_none(), "the old address still answers");

    lvsd.stop();
}
