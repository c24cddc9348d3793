//! Signals at odd times: a storm of SIGHUP while lvsd reloads, writes and
//! reads the table. The netlink socket has a timeout, so the kernel never
//! restarts a recv a signal interrupted (signal(7)); lvsd must retry it,
//! never report its services missing, and the OCF monitor must never fail
//! the healthy director.
//!
//! A guard of the whole path, not a reproduction: generic netlink queues
//! its replies before sendmsg returns, so a recv that blocks (and so can be
//! interrupted) is rare; the EINTR retry itself is tested on a socketpair
//! in src/ipvs/socket.rs, the kept table view in src/director.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd::daemon::status::DaemonStatus;
use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::ocf::{agent_path, rc, Agent};
use lvsd_integration::{lvsd_bin, require_vm, sh, Netns};

const REALS: usize = 40;
const STORM: Duration = Duration::from_secs(15);

/// 40 reals always up (`checktype=on`); `weight` differs between the two
/// versions the storm swaps in, so every reload writes to the kernel.
fn config(weight: u32) -> String {
    let mut s =
        String::from("checkinterval=1\nvirtual=10.91.0.1:80\n\tchecktype=on\n\tscheduler=wlc\n");
    for i in 0..REALS {
        s.push_str(&format!("\treal=10.92.0.{}:80 masq {weight}\n", i + 10));
    }
    s
}

fn status_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(status_files(&p));
        } else if p.to_string_lossy().ends_with(".status.json") {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_storm_of_sighup_never_makes_the_services_look_missing() {
    require_vm();
    let ns = Netns::new("sg");
    let lvsd = Lvsd::new(&ns.name, "signals", &config(1));
    lvsd.start();
    let svc = "-t 10.91.0.1:80";
    wait_for(
        "all reals in",
        Duration::from_secs(30),
        || weights(&lvsd.ipvsadm("-S -n"), svc).len(),
        |n| *n == REALS,
    );
    let pid = lvsd.pid().expect("the daemon's pid");
    let (status, _) = wait_for(
        "the status file",
        Duration::from_secs(30),
        || status_files(&lvsd.run_dir),
        |f| f.len() == 1,
    );
    let status = status[0].clone();
    let agent = Agent::new(
        &lvsd.ns,
        agent_path(),
        &[
            ("config", &lvsd.config.display().to_string()),
            ("binary", &lvsd_bin().display().to_string()),
            ("rundir", &lvsd.run_dir.display().to_string()),
        ],
    );
    agent.expect("monitor", "", rc::SUCCESS);

    // The storm: SIGHUP as fast as a shell loop sends it (its builtin kill).
    let storm = std::thread::spawn(move || {
        sh(&format!(
            "timeout {} sh -c 'while kill -HUP {pid}; do :; done' || true",
            STORM.as_secs()
        ))
    });
    // The configuration flips between two weights (renamed in whole, so a
    // reload never parses half a file): each reload writes to the kernel
    // and waits for its ACK while the signals come.
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        let path = lvsd.config.clone();
        let log = lvsd.log_file.clone();
        std::thread::spawn(move || {
            let mut w = 1;
            while !stop.load(Ordering::Relaxed) {
                w = 3 - w;
                let tmp = path.with_extension("cf.tmp");
                let text = format!("logfile=\"{}\"\n{}", log.display(), config(w));
                std::fs::write(&tmp, text).expect("write config");
                std::fs::rename(&tmp, &path).expect("rename config");
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    // Meanwhile: the status file (read as often as it can be) never says a
    // service is missing, and the OCF monitor never fails.
    let t0 = Instant::now();
    let (mut reads, mut monitors, mut bad) = (0, 0, Vec::new());
    let mut next_monitor = Instant::now();
    while t0.elapsed() < STORM {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Ok(s) = serde_json::from_str::<DaemonStatus>(&text) {
                reads += 1;
                if s.virtuals.iter().any(|v| !v.present) {
                    bad.push(format!("status file: {text}"));
                }
            }
        }
        if Instant::now() >= next_monitor {
            let (code, text) = agent.run_with("monitor", "");
            monitors += 1;
            if code != rc::SUCCESS {
                bad.push(format!("monitor rc {code}: {text}"));
            }
            next_monitor = Instant::now() + Duration::from_millis(500);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    storm.join().expect("storm");
    flipper.join().expect("flipper");
    let log = lvsd.log();
    let reloads = log.matches("reloading").count();
    eprintln!("{reloads} reloads, {reads} status reads, {monitors} monitors");
    assert!(
        bad.is_empty(),
        "{} bad observations, first: {}\nlog:\n{log}",
        bad.len(),
        bad[0]
    );
    assert!(
        !log.contains("reconcile failed"),
        "a pass failed during the storm:\n{log}"
    );
    assert!(reloads > 10, "the storm reloaded only {reloads} times");
    assert!(sh(&format!("kill -0 {pid} && echo alive")).contains("alive"));
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);
    lvsd.stop();
}
