//! lvsd under a real Pacemaker + Corosync single-node cluster (Debian's
//! packages), configured with pcs, in the director's network namespace: an
//! IPaddr2 VIP and ocf:lvsd:lvsd, colocated and ordered, run from the files
//! the Debian package installed (agent, /usr/sbin/lvsd). Traffic flows
//! through the VIP, a kill -9 of lvsd is recovered by the monitor, standby
//! stops both cleanly. Then ocf:heartbeat:ldirectord pointed at lvsd's
//! ldirectord name.

use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::ocf::{install_deb, rc, Agent, INSTALLED_AGENT, INSTALLED_BIN};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{require_vm, sh, sh_output};

/// Pacemaker in an emulated CPU: elections, probes and starts are slow.
const CLUSTER: Duration = Duration::from_secs(400);

fn config(vip: &str, reals: &[&str]) -> String {
    let mut s = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=3\nquiescent=no\n\
         virtual={vip}:80\n\tservice=http\n\tchecktype=negotiate\n\
         \trequest=\"/index.html\"\n\treceive=\"hello from\"\n\tscheduler=rr\n"
    );
    for r in reals {
        s.push_str(&format!("\treal={r}:80 masq 1\n"));
    }
    s
}

/// corosync and pacemakerd running in one namespace; stopped on drop.
struct Cluster {
    ns: String,
    node: String,
}

impl Cluster {
    fn start(ns: &str, ring_addr: &str) -> Cluster {
        let node = sh("uname -n").trim().to_string();
        std::fs::write(
            "/etc/corosync/corosync.conf",
            format!(
                "totem {{\n  version: 2\n  cluster_name: lvsdtest\n  transport: knet\n  \
                 crypto_cipher: none\n  crypto_hash: none\n}}\n\
                 nodelist {{\n  node {{\n    ring0_addr: {ring_addr}\n    name: {node}\n    nodeid: 1\n  }}\n}}\n\
                 quorum {{\n  provider: corosync_votequorum\n}}\n\
                 logging {{\n  to_logfile: yes\n  logfile: /tmp/corosync.log\n  to_syslog: no\n  to_stderr: no\n}}\n"
            ),
        )
        .expect("corosync.conf");
        sh("mkdir -p /var/log/pacemaker /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /run/pacemaker \
            && chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker \
            && rm -f /var/lib/pacemaker/cib/cib*");
        sh(&format!("ip netns exec {ns} corosync"));
        sh(&format!(
            "PCMK_logfile=/tmp/pacemaker.log setsid ip netns exec {ns} pacemakerd \
             </dev/null >/tmp/pacemakerd.out 2>&1 &"
        ));
        let c = Cluster {
            ns: ns.to_string(),
            node,
        };
        wait_for(
            "the node is online in Pacemaker",
            CLUSTER,
            || c.mon(),
            |m| m.contains(&format!("Online: [ {} ]", c.node)),
        );
        c
    }

    /// A command in the cluster's namespace (libqb's IPC sockets are
    /// abstract unix sockets: per network namespace).
    fn sh(&self, script: &str) -> String {
        sh(&format!("ip netns exec {} {script}", self.ns))
    }

    fn mon(&self) -> String {
        let o = sh_output(&format!("ip netns exec {} crm_mon -1 -r", self.ns));
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    fn wait_mon(&self, what: &str, cond: impl Fn(&String) -> bool) -> String {
        let (m, took) = wait_for(what, CLUSTER, || self.mon(), cond);
        log(&format!("== crm_mon -1 ({what}, after {took:?}):\n{m}"));
        m
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let o = sh_output(
                "tail -n 40 /tmp/corosync.log /tmp/pacemakerd.out; \
                 grep -E 'error|warning|lvsd|director' /tmp/pacemaker.log | tail -n 80",
            );
            eprintln!(
                "== cluster logs:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let _ = sh_output(&format!(
            "ip netns exec {} crm_attribute -t crm_config -n stop-all-resources -v true; \
             sleep 20; pkill -TERM -x pacemakerd; for i in $(seq 120); do pgrep -x pacemakerd >/dev/null || break; sleep 1; done; \
             pkill -TERM -x corosync; sleep 3",
            self.ns
        ));
    }
}

/// Into the test log even when the test passes: libtest captures only the
/// print macros, not writes to the stderr handle.
fn log(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn started(m: &str, rsc: &str) -> bool {
    m.lines()
        .any(|l| l.contains(&format!("{rsc}\t")) || l.contains(&format!("* {rsc} ")))
        && m.lines().any(|l| l.contains(rsc) && l.contains("Started"))
}

fn stopped(m: &str, rsc: &str) -> bool {
    m.lines().any(|l| l.contains(rsc) && l.contains("Stopped"))
}

#[test]
fn pacemaker_runs_lvsd_beside_an_ipaddr2_vip() {
    require_vm();
    let t = Topology::new("pm", Mode::Nat, 2, 88);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    // The cluster owns the VIP: take away the one the topology set up.
    t.director.sh(&format!("ip addr del {vip}/32 dev eth0"));
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let mut lvsd = Lvsd::new(&t.director.name, "pm", &config(&vip, &reals));
    // The package, installed in the VM's overlay: Pacemaker finds
    // ocf:lvsd:lvsd where dpkg put it, and the agent runs its default
    // binary, /usr/sbin/lvsd.
    install_deb();
    let installed = sh("dpkg -L lvsd");
    for f in [
        INSTALLED_AGENT,
        INSTALLED_BIN,
        "/usr/share/man/man8/lvsd.8.gz",
        "/usr/share/man/man5/lvsd.cf.5.gz",
    ] {
        assert!(
            installed.lines().any(|l| l == f),
            "{f} not installed:\n{installed}"
        );
    }
    assert!(sh("man -w lvsd").trim().ends_with("lvsd.8.gz"));
    lvsd.program = INSTALLED_BIN.into();
    // The cluster names the pid file (pidfile=, lvsd --pidfile).
    let pidfile = lvsd.run_dir.join("cluster/director.pid");
    let pid = || -> Option<u32> { std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok() };

    let c = Cluster::start(&t.director.name, "10.88.0.1");
    c.sh("pcs property set stonith-enabled=false no-quorum-policy=ignore");
    c.sh("pcs resource defaults update resource-stickiness=INFINITY");
    c.sh(&format!(
        "pcs resource create vip ocf:heartbeat:IPaddr2 ip={vip} cidr_netmask=32 nic=eth0 \
         op monitor interval=5s"
    ));
    c.sh(&format!(
        "pcs resource create director ocf:lvsd:lvsd config={} rundir={} pidfile={} \
         op monitor interval=5s timeout=60s op start timeout=130s op stop timeout=130s \
         op monitor interval=11s timeout=60s OCF_CHECK_LEVEL=10",
        lvsd.config.display(),
        lvsd.run_dir.display(),
        pidfile.display()
    ));
    c.sh("pcs constraint colocation add director with vip INFINITY");
    c.sh("pcs constraint order vip then director");

    c.wait_mon("both started", |m| {
        started(m, "vip") && started(m, "director")
    });
    let addrs = t.director.sh("ip -4 addr show dev eth0");
    assert!(
        addrs.contains(&format!("{vip}/32")),
        "IPaddr2 set the VIP:\n{addrs}"
    );
    let save = lvsd.ipvsadm("-S -n");
    assert_eq!(weights(&save, &svc).len(), 2, "{save}");
    let got = t.fetch(6, None);
    assert!(
        got.iter().all(Option::is_some),
        "traffic through the VIP: {got:?}"
    );

    let first = pid().expect("lvsd's pid in the pidfile= file");
    let cmdline = std::fs::read(format!("/proc/{first}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.starts_with(INSTALLED_BIN.as_bytes()),
        "the daemon runs the installed binary: {}",
        String::from_utf8_lossy(&cmdline)
    );

    // kill -9: the monitor notices, Pacemaker stops and starts it again.
    sh(&format!("kill -9 {first}"));
    let m = c.wait_mon("lvsd recovered", |m| {
        started(m, "director") && pid().is_some_and(|p| p != first)
    });
    let failures = c.sh("crm_mon -1 --include=failcounts,operations");
    log(&format!("== after recovery:\n{failures}"));
    assert!(
        failures.contains("director") && failures.contains("fail-count"),
        "the failure was recorded:\n{failures}\n{m}"
    );
    wait_for(
        "service programmed again",
        CLUSTER,
        || weights(&lvsd.ipvsadm("-S -n"), &svc).len(),
        |n| *n == 2,
    );
    let got = t.fetch(4, None);
    assert!(
        got.iter().all(Option::is_some),
        "traffic after recovery: {got:?}"
    );

    // Standby: both stop; lvsd's services (cleanstop) and the VIP are gone.
    c.sh(&format!("pcs node standby {}", c.node));
    c.wait_mon("both stopped", |m| {
        stopped(m, "vip") && stopped(m, "director")
    });
    assert!(pid().is_none(), "lvsd still running after standby");
    let save = lvsd.ipvsadm("-S -n");
    assert!(!save.contains(&vip), "services left after standby:\n{save}");
    let addrs = t.director.sh("ip -4 addr show dev eth0");
    assert!(!addrs.contains(&format!("{vip}/32")), "VIP left:\n{addrs}");
    c.sh(&format!("pcs node unstandby {}", c.node));
    c.wait_mon("both started after unstandby", |m| {
        started(m, "vip") && started(m, "director")
    });
    c.sh("pcs resource disable director");
    c.wait_mon("director disabled", |m| stopped(m, "director"));
}

/// The existing ocf:heartbeat:ldirectord agent, its `ldirectord` parameter
/// pointed at lvsd through a link named ldirectord.
#[test]
fn heartbeat_ldirectord_agent_drives_lvsd() {
    require_vm();
    let t = Topology::new("ph", Mode::Nat, 2, 90);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let reals: Vec<&str> = t.real_ips.iter().map(String::as_str).collect();
    let lvsd = Lvsd::new(&t.director.name, "ph", &config(&vip, &reals)).as_ldirectord();
    let agent = Agent::new(
        &lvsd.ns,
        "/usr/lib/ocf/resource.d/heartbeat/ldirectord".into(),
        &[
            ("configfile", &lvsd.config.display().to_string()),
            ("ldirectord", &lvsd.program.display().to_string()),
        ],
    );
    agent.expect("monitor", "", rc::NOT_RUNNING);
    agent.expect("start", "", rc::SUCCESS);
    // lvsd's start waits for the table: it is there when the agent returns.
    let save = lvsd.ipvsadm("-S -n");
    assert_eq!(weights(&save, &svc).len(), 2, "{save}");
    assert!(
        std::path::Path::new("/run/ldirectord.ph.cf.pid").exists(),
        "ldirectord's pid file name"
    );
    agent.expect("monitor", "", rc::SUCCESS);
    let got = t.fetch(4, None);
    assert!(got.iter().all(Option::is_some), "traffic: {got:?}");
    agent.expect("stop", "", rc::SUCCESS);
    // lvsd's stop waits for the cleanup: nothing left when the agent returns.
    let save = lvsd.ipvsadm("-S -n");
    assert!(!save.contains(&vip), "{save}");
    agent.expect("monitor", "", rc::NOT_RUNNING);
    let (code, text) = agent.ocf_tester();
    eprintln!("{text}");
    assert_eq!(
        code, 0,
        "ocf-tester on ocf:heartbeat:ldirectord with lvsd:\n{text}"
    );
}
