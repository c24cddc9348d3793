//! The daemon's start-up and stop against the real kernel: signals that come
//! while it starts, `start` and `stop` racing, and two configurations that
//! share a file name side by side.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use lvsd_integration::director::{wait_for, Lvsd};
use lvsd_integration::{lvsd_bin, require_vm, sh, Netns};

/// Generous: the VM emulates the CPU.
const LIMIT: Duration = Duration::from_secs(60);

/// A virtual whose check never answers (its real sits behind a dummy link
/// that drops everything), so the first check round lasts `checktimeout`.
fn slow(vip: &str) -> String {
    format!(
        "checktimeout=15\nvirtual={vip}:80\n\treal=10.77.0.9:80 masq\n\
         \tchecktype=connect\n\tscheduler=wlc\n"
    )
}

fn fast(vip: &str) -> String {
    format!("virtual={vip}:80\n\treal=10.77.0.9:80 masq\n\tchecktype=on\n\tscheduler=wlc\n")
}

fn netns(name: &str) -> Netns {
    let ns = Netns::new(name);
    ns.sh("ip link add d0 type dummy && ip addr add 10.77.0.1/24 dev d0 && ip link set d0 up");
    ns
}

fn instance(ns: &Netns, dir: &str, run_dir: &Path, text: &str) -> Lvsd {
    let d = PathBuf::from(dir);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("config dir");
    let l = Lvsd {
        ns: ns.name.clone(),
        config: d.join("ldirectord.cf"),
        run_dir: run_dir.to_path_buf(),
        program: lvsd_bin(),
        log_file: d.join("lvsd.log"),
    };
    l.write_config(text);
    l
}

fn run_dir(tag: &str) -> PathBuf {
    let d = PathBuf::from(format!("/tmp/run-{tag}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("run dir");
    d
}

/// `lvsd CONFIG start` in the background.
fn start_in_background(l: &Lvsd) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "LVSD_RUN_DIR={} exec ip netns exec {} {} {} start",
            l.run_dir.display(),
            l.ns,
            l.program.display(),
            l.config.display()
        ))
        .spawn()
        .expect("spawn start")
}

/// Live `lvsd run` processes for this configuration file.
fn daemons(config: &Path) -> Vec<u32> {
    let want = config.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_lvsd = args
            .first()
            .is_some_and(|a| Path::new(a).file_name() == lvsd_bin().file_name());
        if is_lvsd && args.iter().any(|a| a == "run") && args.contains(&want) {
            out.push(pid);
        }
    }
    out
}

fn has_service(l: &Lvsd, vip: &str) -> bool {
    l.ipvsadm("-S -n").contains(&format!("-A -t {vip}:80"))
}

#[test]
fn sighup_right_after_start_is_a_reload() {
    require_vm();
    let ns = netns("lch");
    let l = instance(&ns, "/tmp/lc-hup", &run_dir("lc-hup"), &fast("10.78.0.1"));
    l.start();
    l.write_config(&(fast("10.78.0.1") + &fast("10.78.0.2")));
    let (code, text) = l.action("reload");
    assert_eq!(code, 0, "{text}");
    wait_for("the reload", LIMIT, || has_service(&l, "10.78.0.2"), |b| *b);
    assert_eq!(daemons(&l.config).len(), 1, "log:\n{}", l.log());
    l.stop();
    assert!(!has_service(&l, "10.78.0.1"));
}

#[test]
fn sighup_during_the_first_round_is_a_reload_once_running() {
    require_vm();
    let ns = netns("lcu");
    let l = instance(&ns, "/tmp/lc-hup2", &run_dir("lc-hup2"), &slow("10.78.5.1"));
    let mut start = start_in_background(&l);
    // The table is adopted before the first round: the service is there.
    wait_for(
        "the service",
        LIMIT,
        || has_service(&l, "10.78.5.1"),
        |b| *b,
    );
    let (pids, _) = wait_for("the daemon", LIMIT, || daemons(&l.config), |d| d.len() == 1);
    l.write_config(&(slow("10.78.5.1") + &fast("10.78.5.2")));
    sh(&format!("kill -HUP {}", pids[0]));
    let status = start.wait().expect("start");
    assert!(status.success(), "start: {status}\nlog:\n{}", l.log());
    wait_for("the reload", LIMIT, || has_service(&l, "10.78.5.2"), |b| *b);
    assert_eq!(daemons(&l.config), pids, "log:\n{}", l.log());
    l.stop();
    assert!(!has_service(&l, "10.78.5.1"));
}

#[test]
fn sigterm_during_the_first_round_runs_cleanstop() {
    require_vm();
    let ns = netns("lct");
    let l = instance(&ns, "/tmp/lc-term", &run_dir("lc-term"), &slow("10.78.1.1"));
    let mut start = start_in_background(&l);
    // The table is adopted before the first round: the service is there.
    wait_for(
        "the service",
        LIMIT,
        || has_service(&l, "10.78.1.1"),
        |b| *b,
    );
    let (pids, _) = wait_for("the daemon", LIMIT, || daemons(&l.config), |d| d.len() == 1);
    sh(&format!("kill -TERM {}", pids[0]));
    wait_for(
        "the daemon to exit",
        LIMIT,
        || daemons(&l.config),
        Vec::is_empty,
    );
    assert!(!has_service(&l, "10.78.1.1"), "no cleanstop:\n{}", l.log());
    let _ = start.wait();
}

#[test]
fn stop_during_start_up_stops_the_daemon() {
    require_vm();
    let ns = netns("lcs");
    let l = instance(&ns, "/tmp/lc-stop", &run_dir("lc-stop"), &slow("10.78.2.1"));
    let mut start = start_in_background(&l);
    wait_for(
        "the daemon",
        LIMIT,
        || daemons(&l.config),
        |d| !d.is_empty(),
    );
    let (code, text) = l.action("stop");
    assert_eq!(code, 0, "{text}");
    // stop returned: nothing of the daemon may be left.
    assert_eq!(daemons(&l.config), Vec::<u32>::new(), "log:\n{}", l.log());
    assert!(!has_service(&l, "10.78.2.1"), "log:\n{}", l.log());
    let _ = start.wait();
}

#[test]
fn two_starts_at_once_make_one_daemon() {
    require_vm();
    let ns = netns("lc2");
    let l = instance(&ns, "/tmp/lc-two", &run_dir("lc-two"), &fast("10.78.3.1"));
    let mut a = start_in_background(&l);
    let mut b = start_in_background(&l);
    let (ca, cb) = (a.wait().expect("a"), b.wait().expect("b"));
    assert!(ca.success() && cb.success(), "{ca} {cb}\n{}", l.log());
    assert!(has_service(&l, "10.78.3.1"));
    assert_eq!(daemons(&l.config).len(), 1, "log:\n{}", l.log());
    l.stop();
    assert!(daemons(&l.config).is_empty());
}

#[test]
fn two_configurations_with_the_same_file_name_keep_their_services() {
    require_vm();
    let ns = netns("lcn");
    let run = run_dir("lc-names");
    let a = instance(&ns, "/tmp/lc-a", &run, &fast("10.78.4.1"));
    let b = instance(&ns, "/tmp/lc-b", &run, &fast("10.78.4.2"));
    a.start();
    b.start();
    assert_eq!(daemons(&a.config).len(), 1, "log:\n{}", a.log());
    assert_eq!(daemons(&b.config).len(), 1, "log:\n{}", b.log());
    // B's passes never remove A's service, nor the other way round.
    std::thread::sleep(Duration::from_secs(3));
    assert!(has_service(&a, "10.78.4.1"), "B removed A's service");
    assert!(has_service(&b, "10.78.4.2"));
    let (code, text) = a.action("status");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("10.78.4.1") && !text.contains("10.78.4.2"),
        "{text}"
    );
    b.stop();
    assert!(!has_service(&b, "10.78.4.2"));
    assert!(has_service(&a, "10.78.4.1"));
    assert_eq!(daemons(&a.config).len(), 1);
    a.stop();
    assert!(!has_service(&a, "10.78.4.1"));
}
