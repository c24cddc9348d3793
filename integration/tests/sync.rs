//! `syncdaemon=` and `ipvstimeouts=` on the real kernel: lvsd starts the
//! sync threads, changes them on reload, keeps serving when a reload names
//! an interface that does not exist, leaves a thread it did not start
//! alone, and stops only its own; its metrics show the threads as the
//! kernel runs them.

use lvsd_integration::director::{wait_for, Lvsd};
use lvsd_integration::topology::http_get;
use lvsd_integration::{require_vm, Netns};
use std::time::Duration;

const VIRTUAL: &str =
    "quiescent=no\nvirtual=10.91.0.100:80\n\treal=10.91.1.1:80 masq\n\tchecktype=on\n";

fn daemons(l: &Lvsd) -> String {
    l.ipvsadm("-L --daemon")
}

const METRICS_PORT: u16 = 9461;

/// The samples of metric `family` in a scrape, one per line ("" if the
/// endpoint does not answer).
fn samples(ns: &str, family: &str) -> String {
    let prefix = format!("{family}{{");
    http_get(ns, "127.0.0.1", METRICS_PORT, "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sync_samples(ns: &str) -> String {
    samples(ns, "lvsd_sync_thread")
}

fn sample(state: &str, interface: &str, syncid: u32, owner: &str) -> String {
    format!(
        "lvsd_sync_thread{{state=\"{state}\",interface=\"{interface}\",syncid=\"{syncid}\",owner=\"{owner}\"}} 1"
    )
}

#[test]
fn lvsd_drives_the_kernels_sync_threads() {
    require_vm();
    let ns = Netns::new("sy");
    // Sync messages need a multicast-capable interface (a dummy is not).
    ns.sh("ip link add sync0 type veth peer name sync1 && ip link set sync0 up && ip link set sync1 up");
    let conf = |extra: &str| format!("metrics=127.0.0.1:{METRICS_PORT}\n{extra}{VIRTUAL}");
    let l = Lvsd::new(
        "sy",
        "sync",
        &conf("syncdaemon=both\nsyncinterface=sync0\nsyncid=5\nipvstimeouts=900 120 300\n"),
    );
    l.start();
    let d = daemons(&l);
    assert!(
        d.contains("master sync daemon (mcast=sync0, syncid=5"),
        "{d}"
    );
    assert!(
        d.contains("backup sync daemon (mcast=sync0, syncid=5"),
        "{d}"
    );
    let t = l.ipvsadm("-L --timeout");
    assert!(t.contains("Timeout (tcp tcpfin udp): 900 120 300"), "{t}");
    let (code, status) = l.action("status");
    assert_eq!(code, 0, "{status}");
    let m = sync_samples("sy");
    assert!(m.contains(&sample("master", "sync0", 5, "lvsd")), "{m:?}");
    assert!(m.contains(&sample("backup", "sync0", 5, "lvsd")), "{m:?}");

    // Reload to master only: lvsd stops the backup thread it started.
    l.write_config(&conf("syncdaemon=master\nsyncinterface=sync0\nsyncid=5\n"));
    assert_eq!(l.action("reload").0, 0);
    let (d, _) = wait_for(
        "the backup thread stopped",
        Duration::from_secs(20),
        || daemons(&l),
        |d| !d.contains("backup sync daemon"),
    );
    assert!(
        d.contains("master sync daemon (mcast=sync0, syncid=5"),
        "{d}"
    );
    let (m, _) = wait_for(
        "the metrics without the backup thread",
        Duration::from_secs(20),
        || sync_samples("sy"),
        |m| !m.contains("state=\"backup\""),
    );
    assert!(m.contains(&sample("master", "sync0", 5, "lvsd")), "{m:?}");

    // A reload naming a missing interface: a clear error, the director
    // keeps serving its table and its running thread.
    l.write_config(&conf(
        "syncdaemon=master\nsyncinterface=nosuch0\nsyncid=5\n",
    ));
    assert_eq!(l.action("reload").0, 0);
    wait_for(
        "the error in the log",
        Duration::from_secs(20),
        || l.log(),
        |log| log.contains("nosuch0"),
    );
    let log = l.log();
    assert!(log.contains("sync thread on interface nosuch0"), "{log}");
    let save = l.ipvsadm("-S -n");
    assert!(
        save.contains("-a -t 10.91.0.100:80 -r 10.91.1.1:80 -m -w 1"),
        "{save}"
    );
    let d = daemons(&l);
    assert!(d.contains("master sync daemon (mcast=sync0"), "{d}");
    assert_eq!(l.action("status").0, 0);
    l.stop();
    let d = daemons(&l);
    assert!(
        !d.contains("sync daemon"),
        "lvsd's own threads stopped: {d}"
    );

    // A backup thread someone else started is left alone, before and
    // after lvsd.
    l.ipvsadm("--start-daemon backup --mcast-interface sync1 --syncid 9");
    l.write_config(&conf("syncdaemon=both\nsyncinterface=sync0\nsyncid=5\n"));
    l.start();
    let d = daemons(&l);
    assert!(
        d.contains("master sync daemon (mcast=sync0, syncid=5"),
        "{d}"
    );
    assert!(
        d.contains("backup sync daemon (mcast=sync1, syncid=9"),
        "{d}"
    );
    let log = l.log();
    assert!(log.contains("not started by lvsd"), "{log}");
    let m = sync_samples("sy");
    assert!(m.contains(&sample("master", "sync0", 5, "lvsd")), "{m:?}");
    assert!(m.contains(&sample("backup", "sync1", 9, "other")), "{m:?}");
    l.stop();
    let d = daemons(&l);
    assert!(!d.contains("master sync daemon"), "{d}");
    assert!(
        d.contains("backup sync daemon (mcast=sync1, syncid=9"),
        "{d}"
    );

    // A start naming a missing interface fails before touching the table.
    l.write_config(&conf("syncdaemon=master\nsyncinterface=nosuch0\n"));
    let (code, text) = l.action("start");
    assert_ne!(code, 0, "{text}");
    assert_eq!(l.ipvsadm("-S -n"), "", "no table programmed");
}

fn foreign_samples(ns: &str) -> String {
    samples(ns, "lvsd_sync_foreign_syncid_messages_total")
}

/// A few datagrams of one UDP flow from netns `sa` through its service: the
/// master syncs a UDP connection at its third packet.
fn udp_flow(a: &Netns, sport: u16) {
    a.sh(&format!(
        "/usr/bin/python3 -c \"import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.92.0.1',{sport}))\nfor i in range(6):\n    s.sendto(b'x',('10.92.0.100',53)); time.sleep(0.1)\""
    ));
}

/// Two directors in two namespaces joined by a veth pair: a master sync
/// thread (ipvsadm) with syncid 8 in `sa`, lvsd with syncdaemon=backup and
/// syncid 7 in `sb`. The kernel's backup drops the master's messages without
/// a word; lvsd says so in its metrics and status. With the same syncid on
/// both, lvsd reports nothing and the backup learns the connections (the
/// listener does not take the kernel's datagrams).
#[test]
fn lvsd_reports_a_master_with_another_syncid() {
    require_vm();
    let a = Netns::new("sa");
    let b = Netns::new("sb");
    a.sh("ip link add vethA type veth peer name vethB netns sb && ip addr add 10.92.0.1/24 dev vethA && ip link set vethA up");
    b.sh("ip addr add 10.92.0.2/24 dev vethB && ip link set vethB up");
    a.sh("ipvsadm -A -u 10.92.0.100:53 -s rr && ipvsadm -a -u 10.92.0.100:53 -r 10.92.0.2:53 -m");
    a.sh("ipvsadm --start-daemon master --syncid 8 --mcast-interface vethA");
    let conf = format!(
        "metrics=127.0.0.1:{METRICS_PORT}\nsyncdaemon=backup\nsyncinterface=vethB\nsyncid=7\n{VIRTUAL}"
    );
    let l = Lvsd::new("sb", "syncid", &conf);
    l.start();
    let learnt = |port: u16| {
        b.sh("ipvsadm -L -c -n")
            .lines()
            .any(|c| c.contains(&format!("10.92.0.1:{port}")) && c.contains("10.92.0.100:53"))
    };

    // Syncid 8 against 7: reported, and indeed nothing learnt.
    let mut port = 40000;
    let (m, _) = wait_for(
        "the foreign syncid in the metrics",
        Duration::from_secs(90),
        || {
            port += 1;
            udp_flow(&a, port);
            foreign_samples("sb")
        },
        |m| m.contains("interface=\"vethB\",syncid=\"8\"}"),
    );
    assert!(!m.contains("syncid=\"7\""), "{m}");
    let (json, _) = wait_for(
        "the foreign syncid in status --json",
        Duration::from_secs(60),
        // Pretty-printed: compared without the white space.
        || {
            l.action("status --json")
                .1
                .split_whitespace()
                .collect::<String>()
        },
        |j| j.contains(r#""syncid":8,"our_syncid":7"#),
    );
    assert!(json.contains(r#""interface":"vethB""#), "{json}");
    assert!(json.contains(r#""last_peer":"10.92.0.1""#), "{json}");
    let text = l.action("status").1;
    assert!(
        text.contains("with syncid 8 on vethB") && text.contains("no connections are learnt"),
        "{text}"
    );
    let log = l.log();
    assert!(
        log.contains("the backup thread drops these: no connections are learnt"),
        "{log}"
    );
    assert!(!learnt(port), "{}", b.sh("ipvsadm -L -c -n"));

    // The same syncid on both: the backup learns the flow, lvsd (started
    // again, so its counts are new) reports no foreign syncid.
    let warned = |log: &str| log.matches("no connections are learnt").count();
    let warnings = warned(&l.log());
    l.stop();
    a.sh("ipvsadm --stop-daemon master && ipvsadm --start-daemon master --syncid 7 --mcast-interface vethA");
    l.start();
    let mut port = 41000;
    wait_for(
        "the backup learns a connection with lvsd listening",
        Duration::from_secs(90),
        || {
            port += 1;
            udp_flow(&a, port);
            learnt(port)
        },
        |l| *l,
    );
    // The listener logs as it receives, so by now it would have warned.
    assert_eq!(warned(&l.log()), warnings, "{}", l.log());
    // A resync (10 s) has listed the sync view since the flow.
    std::thread::sleep(Duration::from_secs(12));
    let m = foreign_samples("sb");
    assert_eq!(m, "", "no foreign syncid with matching ones");
    let json: String = l.action("status --json").1.split_whitespace().collect();
    assert!(json.contains(r#""sync_foreign":[]"#), "{json}");
    l.stop();
}
