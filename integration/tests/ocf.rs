//! The OCF resource agent (`packaging/ocf/lvsd`) against a real kernel and
//! real HTTP servers: Debian's `ocf-tester`, then every action's exit code
//! as Pacemaker would see it, including OCF 1.1 "degraded" when the
//! fallback server serves.

use std::time::Duration;

use lvsd::daemon::status::DaemonState;
use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::ocf::{
    agent_path, install_deb, rc, status_json, Agent, INSTALLED_AGENT, INSTALLED_BIN,
};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{lvsd_bin, require_vm, sh};

const DETECT: Duration = Duration::from_secs(30);

fn config(vip: &str, reals: &[&str], fallback: Option<&str>) -> String {
    let mut s = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\nquiescent=no\n\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello from\"\n\tscheduler=wlc\n"
    );
    if let Some(f) = fallback {
        s.push_str(&format!("\tfallback={f}:80 masq\n"));
    }
    for r in reals {
        s.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    s
}

fn agent_for(lvsd: &Lvsd) -> Agent {
    Agent::new(
        &lvsd.ns,
        agent_path(),
        &[
            ("config", &lvsd.config.display().to_string()),
            ("binary", &lvsd_bin().display().to_string()),
            ("rundir", &lvsd.run_dir.display().to_string()),
        ],
    )
}

#[test]
fn ocf_tester_passes_with_a_real_farm() {
    require_vm();
    let t = Topology::new("ot", Mode::Nat, 2, 80);
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let lvsd = Lvsd::new(&t.director.name, "ot", &config(&t.vip, &reals, None));
    let agent = agent_for(&lvsd);
    let (code, text) = agent.ocf_tester();
    eprintln!("{text}");
    assert_eq!(
        code,
        0,
        "ocf-tester failed:\n{text}\nlvsd log:\n{}",
        lvsd.log()
    );
    assert!(text.contains("passed all tests"), "{text}");
    // It ends with stop: cleanstop=yes (the default) left nothing behind.
    let save = lvsd.ipvsadm("-S -n");
    assert!(!save.contains(&t.vip), "services left after stop:\n{save}");
}

#[test]
fn agent_actions_return_the_right_codes() {
    require_vm();
    let t = Topology::new("oa", Mode::Nat, 2, 82);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let cfg = config(&vip, &reals, None);
    let lvsd = Lvsd::new(&t.director.name, "oa", &cfg);
    let agent = agent_for(&lvsd);

    agent.expect("validate-all", "", rc::SUCCESS);
    agent.expect("monitor", "", rc::NOT_RUNNING);
    agent.expect("monitor", "OCF_RESKEY_CRM_meta_interval=0", rc::NOT_RUNNING);
    agent.expect("stop", "", rc::SUCCESS);

    // start returns once the table is programmed: no waiting here.
    agent.expect("start", "", rc::SUCCESS);
    let save = lvsd.ipvsadm("-S -n");
    assert_eq!(
        weights(&save, &svc).len(),
        2,
        "programmed at start:\n{save}"
    );
    agent.expect("start", "", rc::SUCCESS);
    agent.expect("monitor", "", rc::SUCCESS);
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);
    let got = t.fetch(4, None);
    assert!(got.iter().all(Option::is_some), "traffic: {got:?}");

    // The machine-readable status the agent's porcelain is made from.
    let (code, r) = status_json(&lvsd, None);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!((r.state, r.pid), (DaemonState::Running, lvsd.pid()));
    let st = r.status.expect("a running daemon's status");
    let v = &st.virtuals[0];
    assert_eq!(v.service, format!("tcp {vip}:80"));
    assert_eq!(v.ipvsadm, format!("-t {vip}:80"));
    assert!(v.present && !v.fallback_active, "{v:?}");
    for re in &v.reals {
        assert_eq!(
            (re.health.as_str(), re.weight, re.configured_weight),
            ("up", Some(1), 1),
            "{re:?}"
        );
        assert!(re.last.is_some(), "{re:?}");
    }

    // Depth 10 reads the kernel: a service deleted behind lvsd's back is a
    // failure there. The daemon is held (SIGSTOP) meanwhile, or its resync
    // could repair the table before the agent looks; the agent reads the
    // status file and the kernel, not the daemon, so it answers anyway.
    let pid = lvsd.pid().expect("the daemon's pid");
    sh(&format!("kill -STOP {pid}"));
    lvsd.ipvsadm(&format!("-D {svc}"));
    let (code, text) = agent.run_with("monitor", "OCF_CHECK_LEVEL=10");
    sh(&format!("kill -CONT {pid}"));
    assert_eq!(code, rc::ERR_GENERIC, "monitor at depth 10:\n{text}");
    assert!(
        text.contains(&format!("tcp {vip}:80")),
        "names the service: {text}"
    );
    // lvsd repairs drift (resync): depth 10 recovers by itself.
    wait_for(
        "lvsd repairs the table",
        DETECT,
        || agent.run_with("monitor", "OCF_CHECK_LEVEL=10").0,
        |c| *c == rc::SUCCESS,
    );

    // reload: the new weight reaches the kernel.
    lvsd.write_config(&cfg.replace(
        &format!("real={}:80 masq 1", reals[0]),
        &format!("real={}:80 masq 4", reals[0]),
    ));
    agent.expect("reload", "", rc::SUCCESS);
    wait_for(
        "reload applied",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| w.contains(&(format!("{}:80", reals[0]), 4)),
    );
    agent.expect("reload-agent", "", rc::SUCCESS);

    // A broken configuration: validate-all and reload say so; the running
    // daemon keeps serving its last good one and monitor stays happy.
    lvsd.write_config(&format!("{cfg}\tbogus=1\n"));
    agent.expect("validate-all", "", rc::ERR_CONFIGURED);
    agent.expect("reload", "", rc::ERR_CONFIGURED);
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);

    // stop returns once the daemon is gone and its services removed.
    agent.expect("stop", "", rc::SUCCESS);
    let save = lvsd.ipvsadm("-S -n");
    assert!(!save.contains(&vip), "cleanstop left:\n{save}");
    assert!(lvsd.pid().is_none(), "pid file left");
    agent.expect("stop", "", rc::SUCCESS);
    agent.expect("monitor", "", rc::NOT_RUNNING);
    // Starting with the broken file: not configured, nothing started.
    agent.expect("start", "", rc::ERR_CONFIGURED);
    agent.expect("monitor", "", rc::NOT_RUNNING);

    // kill -9: monitor reports a failure (not a clean stop); stop cleans
    // up the stale pid file; start works again.
    lvsd.write_config(&cfg);
    agent.expect("start", "", rc::SUCCESS);
    let pid = lvsd.pid().expect("pid after start");
    sh(&format!("kill -9 {pid}"));
    wait_for(
        "the killed daemon is gone",
        DETECT,
        || std::path::Path::new(&format!("/proc/{pid}")).exists(),
        |alive| !alive,
    );
    agent.expect("monitor", "", rc::ERR_GENERIC);
    agent.expect("stop", "", rc::SUCCESS);
    agent.expect("monitor", "", rc::NOT_RUNNING);
    agent.expect("start", "", rc::SUCCESS);
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);
    agent.expect("stop", "", rc::SUCCESS);

    // Installation problems.
    let missing = Agent::new(
        &lvsd.ns,
        agent_path(),
        &[
            ("config", &lvsd.config.display().to_string()),
            ("binary", "/nonexistent/lvsd"),
            ("rundir", &lvsd.run_dir.display().to_string()),
        ],
    );
    missing.expect("validate-all", "", rc::ERR_INSTALLED);
    missing.expect("monitor", "OCF_RESKEY_CRM_meta_interval=0", rc::NOT_RUNNING);
    missing.expect("stop", "", rc::SUCCESS);
    let bad_pidfile = Agent::new(
        &lvsd.ns,
        agent_path(),
        &[
            ("config", &lvsd.config.display().to_string()),
            ("binary", &lvsd_bin().display().to_string()),
            ("pidfile", "relative.pid"),
        ],
    );
    bad_pidfile.expect("validate-all", "", rc::ERR_CONFIGURED);

    // pidfile= is honoured: lvsd --pidfile writes, reads and removes it.
    let pidfile = lvsd.run_dir.join("cluster/director.pid");
    let pidfile_s = pidfile.display().to_string();
    let own = Agent::new(
        &lvsd.ns,
        agent_path(),
        &[
            ("config", &lvsd.config.display().to_string()),
            ("binary", &lvsd_bin().display().to_string()),
            ("rundir", &lvsd.run_dir.display().to_string()),
            ("pidfile", &pidfile_s),
        ],
    );
    own.expect("validate-all", "", rc::SUCCESS);
    own.expect("start", "", rc::SUCCESS);
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .expect("the pid file named by pidfile=")
        .trim()
        .parse()
        .expect("a pid");
    assert_eq!(lvsd.pid(), None, "the derived pid file is not written");
    own.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);
    // One daemon per configuration (the instance lock): the default
    // resource sees it too, whatever pid file it names, and would not start
    // a second one.
    agent.expect("monitor", "", rc::SUCCESS);
    let (code, r) = status_json(&lvsd, Some(&pidfile_s));
    assert_eq!((code, r.state, r.pid), (0, DaemonState::Running, Some(pid)));
    assert_eq!(r.pidfile, pidfile);
    own.expect("reload", "", rc::SUCCESS);
    own.expect("stop", "", rc::SUCCESS);
    assert!(!pidfile.exists(), "pid file left after stop");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!lvsd.ipvsadm("-S -n").contains(&vip));
    own.expect("monitor", "", rc::NOT_RUNNING);

    let (code, text) = agent.run("frobnicate");
    assert_eq!(code, 3, "unknown action: {text}");
    let (code, meta) = agent.run("meta-data");
    assert_eq!(code, 0);
    assert!(meta.contains("<version>1.1</version>"), "{meta}");
}

#[test]
fn monitor_is_degraded_while_the_fallback_serves() {
    require_vm();
    let mut t = Topology::new("og", Mode::Nat, 3, 84);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let reals: Vec<&str> = t.real_ips[..2].iter().map(String::as_str).collect();
    let sorry = t.real_ips[2].clone();
    let lvsd = Lvsd::new(&t.director.name, "og", &config(&vip, &reals, Some(&sorry)));
    let agent = agent_for(&lvsd);
    agent.expect("start", "", rc::SUCCESS);
    agent.expect("monitor", "", rc::SUCCESS);

    for h in &mut t.httpds[..2] {
        h.stop();
    }
    wait_for(
        "fallback in",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| *w == vec![(format!("{sorry}:80"), 1)],
    );
    let (code, text) = wait_for(
        "monitor degraded",
        DETECT,
        || agent.run("monitor"),
        |(c, _)| *c == rc::DEGRADED,
    )
    .0;
    assert_eq!(code, rc::DEGRADED);
    eprintln!("degraded monitor: {text}");
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::DEGRADED);
    let (_, r) = status_json(&lvsd, None);
    let v = &r.status.expect("status").virtuals[0];
    assert!(v.fallback_active && v.present, "{v:?}");
    assert!(
        v.reals
            .iter()
            .all(|re| re.health == "down" && re.weight.is_none()),
        "{v:?}"
    );
    // start on a degraded resource is still "already running".
    agent.expect("start", "", rc::SUCCESS);

    t.httpds[0].restart();
    wait_for(
        "healthy again",
        DETECT,
        || agent.run("monitor").0,
        |c| *c == rc::SUCCESS,
    );
    agent.expect("stop", "", rc::SUCCESS);
    assert!(!lvsd.ipvsadm("-S -n").contains(&vip));
}

/// The units as shipped, with ExecStart pointing at the binary under test.
#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    require_vm();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/systemd/verify");
    let out = sh(&format!("{script} {}", lvsd_bin().display()));
    assert!(out.contains("verify: units OK"), "{out}");
}

/// The Debian package: built from this tree, installed with dpkg in the VM's
/// overlay next to Debian's ldirectord package, and the installed agent,
/// units, man pages and ldirectord name used.
#[test]
fn debian_package_installs_and_its_agent_runs_the_farm() {
    require_vm();
    let top = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let deb = install_deb();
    let contents = sh(&format!("dpkg-deb -c {deb}"));
    for f in [
        "./usr/sbin/lvsd",
        "./usr/lib/lvsd/ldirectord -> ../../sbin/lvsd",
        "./usr/lib/ocf/resource.d/lvsd/lvsd",
        "./lib/systemd/system/lvsd.service",
        "./lib/systemd/system/lvsd@.service",
        "./usr/share/man/man8/lvsd.8.gz",
        "./usr/share/man/man5/lvsd.cf.5.gz",
        "./usr/share/doc/lvsd/examples/ldirectord.cf",
        "./usr/share/doc/lvsd/examples/lvsd.toml",
        "./usr/share/doc/lvsd/copyright",
    ] {
        assert!(
            contents.contains(f),
            "{f} missing from the package:\n{contents}"
        );
    }
    // Debian's ldirectord keeps its own name.
    assert_eq!(
        sh("dpkg -S /usr/sbin/ldirectord").trim(),
        "ldirectord: /usr/sbin/ldirectord"
    );
    assert!(sh(&format!("{INSTALLED_BIN} --version")).starts_with("lvsd "));
    // The installed units, man pages included.
    let out = sh(&format!("{top}/packaging/systemd/verify"));
    assert!(out.contains("units OK"), "{out}");
    let man = sh("MANPAGER=cat MANWIDTH=80 man 8 lvsd 2>/dev/null");
    assert!(
        man.contains("LDIRECTORD FORM")
            && man.contains("lvsd check")
            && man.contains("STATUS FOR PROGRAMS"),
        "{man}"
    );
    let man5 = sh("MANPAGER=cat MANWIDTH=80 man 5 lvsd.cf 2>/dev/null");
    assert!(man5.contains("fallbackcommand"), "{man5}");

    // The installed agent with its defaults (binary=/usr/sbin/lvsd, rundir=/run).
    let t = Topology::new("op", Mode::Nat, 2, 86);
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let lvsd = Lvsd::new(&t.director.name, "op", &config(&t.vip, &reals, None));
    let agent = Agent::new(
        &lvsd.ns,
        INSTALLED_AGENT.into(),
        &[("config", &lvsd.config.display().to_string())],
    );
    agent.expect("validate-all", "", rc::SUCCESS);
    agent.expect("start", "", rc::SUCCESS);
    assert!(std::path::Path::new("/run/lvsd.op.cf.pid").exists());
    agent.expect("monitor", "OCF_CHECK_LEVEL=10", rc::SUCCESS);
    let got = t.fetch(4, None);
    assert!(got.iter().all(Option::is_some), "traffic: {got:?}");
    // One daemon per configuration, whatever the program's name: the
    // ldirectord name sees the daemon the agent started for this file.
    let ld = sh_output_in(
        &lvsd.ns,
        &format!("/usr/lib/lvsd/ldirectord {} status", lvsd.config.display()),
    );
    assert_eq!(
        ld.0, 0,
        "the ldirectord name sees this configuration's daemon: {}",
        ld.1
    );
    agent.expect("stop", "", rc::SUCCESS);
    assert!(!lvsd.ipvsadm("-S -n").contains(&t.vip));
    sh("dpkg -r lvsd");
}

fn sh_output_in(ns: &str, script: &str) -> (i32, String) {
    let out = lvsd_integration::sh_output(&format!("ip netns exec {ns} {script}"));
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
