//! The end of a soak: lvsd's log judged (no panic, no error without a
//! cause), slopes of RSS and open fds, and the summary printed.

use std::collections::BTreeMap;

use crate::check::Verdicts;
use crate::model::Model;

/// An error line names its cause when its message goes on past a colon, or
/// carries fields (`error=...`): "reload failed" alone tells an operator
/// nothing.
fn has_cause(msg: &str) -> bool {
    msg.contains(": ") || msg.contains('=')
}

pub fn scan_log(log: &str, v: &mut Verdicts) {
    let mut levels: BTreeMap<String, u64> = BTreeMap::new();
    for line in log.lines() {
        v.check("log line without panic or causeless error");
        if line.contains("panicked") {
            v.violation(
                0.0,
                format!("panic {line}"),
                format!("panic in lvsd's log: {line}"),
            );
        }
        let mut w = line.split_whitespace();
        let (_, level) = (w.next(), w.next().unwrap_or(""));
        if matches!(level, "ERROR" | "WARN") {
            // The message, without the target (`lvsd::daemon::run:`).
            let msg = line.split_once(": ").map(|x| x.1).unwrap_or("");
            let short: String = msg.chars().take(70).collect();
            *levels.entry(format!("{level} {short}")).or_default() += 1;
            if level == "ERROR" && !has_cause(msg) {
                v.violation(
                    0.0,
                    format!("causeless {msg}"),
                    format!("error without a cause: {line}"),
                );
            }
        }
    }
    for (k, n) in levels {
        *v.client.entry(format!("log: {k}")).or_default() += n;
    }
}

/// Least-squares slope of y over x (per minute), None under 10 points.
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    if pts.len() < 10 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx * 60.0)
}

fn pct(xs: &[f64], p: f64) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

pub fn print(summary: &str, m: &Model, v: &Verdicts) {
    println!("\n===== soak report: {summary}");
    println!("wall time {:.0} s", m.t0.elapsed().as_secs_f64());
    let stall: f64 = m.stalls.iter().map(|s| (s.1 - s.0).as_secs_f64()).sum();
    let longest = m
        .stalls
        .iter()
        .map(|s| (s.1 - s.0).as_secs_f64())
        .fold(0.0, f64::max);
    println!(
        "VM stalls (a 50 ms sleep woken > 100 ms late): {} totalling {stall:.1} s, longest {:.0} ms",
        m.stalls.len(),
        longest * 1e3
    );
    println!("-- events");
    for (k, n) in &m.events {
        println!("{n:6}  {k}");
    }
    println!(
        "-- invariant checks made ({} checker ticks, longest gap {:.0} ms)",
        v.ticks, v.max_gap_ms
    );
    for (k, n) in &v.checks {
        println!("{n:8}  {k}");
    }
    println!("-- client");
    for (k, n) in &v.client {
        println!("{n:8}  {k}");
    }
    println!(
        "   longest stall of a long-lived connection: {} ms",
        v.stall_max_ms
    );
    println!("-- long-lived connections lost, by reason");
    if v.resets.is_empty() {
        println!("       0");
    }
    for (k, n) in &v.resets {
        println!("{n:6}  {k}");
    }
    println!(
        "-- dark -> no weight (ms, less lvsd down/starved and VM stalls), {} episodes: p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}",
        v.detect_ms.len(),
        pct(&v.detect_ms, 0.5),
        pct(&v.detect_ms, 0.9),
        pct(&v.detect_ms, 0.99),
        pct(&v.detect_ms, 1.0)
    );
    println!(
        "-- behind-back edit -> repaired (ms), {} edits: p50 {:.0} p90 {:.0} max {:.0}; {} undecided (health changed meanwhile)",
        v.converge_ms.len(),
        pct(&v.converge_ms, 0.5),
        pct(&v.converge_ms, 0.9),
        pct(&v.converge_ms, 1.0),
        v.converge_undecided
    );
    println!(
        "-- lvsd status (ms), {} calls: p50 {:.0} p99 {:.0} max {:.0}",
        v.status_ms.len(),
        pct(&v.status_ms, 0.5),
        pct(&v.status_ms, 0.99),
        pct(&v.status_ms, 1.0)
    );
    println!(
        "   its CPU time (ms): p50 {:.0} p99 {:.0} max {:.0}",
        pct(&v.status_cpu_ms, 0.5),
        pct(&v.status_cpu_ms, 0.99),
        pct(&v.status_cpu_ms, 1.0)
    );
    println!(
        "   lvsd --version just before each (ms): p50 {:.0} p99 {:.0} max {:.0}",
        pct(&v.exec_ms, 0.5),
        pct(&v.exec_ms, 0.99),
        pct(&v.exec_ms, 1.0)
    );
    println!(
        "-- lvsd start (ms), {} starts: p50 {:.0} max {:.0}",
        v.start_ms.len(),
        pct(&v.start_ms, 0.5),
        pct(&v.start_ms, 1.0)
    );
    println!("-- RSS and open fds per lvsd instance (least-squares slope)");
    for (pid, s) in &v.samples {
        let rss: Vec<(f64, f64)> = s.iter().map(|x| (x.0, x.1)).collect();
        let fds: Vec<(f64, f64)> = s.iter().map(|x| (x.0, x.2)).collect();
        let span = s.last().map(|l| l.0).unwrap_or(0.0) - s.first().map(|f| f.0).unwrap_or(0.0);
        let fmt = |x: Option<f64>| x.map(|x| format!("{x:+.2}")).unwrap_or_else(|| "-".into());
        println!(
            "   pid {pid}: {} samples over {span:.0} s, RSS {:.0}-{:.0} KiB, slope {} KiB/min; fds {:.0}-{:.0}, slope {} /min",
            s.len(),
            s.iter().map(|x| x.1).fold(f64::MAX, f64::min),
            s.iter().map(|x| x.1).fold(0.0, f64::max),
            fmt(slope(&rss)),
            s.iter().map(|x| x.2).fold(f64::MAX, f64::min),
            s.iter().map(|x| x.2).fold(0.0, f64::max),
            fmt(slope(&fds)),
        );
    }
    let total: u64 = v.violations.values().map(|x| x.1).sum();
    println!(
        "-- violations: {} distinct, {total} observations",
        v.violations.len()
    );
    for (k, (t, n, d)) in &v.violations {
        println!("   at {t:.1} s ({n}x) [{}]: {d}", invariant(k));
    }
}

/// The invariant (README, "The invariants, as checked") a violation's key
/// belongs to: each key starts with a word given where it is judged.
pub fn invariant(key: &str) -> &'static str {
    match key.split_whitespace().next().unwrap_or("") {
        "dark-weighted" => "1 dark real has no weight",
        "unchecked" => "2 weighted only once checked",
        "missing" | "sched" | "extra" | "weight" => "3 table converged to desired",
        "converge" => "3 behind-back edit repaired within a resync",
        "foreign-gone" | "foreign-changed" | "unknown" => "4 foreign services identical",
        "reset" => "5 no connection lost but by its real's death",
        "panic" | "causeless" => "6 no panic, no error without a cause",
        "status-slow" => "8 status answers within its limit",
        "start" | "stop" | "term-startup" | "term-reload" | "cli" => {
            "lvsd's commands and signals work"
        }
        "unreadable" | "foreign-add" | "foreign-del" => "the kernel's table read and written",
        _ => "unnamed",
    }
}

/// What a run that judged anything must have done: a harness that lost
/// its client, its checker or its prober would otherwise pass unseen.
pub fn floors(v: &Verdicts) -> Vec<String> {
    let mut missing = Vec::new();
    for c in [
        "foreign identical",
        "table converged to desired",
        "status answers within its limit",
        "log line without panic or causeless error",
    ] {
        if v.checks.get(c).copied().unwrap_or(0) == 0 {
            missing.push(format!("no check of \"{c}\" was made"));
        }
    }
    for c in ["long opened", "http ok"] {
        if v.client.get(c).copied().unwrap_or(0) == 0 {
            missing.push(format!("the client reported no \"{c}\""));
        }
    }
    missing
}

/// The last lines, and the exit status: 1 if an invariant was violated,
/// 2 if only the harness failed (its verdict would mean nothing), else 0.
pub fn verdict(seed: u64, secs: u64, v: &Verdicts, harness: &[String]) -> i32 {
    let replay = format!("replay: integration/soak/run --duration {secs} --seed {seed}");
    for h in harness {
        println!("soak: HARNESS ERROR: {h}");
    }
    if !v.violations.is_empty() {
        let mut by: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
        for (k, (_, _, d)) in &v.violations {
            let e = by.entry(invariant(k)).or_insert((0, d));
            e.0 += 1;
        }
        println!("===== FAIL (seed {seed})");
        for (inv, (n, first)) in by {
            println!("soak: FAIL: invariant \"{inv}\" violated ({n} distinct), first: {first}");
        }
        println!("soak: FAIL, seed {seed}; {replay}");
        1
    } else if !harness.is_empty() {
        println!("===== HARNESS ERROR (seed {seed}): no verdict on lvsd; {replay}");
        2
    } else {
        println!("===== PASS (seed {seed})");
        0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slope_of_a_line_is_its_rate_per_minute() {
        let pts: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 3.0 * i as f64 + 7.0)).collect();
        assert!((super::slope(&pts).unwrap() - 180.0).abs() < 1e-9);
    }

    #[test]
    fn an_error_needs_a_cause() {
        assert!(super::has_cause("reload failed: x.cf:3: bad"));
        assert!(super::has_cause("pass failed error=EINTR"));
        assert!(!super::has_cause("reload failed"));
    }

    #[test]
    fn every_key_names_its_invariant() {
        for k in [
            "dark-weighted Http",
            "reset 3 1.0",
            "weight Echo 10.91.0.11:7000 1",
        ] {
            assert_ne!(super::invariant(k), "unnamed", "{k}");
        }
        assert_eq!(
            super::invariant("sched Dns"),
            "3 table converged to desired"
        );
    }
}
