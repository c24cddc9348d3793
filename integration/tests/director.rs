//! lvsd end to end: the daemon programs a real kernel in a director
//! namespace, real HTTP servers in their own namespaces answer a client
//! through the VIP, and servers fail and come back.

use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{require_vm, sh};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
const DETECT: Duration = Duration::from_secs(20);

fn nat_config(vip: &str, reals: &[&str], extra: &str) -> String {
    let mut s = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\nquiescent=no\n{extra}\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello from\"\n\tscheduler=wlc\n"
    );
    for r in reals {
        s.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    s
}

fn served_by(got: &[Option<String>], name: &str) -> usize {
    got.iter().filter(|s| s.as_deref() == Some(name)).count()
}

#[test]
fn nat_farm_fails_over_reloads_and_survives_restarts() {
    require_vm();
    let mut t = Topology::new("dn", Mode::Nat, 3, 60);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let lvsd = Lvsd::new(&t.director.name, "nat", &nat_config(&vip, &reals, ""));

    // Someone else's service, created before lvsd starts.
    lvsd.ipvsadm("-A -t 10.60.0.200:80 -s rr");
    lvsd.ipvsadm(&format!("-a -t 10.60.0.200:80 -r {}:80 -m -w 5", reals[0]));
    let foreign = || lvsd.ipvsadm("-Ln -t 10.60.0.200:80");
    let foreign_before = foreign();

    lvsd.start();
    let save = lvsd.ipvsadm("-S -n");
    assert_eq!(
        weights(&save, &svc),
        reals
            .iter()
            .map(|r| (format!("{r}:80"), 1))
            .collect::<Vec<_>>(),
        "all three reals up after start:\n{save}"
    );
    // lvsd's own listing is ipvsadm's, byte for byte.
    let list = lvsd.cmd("list -n");
    assert_eq!(String::from_utf8_lossy(&list.stdout), lvsd.ipvsadm("-Ln"));
    assert_eq!(
        foreign(),
        foreign_before,
        "foreign service untouched by start"
    );

    let got = t.fetch(12, None);
    assert!(
        got.iter().all(Option::is_some),
        "every request answered: {got:?}"
    );
    for i in 1..=3 {
        assert!(
            served_by(&got, &format!("dnrs{i}")) >= 1,
            "wlc spreads: {got:?}"
        );
    }

    // A real server dies: removed within interval + timeout (+ VM slack).
    t.httpds[1].stop();
    let (_, took) = wait_for(
        "rs2 removed",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| w.len() == 2 && !w.iter().any(|(a, _)| a.starts_with(reals[1])),
    );
    eprintln!("rs2 removed {took:?} after its server stopped");
    let got = t.fetch(9, None);
    assert!(
        got.iter().all(Option::is_some),
        "no errors after failover: {got:?}"
    );
    assert_eq!(served_by(&got, "dnrs2"), 0, "{got:?}");

    let (code, text) = lvsd.action("status");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("is running with pid"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("{}:80", reals[1])) && l.contains("down")),
        "status shows rs2 down:\n{text}"
    );

    // It comes back.
    t.httpds[1].restart();
    wait_for(
        "rs2 back",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| w.len() == 3,
    );

    // Reload: rs3 leaves, rs1 gets weight 3.
    let cfg = nat_config(&vip, &reals[..2], "").replace(
        &format!("real={}:80 masq 1", reals[0]),
        &format!("real={}:80 masq 3", reals[0]),
    );
    lvsd.write_config(&cfg);
    assert_eq!(lvsd.action("reload").0, 0);
    wait_for(
        "reload applied",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| {
            *w == vec![
                (format!("{}:80", reals[0]), 3),
                (format!("{}:80", reals[1]), 1),
            ]
        },
    );
    assert_eq!(
        foreign(),
        foreign_before,
        "foreign service untouched by reload"
    );

    // A broken file on reload: still serving, the error names its line.
    let table_before = lvsd.ipvsadm("-S -n");
    lvsd.write_config(&format!("{cfg}\tbogus=1\n"));
    assert_eq!(lvsd.action("reload").0, 0);
    let line = cfg.lines().count() + 2;
    let needle = format!("{}:{line}: ", lvsd.config.display());
    wait_for(
        "reload error logged",
        DETECT,
        || lvsd.log(),
        |l| l.contains(&needle),
    );
    assert_eq!(lvsd.ipvsadm("-S -n"), table_before, "table unchanged");
    let got = t.fetch(4, None);
    assert!(got.iter().all(Option::is_some), "still serving: {got:?}");
    let (code, text) = lvsd.action("status");
    assert_eq!(
        code, 0,
        "a running daemon with a broken file is running: {text}"
    );
    assert!(text.contains("warning"), "{text}");
    lvsd.write_config(&cfg);

    // kill -9, then start again: nothing that serves is disturbed.
    let pid = lvsd.pid().expect("pid file");
    sh(&format!("kill -9 {pid}"));
    wait_for(
        "daemon gone",
        DETECT,
        || std::path::Path::new(&format!("/proc/{pid}")).exists(),
        |alive| !alive,
    );
    let table_killed = lvsd.ipvsadm("-S -n");
    let (code, text) = lvsd.action("status");
    assert_eq!(code, 1, "stale pid file: {text}");
    let log_mark = lvsd.log().len();
    lvsd.start();
    assert_eq!(
        lvsd.ipvsadm("-S -n"),
        table_killed,
        "restart changed nothing"
    );
    let restart_log = lvsd.log()[log_mark..].to_string();
    assert!(
        !restart_log.contains("applied"),
        "no change applied on restart:\n{restart_log}"
    );

    // Stop: cleanstop removes ours and only ours.
    lvsd.stop();
    let save = lvsd.ipvsadm("-S -n");
    assert!(!save.contains(&vip), "our service removed on stop:\n{save}");
    assert_eq!(
        foreign(),
        foreign_before,
        "foreign service untouched by stop"
    );
    assert_eq!(lvsd.action("status").0, 3);
}

#[test]
fn dr_persistence_sticks_and_the_fallback_takes_over() {
    require_vm();
    // Four servers: three reals and a "sorry" server as the fallback.
    let mut t = Topology::new("dd", Mode::Dr, 4, 64);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let flag = "/tmp/dd-fallbackcommand";
    let _ = std::fs::remove_file(flag);
    std::fs::write(
        "/tmp/dd-fallback.sh",
        format!("#!/bin/sh\necho \"$@\" >> {flag}\n"),
    )
    .unwrap();
    sh("chmod 755 /tmp/dd-fallback.sh");
    let mut cfg = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\n\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello\"\n\tscheduler=wlc\n\
         \tpersistent=7200\n\tfallback={}:80 gate\n\tfallbackcommand=/tmp/dd-fallback.sh\n",
        t.real_ips[3]
    );
    for ip in &t.real_ips[..3] {
        cfg.push_str(&format!("\treal={ip}:80 gate 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, "dr", &cfg);
    lvsd.start();
    let save = lvsd.ipvsadm("-S -n");
    assert!(
        save.contains(&format!("-A {svc} -s wlc -p 7200")),
        "persistent service:\n{save}"
    );
    assert_eq!(weights(&save, &svc).len(), 3, "{save}");

    // Each client address sticks to one real; several clients spread.
    let mut servers = std::collections::BTreeSet::new();
    for src in &t.client_ips {
        let got = t.fetch(3, Some(src));
        assert!(got.iter().all(Option::is_some), "{src}: {got:?}");
        assert!(
            got.windows(2).all(|w| w[0] == w[1]),
            "{src} sticks: {got:?}"
        );
        servers.insert(got[0].clone());
    }
    assert!(servers.len() >= 2, "clients spread over reals: {servers:?}");

    // All reals down: the fallback serves and fallbackcommand ran.
    for h in &mut t.httpds[..3] {
        h.stop();
    }
    wait_for(
        "fallback in",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| *w == vec![(format!("{}:80", t.real_ips[3]), 1)],
    );
    let got = t.fetch(3, Some(&t.client_ips[0]));
    assert!(
        got.iter().all(|s| s.as_deref() == Some("ddrs4")),
        "the fallback answers: {got:?}"
    );
    wait_for(
        "fallbackcommand start",
        DETECT,
        || std::fs::read_to_string(flag).unwrap_or_default(),
        |s| s.contains(&format!("start {vip}:80 tcp")),
    );

    // One comes back: the fallback leaves, fallbackcommand stop.
    t.httpds[0].restart();
    wait_for(
        "fallback out",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| *w == vec![(format!("{}:80", t.real_ips[0]), 1)],
    );
    wait_for(
        "fallbackcommand stop",
        DETECT,
        || std::fs::read_to_string(flag).unwrap_or_default(),
        |s| s.contains(&format!("stop {vip}:80 tcp")),
    );
    lvsd.stop();
}

#[test]
fn a_long_lived_connection_survives_reloads() {
    require_vm();
    let t = Topology::new("dl", Mode::Nat, 3, 68);
    let vip = t.vip.clone();
    // An echo service on port 7 on every real.
    let mut echo = Vec::new();
    for rs in &t.reals {
        echo.push(
            std::process::Command::new("ip")
                .args([
                    "netns", "exec", &rs.name, "busybox", "nc", "-ll", "-p", "7", "-e", "cat",
                ])
                .spawn()
                .expect("busybox nc echo server"),
        );
    }
    let cfg = |reals: &[String]| {
        let mut s = format!(
            "checkinterval=1\nchecktimeout=2\nvirtual={vip}:7\n\tchecktype=connect\n\tscheduler=wlc\n"
        );
        for r in reals {
            s.push_str(&format!("\treal={r}:7 masq 1\n"));
        }
        s
    };
    let lvsd = Lvsd::new(&t.director.name, "long", &cfg(&t.real_ips[..1]));
    lvsd.start();
    // A client holds one connection across two reloads.
    let client = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(echo one; sleep 8; echo two) | ip netns exec {} busybox nc -w 15 {vip} 7",
            t.client.name
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("client");
    std::thread::sleep(Duration::from_secs(2));
    lvsd.write_config(&cfg(&t.real_ips));
    assert_eq!(lvsd.action("reload").0, 0);
    wait_for(
        "reals added",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &format!("-t {vip}:7")).len(),
        |n| *n == 3,
    );
    lvsd.write_config(&cfg(&t.real_ips[..2]));
    assert_eq!(lvsd.action("reload").0, 0);
    wait_for(
        "a real removed",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &format!("-t {vip}:7")).len(),
        |n| *n == 2,
    );
    let out = client.wait_with_output().expect("client output");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "one\ntwo\n",
        "the connection carried data before and after both reloads"
    );
    lvsd.stop();
    for mut e in echo {
        let _ = e.kill();
    }
}

#[test]
fn the_ldirectord_name_drives_the_same_daemon() {
    require_vm();
    let t = Topology::new("dg", Mode::Nat, 2, 72);
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let ld = Lvsd::new(
        &t.director.name,
        "ldcompat",
        &nat_config(&t.vip, &reals, ""),
    )
    .as_ldirectord();
    assert_eq!(ld.action("status").0, 3, "stopped before start");
    ld.start();
    assert_eq!(ld.action("start").0, 0, "start when running succeeds");
    let (code, text) = ld.action("status");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ldirectord for /tmp/ldcompat.cf is running with pid"),
        "{text}"
    );
    let pid_file = ld.run_dir.join("ldirectord.ldcompat.cf.pid");
    assert!(pid_file.exists(), "ldirectord's pid file name");
    let got = t.fetch(4, None);
    assert!(got.iter().all(Option::is_some), "{got:?}");
    ld.stop();
    assert_eq!(
        ld.action("stop").0,
        0,
        "stopping a stopped director succeeds"
    );
    assert_eq!(
        ld.action("reload").0,
        1,
        "reload of a stopped director fails"
    );
    // A configuration error is exit 2, for every action.
    ld.write_config("virtual=10.72.0.100:80\n\treal=10.73.0.11:80 masq\n\tbogus=1\n");
    assert_eq!(ld.action("start").0, 2);
    assert_eq!(ld.action("status").0, 2);
}

#[test]
fn drain_takes_a_real_out_and_undrain_brings_it_back() {
    require_vm();
    let t = Topology::new("dm", Mode::Nat, 2, 76);
    let svc = format!("-t {}:80", t.vip);
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let dir = "/tmp/dm-maintenance";
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let lvsd = Lvsd::new(
        &t.director.name,
        "drain",
        &nat_config(&t.vip, &reals, &format!("maintenancedir={dir}\n")),
    );
    lvsd.start();
    assert_eq!(weights(&lvsd.ipvsadm("-S -n"), &svc).len(), 2);
    let out = lvsd.cmd(&format!("drain {} -c {}", reals[1], lvsd.config.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "drained real removed",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| *w == vec![(format!("{}:80", reals[0]), 1)],
    );
    let (_, text) = lvsd.action("status");
    assert!(text.contains("(maintenance)"), "{text}");
    let got = t.fetch(4, None);
    assert!(got.iter().all(|s| s.as_deref() == Some("dmrs1")), "{got:?}");
    let out = lvsd.cmd(&format!(
        "undrain {} -c {}",
        reals[1],
        lvsd.config.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "undrained real back",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc).len(),
        |n| *n == 2,
    );
    lvsd.stop();
}

/// `execute=`: the director starts, reloads and stops another instance
/// with itself, as ldirectord does, under the name it was invoked by.
#[test]
fn execute_drives_another_instance() {
    require_vm();
    let ns = lvsd_integration::Netns::new("dx");
    ns.sh("ip link add d0 type dummy && ip link set d0 up && ip route add default dev d0");
    let other = std::path::Path::new("/tmp/exb.cf");
    std::fs::write(
        other,
        "logfile=\"/tmp/exb.log\"\nvirtual=10.91.0.2:80\n\treal=10.92.0.2:80 masq\n\tchecktype=on\n",
    )
    .expect("write the other configuration");
    let a_text = |execute: bool| {
        format!(
            "{}virtual=10.91.0.1:80\n\treal=10.92.0.1:80 masq\n\tchecktype=on\n",
            if execute {
                "execute = \"/tmp/exb.cf\"\n"
            } else {
                ""
            }
        )
    };
    let a = Lvsd::new("dx", "exa", &a_text(true)).as_ldirectord();
    // The other instance inherits the run directory, and is run as
    // `ldirectord` too: its pid file says so.
    let b_pid = a.run_dir.join("ldirectord.exb.cf.pid");
    let b_in_kernel = || a.ipvsadm("-S -n").contains("10.91.0.2:80");
    // (pid file present, service in the kernel)
    let b_state = || (b_pid.exists(), b_in_kernel());
    let b_log = || std::fs::read_to_string("/tmp/exb.log").unwrap_or_default();

    a.start();
    wait_for("the other instance started", DETECT, b_state, |s| {
        *s == (true, true)
    });
    let (code, text) = a.action("status");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ldirectord for /tmp/exb.cf is running with pid"),
        "status asks the other instance too:\n{text}"
    );

    // A reload that keeps it reloads it.
    let reloads = || b_log().matches("reloading").count();
    let before = reloads();
    assert_eq!(a.action("reload").0, 0);
    wait_for("the other instance reloaded", DETECT, reloads, |n| {
        *n > before
    });

    // Dropped from the configuration: stopped (its cleanstop removes its
    // service); listed again: started again.
    a.write_config(&a_text(false));
    assert_eq!(a.action("reload").0, 0);
    wait_for("the other instance stopped", DETECT, b_state, |s| {
        *s == (false, false)
    });
    assert!(
        a.ipvsadm("-S -n").contains("10.91.0.1:80"),
        "this one serves on"
    );
    a.write_config(&a_text(true));
    assert_eq!(a.action("reload").0, 0);
    wait_for("the other instance started again", DETECT, b_state, |s| {
        *s == (true, true)
    });

    // Stop returns once this instance is gone, and it stopped the other first.
    a.stop();
    assert!(
        !b_pid.exists(),
        "the other instance is stopped with it:\n{}",
        b_log()
    );
    assert!(!b_in_kernel(), "{}", a.ipvsadm("-S -n"));

    // An instance whose file leads back here is not driven: every reload
    // would bounce between the two.
    std::fs::write(
        other,
        "logfile=\"/tmp/exb.log\"\nexecute=/tmp/exa.cf\nvirtual=10.91.0.2:80\n\treal=10.92.0.2:80 masq\n\tchecktype=on\n",
    )
    .expect("write the other configuration");
    a.start();
    wait_for(
        "the refusal logged",
        DETECT,
        || a.log(),
        |l| l.contains("leads back"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(!b_pid.exists() && !b_in_kernel(), "{}", a.ipvsadm("-S -n"));
    a.stop();
}
