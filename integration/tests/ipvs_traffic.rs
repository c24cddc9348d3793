//! Counters after real traffic: a client namespace sends HTTP requests
//! through a NAT director (programmed by `lvsd restore`) to two real servers
//! running `busybox httpd`. `lvsd list --stats/--rate/--exact/-c/...` must
//! print what ipvsadm prints, with non-zero counters.

use std::process::{Command, Stdio};
use std::time::Duration;

use lvsd_integration::ipvs::assert_same_text;
use lvsd_integration::{lvsd_bin, require_vm, sh, Netns};

const VIP: &str = "10.20.0.100";

struct Topology {
    cl: Netns,
    lb: Netns,
    _rs: Vec<Netns>,
}

/// cl (10.20.0.2) -- lb (10.20.0.1, VIP 10.20.0.100; br0 10.30.0.1) --
/// rs1 10.30.0.11, rs2 10.30.0.12, each running busybox httpd.
fn topology() -> Topology {
    let cl = Netns::new("tr-cl");
    let lb = Netns::new("tr-lb");
    let rs: Vec<Netns> = (1..=2).map(|i| Netns::new(&format!("tr-rs{i}"))).collect();
    sh("ip link add eth0 netns tr-cl type veth peer name eth0 netns tr-lb");
    cl.sh("ip addr add 10.20.0.2/24 dev eth0 && ip link set eth0 up");
    lb.sh(&format!(
        "ip addr add 10.20.0.1/24 dev eth0 && ip addr add {VIP}/32 dev eth0 && ip link set eth0 up && \
         ip link add br0 type bridge && ip addr add 10.30.0.1/24 dev br0 && ip link set br0 up && \
         busybox sysctl -w net.ipv4.ip_forward=1 >/dev/null"
    ));
    for (i, r) in rs.iter().enumerate() {
        let n = i + 1;
        sh(&format!(
            "ip link add eth0 netns tr-rs{n} type veth peer name p{n} netns tr-lb"
        ));
        lb.sh(&format!("ip link set p{n} master br0 up"));
        let www = format!("/tmp/www-tr{n}");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(
            format!("{www}/index.html"),
            format!("server rs{n}\n").repeat(50),
        )
        .unwrap();
        r.sh(&format!(
            "ip addr add 10.30.0.1{n}/24 dev eth0 && ip link set eth0 up && \
             ip route add default via 10.30.0.1 && busybox httpd -p 10.30.0.1{n}:80 -h {www}"
        ));
    }
    Topology { cl, lb, _rs: rs }
}

fn http_get_script(n: usize) -> String {
    format!(
        "i=0; while [ $i -lt {n} ]; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | \
         busybox nc -w 5 {VIP} 80 >/dev/null; i=$((i+1)); sleep 0.1; done"
    )
}

/// `lvsd ARGS` prints what `ipvsadm ARGS2` printed just before or just
/// after it. Counters move while traffic flows and rates change every 2 s,
/// so a few attempts are allowed; the last difference is reported.
fn assert_same_live(ns: &Netns, ipvsadm_args: &str, lvsd_args: &str) {
    let lvsd = format!("{} {lvsd_args}", lvsd_bin().display());
    let mut last = (String::new(), String::new());
    for _ in 0..10 {
        let before = ns.sh(&format!("ipvsadm {ipvsadm_args}"));
        let ours = ns.sh(&lvsd);
        let after = ns.sh(&format!("ipvsadm {ipvsadm_args}"));
        if ours == before || ours == after {
            return;
        }
        last = (after, ours);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_same_text(
        &last.0,
        &last.1,
        &format!("ipvsadm {ipvsadm_args} vs lvsd {lvsd_args}"),
    );
}

/// Seconds of an `MM:SS` expire column.
fn expire_secs(line: &str) -> Option<u32> {
    let (m, s) = line.get(4..10)?.trim().split_once(':')?;
    Some(m.parse::<u32>().ok()? * 60 + s.parse::<u32>().ok()?)
}

/// `-c` listings: every connection's countdown ticks on its own second, so
/// two reads of /proc/net/ip_vs_conn a few hundred milliseconds apart never
/// agree on every expire column. Everything but that column must be equal
/// byte for byte, and each expire time may differ by at most 3 s (both
/// commands start slowly under emulation; lvsd's is a debug build).
fn assert_same_conns(ns: &Netns, opt: &str) {
    let ipvsadm = ns.sh(&format!("ipvsadm -L -n -c {opt}"));
    let ours = ns.sh(&format!("{} list -n -c {opt}", lvsd_bin().display()));
    let mask = |text: &str| {
        text.lines()
            .map(|l| match expire_secs(l) {
                Some(_) => format!("{}??:??{}", &l[..4], &l[9..]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_same_text(
        &mask(&ipvsadm),
        &mask(&ours),
        &format!("ipvsadm -Lnc {opt} vs lvsd list -nc {opt}"),
    );
    for (a, b) in ipvsadm.lines().zip(ours.lines()) {
        if let (Some(x), Some(y)) = (expire_secs(a), expire_secs(b)) {
            assert!(x.abs_diff(y) <= 3, "expire times too far apart:\n{a}\n{b}");
        }
    }
    assert!(
        ipvsadm.lines().count() > 2,
        "no connections listed:\n{ipvsadm}"
    );
}

/// The numbers of the service line of `lvsd list -n --exact --stats|--rate`.
fn service_numbers(ns: &Netns, opt: &str) -> Vec<u64> {
    let out = ns.sh(&format!("{} list -n --exact {opt}", lvsd_bin().display()));
    let line = out
        .lines()
        .find(|l| l.starts_with("TCP "))
        .unwrap_or_else(|| panic!("no service line in:\n{out}"));
    line.split_whitespace()
        .skip(2)
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("not a number in {line:?}"))
        })
        .collect()
}

#[test]
fn counters_rates_and_connections_after_real_traffic() {
    require_vm();
    let t = topology();
    std::fs::write(
        "/tmp/traffic.rules",
        format!(
            "-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r 10.30.0.11:80 -m -w 1\n\
             -a -t {VIP}:80 -r 10.30.0.12:80 -m -w 1\n-A -u {VIP}:53 -s wlc -p 60\n\
             -a -u {VIP}:53 -r 10.30.0.11:53 -m -w 2\n"
        ),
    )
    .unwrap();
    t.lb.sh(&format!(
        "{} restore < /tmp/traffic.rules",
        lvsd_bin().display()
    ));

    // Traffic for about 8 s in the background, so that the 2 s rate
    // estimator sees it while we compare.
    let mut traffic = Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.cl.name,
            "sh",
            "-c",
            &http_get_script(60),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the client");
    std::thread::sleep(Duration::from_secs(5));
    let rates = service_numbers(&t.lb, "--rate");
    assert!(
        rates[0] > 0 || rates[1] > 0,
        "no rate while traffic flows: {rates:?}"
    );
    assert_same_live(&t.lb, "-L -n --rate", "list -n --rate");
    assert_same_live(&t.lb, "-L -n --rate --exact", "list -n --rate --exact");
    let status = traffic.wait().expect("wait for the client");
    assert!(status.success(), "the client failed: {status}");

    let stats = service_numbers(&t.lb, "--stats");
    assert!(stats[0] >= 50, "Conns {stats:?}");
    assert!(stats[3] > 0 && stats[4] > 50 * 500, "bytes {stats:?}");
    for (ipvsadm, lvsd) in [
        ("-L -n --stats", "list -n --stats"),
        ("-L -n --stats --exact", "list -n --stats --exact"),
        ("-L -n", "list -n"),
        ("-L -n --persistent-conn", "list -n --persistent-conn"),
        ("-L -n --thresholds", "list -n --thresholds"),
    ] {
        assert_same_live(&t.lb, ipvsadm, lvsd);
    }
    assert_same_conns(&t.lb, "");
    assert_same_conns(&t.lb, "--persistent-conn");
    let conns = t.lb.sh(&format!("{} list -n -c", lvsd_bin().display()));
    assert!(
        conns
            .lines()
            .any(|l| l.starts_with("TCP ") && l.contains(&format!("{VIP}:80"))),
        "no connection entries:\n{conns}"
    );
    // `lvsd zero -t` zeroes that service's counters, as `ipvsadm -Z -t`.
    t.lb.sh(&format!("{} zero -t {VIP}:80", lvsd_bin().display()));
    let zeroed = service_numbers(&t.lb, "--stats");
    assert_eq!(zeroed[0], 0, "Conns after lvsd zero: {zeroed:?}");
    assert_same_live(&t.lb, "-L -n --stats --exact", "list -n --stats --exact");
    // Zeroing through ipvsadm is seen by lvsd.
    t.lb.sh("ipvsadm -Z");
    assert_same_live(&t.lb, "-L -n --stats --exact", "list -n --stats --exact");
    drop(t.cl);
}
