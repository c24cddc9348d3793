//! Parse and validate a generated ldirectord.cf of 1,000 virtuals × 10 reals
//! (and its TOML conversion); prints the median of repeated runs.
//!
//! `cargo bench --bench config_parse [-- NAME-FILTER]`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use lvsd::config::resolve::System;
use lvsd::config::{self, Format};

fn generate(virtuals: usize, reals: usize) -> String {
    let mut s = String::from("checktimeout=3\nquiescent=yes\nfallback=127.0.0.1:80 masq\n");
    for v in 0..virtuals {
        let (a, b) = (v / 250, v % 250);
        let _ = writeln!(s, "virtual=10.{a}.{b}.1:80");
        for r in 0..reals {
            let _ = writeln!(
                s,
                "\treal=172.16.{b}.{}:8080 masq {} \"/health\", \"^OK\"",
                r + 1,
                r % 5 + 1
            );
        }
        s.push_str("\tservice=http\n\trequest=\"/index.html\"\n\treceive=\"Welcome\"\n");
        s.push_str(
            "\tscheduler=wlc\n\tpersistent=300\n\tnetmask=255.255.255.0\n\tchecktype=negotiate\n",
        );
    }
    s
}

fn generate_plain(virtuals: usize, reals: usize) -> String {
    let mut s = String::from("quiescent=no\n");
    for v in 0..virtuals {
        let (a, b) = (100 + v / 250, v % 250);
        let _ = writeln!(
            s,
            "virtual=10.{a}.{b}.1:80\n\tscheduler=wlc\n\tchecktype=on"
        );
        for r in 0..reals {
            let _ = writeln!(s, "\treal=172.16.{b}.{}:80 masq 1", r + 1);
        }
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// This process's CPU time (user + system) from /proc, in clock ticks of
/// 10 ms: wall time on a shared machine measures the neighbours too.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn bench(name: &str, runs: usize, mut f: impl FnMut()) {
    // `cargo bench --bench config_parse -- TEXT`: only the benches whose
    // name contains TEXT (cargo itself passes `--bench`).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
        return;
    }
    f();
    let cpu0 = cpu_ticks();
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    let cpu = match (cpu0, cpu_ticks()) {
        (Some(a), Some(b)) => format!(", CPU {:.1} ms/run", (b - a) as f64 * 10.0 / runs as f64),
        _ => String::new(),
    };
    let min = times.iter().min().copied().unwrap_or_default();
    println!(
        "{name}: median {:.2?} (min {min:.2?}{cpu}, {runs} runs)",
        median(times)
    );
}

fn main() {
    let text = generate(1000, 10);
    let resolver = System::new();
    let first = config::parse(
        Path::new("bench.cf"),
        text.as_bytes(),
        Format::Ldirectord,
        &resolver,
    );
    assert!(
        !first.has_errors(),
        "{:?}",
        &first.diagnostics[..3.min(first.diagnostics.len())]
    );
    assert_eq!(first.config.virtuals.len(), 1000);
    assert_eq!(
        first
            .config
            .virtuals
            .iter()
            .map(|v| v.reals.len())
            .sum::<usize>(),
        10_000
    );
    let toml = config::toml::write::to_toml(&first.config);
    println!(
        "input: {} lines / {} KiB (.cf), {} KiB (TOML)",
        text.lines().count(),
        text.len() / 1024,
        toml.len() / 1024
    );
    bench("parse+validate .cf 1000x10", 51, || {
        let l = config::parse(
            Path::new("bench.cf"),
            black_box(text.as_bytes()),
            Format::Ldirectord,
            &resolver,
        );
        black_box(l);
    });
    bench("parse+validate TOML 1000x10", 51, || {
        let l = config::parse(
            Path::new("bench.toml"),
            black_box(toml.as_bytes()),
            Format::Toml,
            &resolver,
        );
        black_box(l);
    });
    // The shape integration/bench/reload uses: no checks, bare real lines.
    let plain = generate_plain(1000, 10);
    bench("parse+validate plain .cf 1000x10", 51, || {
        let l = config::parse(
            Path::new("plain.cf"),
            black_box(plain.as_bytes()),
            Format::Ldirectord,
            &resolver,
        );
        black_box(l);
    });
    bench("plan --all-up 1000x10", 21, || {
        black_box(lvsd::director::desired::all_up(black_box(&first.config)));
    });
}
