//! Benchmark: N HTTP targets (default 10,000) checked every second by the
//! engine with the real prober, against one nginx serving every address of
//! 127.1.0.0/16 inside a network namespace of its own.
//!
//! Reports, at steady state: the checker's CPU per wall second, its RSS,
//! nginx's CPU; then drops the packets of 10 % of the targets at once (nft)
//! and reports the detection latency (drop → Down event) p50/p99/max, to be
//! compared with interval + timeout + 100 ms.
//!
//! Run as root: `cargo bench --bench check_http` (options after `--`:
//! `--targets N --timeout-ms T --steady-s S`, and `--ignore-lag` for the
//! baseline: deadlines not extended by lvsd's own measured lag). The process re-executes
//! itself inside a fresh namespace, so nothing on the host is touched.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lvsd::check::spec::{Exchange, Http, HttpMethod, Protocol, Receive, VirtualService};
use lvsd::check::{CheckKind, CheckSpec, Engine, Health, Probe, Prober, Service, Target, Timeouts};

const NS_ENV: &str = "LVSD_BENCH_INSIDE_NS";
const PORT: u16 = 8080;

struct Args {
    targets: usize,
    timeout: Duration,
    steady: Duration,
    ignore_lag: bool,
}

fn args() -> Args {
    let mut a = Args {
        targets: 10_000,
        timeout: Duration::from_millis(2000),
        steady: Duration::from_secs(20),
        ignore_lag: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), value) {
            ("--targets", Some(v)) => a.targets = v as usize,
            ("--timeout-ms", Some(v)) => a.timeout = Duration::from_millis(v),
            ("--steady-s", Some(v)) => a.steady = Duration::from_secs(v),
            ("--ignore-lag", _) => {
                a.ignore_lag = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("{program} {}: {other:?}", args.join(" ")),
    }
}

fn main() {
    if std::env::var_os(NS_ENV).is_none() {
        // Re-run inside a private namespace: its own loopback, firewall and
        // port space.
        let ns = format!("lvsdbench{}", std::process::id());
        run("ip", &["netns", "add", &ns]);
        let exe = std::env::current_exe().expect("own path");
        let status = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env(NS_ENV, "1")
            .status();
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        match status {
            Ok(s) if s.success() => return,
            other => panic!("benchmark failed: {other:?}"),
        }
    }
    let a = args();
    run("ip", &["link", "set", "lo", "up"]);
    // Many short connections to many addresses: let TIME_WAIT be reused,
    // and give nginx's listen queue room for a second's worth of them.
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_tw_reuse", "1");
    let _ = std::fs::write("/proc/sys/net/core/somaxconn", "65535");
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_max_syn_backlog", "65535");
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_max_tw_buckets", "2000000");
    let dir = tempfile::Builder::new()
        .prefix("lvsd-bench")
        .tempdir()
        .expect("temp dir");
    let mut nginx = start_nginx(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(&a, nginx.id()));
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", nginx.id())])
        .status();
    let _ = nginx.wait();
}

fn start_nginx(dir: &std::path::Path) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process on; worker_processes 2; worker_rlimit_nofile 65536;\n\
         pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
         fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
         server {{ listen 0.0.0.0:{PORT} reuseport backlog=65535; location / {{ return 200 \"ok\\n\"; }} }} }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    let child = Command::new("/usr/sbin/nginx")
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .expect("start nginx (Debian's nginx-light)");
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", PORT)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn target(i: usize) -> Ipv4Addr {
    let n = 0x7f01_0000u32 + 1 + i as u32; // 127.1.0.1 onwards
    Ipv4Addr::from(n)
}

fn spec(i: usize, timeout: Duration) -> CheckSpec<usize> {
    let addr = SocketAddr::new(IpAddr::V4(target(i)), PORT);
    let http = Http {
        tls: false,
        exchange: Exchange {
            request: "/".into(),
            receive: Some(Receive::new("ok").expect("regex")),
        },
        virtual_host: None,
        method: HttpMethod::Get,
        verify_tls: false,
        ca_file: None,
        tls_name: None,
        expect_status: vec![],
    };
    CheckSpec {
        key: i,
        probe: Probe {
            target: Target {
                addr,
                real_port: PORT,
                protocol: Protocol::Tcp,
                virtual_service: VirtualService::Addr(SocketAddr::from(([192, 0, 2, 1], 80))),
            },
            kind: CheckKind::Negotiate(Service::Http(http)),
            timeouts: Timeouts {
                check: timeout,
                negotiate: timeout,
            },
            check_count: 1,
        },
        interval: Duration::from_secs(1),
        failure_count: 1,
    }
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// The CPU seconds of nginx's master and workers.
fn nginx_cpu(master: u32) -> f64 {
    let mut total = cpu_seconds(&master.to_string());
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
    {
        total += children.split_whitespace().map(cpu_seconds).sum::<f64>();
    }
    total
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// The namespace's TCP counters that explain probes without an answer:
/// a full listen queue, SYN retransmissions, TIME_WAIT overflow.
fn print_tcp_counters() {
    let out = Command::new("nstat")
        .args(["-a", "-s", "-z"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let wanted = [
        "TcpExtListenOverflows",
        "TcpExtListenDrops",
        "TcpExtTCPSynRetrans",
        "TcpExtTCPTimeWaitOverflow",
        "TcpAttemptFails",
        "TcpActiveOpens",
    ];
    let counters: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, value) = (f.next()?, f.next()?);
            wanted.contains(&name).then(|| format!("{name} {value}"))
        })
        .collect();
    println!("TCP counters so far: {}", counters.join(", "));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn bench(a: &Args, nginx: u32) {
    let n = a.targets;
    println!("targets: {n}, interval 1 s, timeout {:?}", a.timeout);
    let (mut engine, mut events) = Engine::new(Prober::new());
    if a.ignore_lag {
        println!("baseline: deadlines not extended by the measured lag");
        engine.ignore_lag();
    }
    let t_start = Instant::now();
    engine.apply((0..n).map(|i| spec(i, a.timeout)));
    // Warm-up: every target Up.
    let mut up = 0;
    let mut down_early = 0;
    while up < n {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(e)) if e.to == Health::Up => up += 1,
            Ok(Some(e)) => {
                down_early += 1;
                if down_early <= 3 {
                    println!("warm-up: {} {} → {} ({})", e.key, e.from, e.to, e.reason);
                }
            }
            _ => panic!("warm-up stalled at {up} up of {n}"),
        }
    }
    println!(
        "all {n} up after {:.1} s ({down_early} transient downs)",
        t_start.elapsed().as_secs_f64()
    );

    // Steady state.
    let (cpu0, ng0, t0) = (cpu_seconds("self"), nginx_cpu(nginx), Instant::now());
    tokio::time::sleep(a.steady).await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds("self") - cpu0) / wall;
    let ng = (nginx_cpu(nginx) - ng0) / wall;
    // Any transition here is spurious: every target is served throughout.
    let mut spurious = 0;
    while let Ok(e) = events.try_recv() {
        spurious += 1;
        if spurious <= 3 {
            println!(
                "steady-state transition: {} {} → {} ({})",
                e.key, e.from, e.to, e.reason
            );
        }
    }
    println!("spurious transitions during the steady state: {spurious}");
    let lag = engine.lag();
    println!(
        "lvsd's own lag so far: {:.1} s in all, worst {:.0} ms",
        lag.total.as_secs_f64(),
        lag.worst.as_secs_f64() * 1000.0
    );
    print_tcp_counters();
    println!(
        "steady state over {wall:.0} s: lvsd CPU {:.3} s/s ({:.1} ms per 1,000 checks), RSS {:.0} MiB; nginx CPU {:.3} s/s",
        cpu,
        cpu * 1000.0 / n as f64 * 1000.0,
        rss_mib(),
        ng
    );

    // 10 % go dark at once.
    let dark: Vec<usize> = (0..n).step_by(10).collect();
    let set = dark
        .iter()
        .map(|&i| target(i).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let rules = format!(
        "table inet lvsdbench {{\n  set dark {{\n    type ipv4_addr\n    elements = {{ {set} }}\n  }}\n  \
         chain in {{\n    type filter hook input priority 0; policy accept;\n    \
         ip daddr @dark tcp dport {PORT} drop\n  }}\n}}\n"
    );
    let rules_path = std::env::temp_dir().join(format!("lvsd-bench-{}.nft", std::process::id()));
    std::fs::write(&rules_path, rules).expect("write nft rules");
    // The drop takes effect when nft commits, just before it exits: time
    // from there (nft itself takes a while to start on a loaded machine).
    let t_nft = Instant::now();
    run("nft", &["-f", &rules_path.display().to_string()]);
    let t_dark = Instant::now();
    println!("nft took {:.0} ms", (t_dark - t_nft).as_secs_f64() * 1000.0);
    let _ = std::fs::remove_file(&rules_path);
    let mut latency = Vec::with_capacity(dark.len());
    let mut wrong = 0;
    // Wait well past the bound; a dark target that was already down (a
    // spurious timeout just before) never reports, and counts as missed. The
    // deadline is checked by hand: with a flood of events always ready,
    // `timeout_at` alone would never get to fire.
    let end = t_dark + Duration::from_secs(1) + a.timeout + Duration::from_secs(5);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < dark.len() && Instant::now() < end {
        match tokio::time::timeout_at(end.into(), events.recv()).await {
            Ok(Some(e)) if e.to == Health::Down && e.key % 10 == 0 => {
                if seen.insert(e.key) {
                    latency.push(t_dark.elapsed());
                }
            }
            Ok(Some(_)) => wrong += 1,
            _ => break,
        }
    }
    latency.sort();
    let bound = Duration::from_secs(1) + a.timeout + Duration::from_millis(100);
    println!(
        "detection of {} dark targets ({} detected, {wrong} other transitions): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; bound interval + timeout + 100 ms = {} ms",
        dark.len(),
        latency.len(),
        percentile(&latency, 50.0).as_secs_f64() * 1000.0,
        percentile(&latency, 99.0).as_secs_f64() * 1000.0,
        latency.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        bound.as_millis()
    );
    let lag = engine.lag();
    println!(
        "lvsd's own lag so far: {:.1} s in all, worst {:.0} ms",
        lag.total.as_secs_f64(),
        lag.worst.as_secs_f64() * 1000.0
    );
    let (cpu0, t0) = (cpu_seconds("self"), Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "with 10 % dark: lvsd CPU {:.3} s/s, RSS {:.0} MiB",
        (cpu_seconds("self") - cpu0) / t0.elapsed().as_secs_f64(),
        rss_mib()
    );
    engine.shutdown().await;
}
