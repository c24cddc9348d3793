//! Tunnel reals and the SIP persistence engine through the running daemon:
//! lvsd programs ipip, GUE and GRE reals (`tuntype=`, `tunport=`,
//! `tuncsum=`) and a `pe=sip` service into a real kernel; a client's
//! traffic through the VIP reaches each real *through its tunnel*, which
//! the real decapsulates (its tunnel device counts the packets); and
//! `lvsd list`/`lvsd save` print the table as ipvsadm does, byte for byte.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{require_vm, sh_output, Netns};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
const DETECT: Duration = Duration::from_secs(30);

/// Loads a kernel module the test cannot do without; a kernel without it
/// is a failure, not a skip.
fn need_module(name: &str, why: &str) {
    let out = sh_output(&format!("modprobe {name}"));
    assert!(
        out.status.success(),
        "the VM kernel has no {name} module ({why}): modprobe said {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Packets the tunnel device `dev` of `ns` has received (decapsulated).
fn rx_packets(ns: &Netns, dev: &str) -> u64 {
    let text = ns.sh(&format!("cat /sys/class/net/{dev}/statistics/rx_packets"));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("rx_packets of {dev} in {}: {text:?}", ns.name))
}

/// Brings up the tunnel device `dev` (a module's fallback one, or one
/// made for the test), with reverse-path filtering off: decapsulated packets come from the
/// client, whose route is via eth0, not via the tunnel.
fn decapsulate_on(ns: &Netns, dev: &str) {
    let out = ns.sh_output(&format!("ip link show {dev}"));
    assert!(
        out.status.success(),
        "{}: no {dev} device (net.core.fb_tunnels_only_for_init_net set?): {}",
        ns.name,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    ns.sh(&format!(
        "ip link set {dev} up && sysctl -qw net.ipv4.conf.all.rp_filter=0 \
         net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.{dev}.rp_filter=0"
    ));
}

/// lvsd's listing and saving against ipvsadm's on the same kernel.
fn assert_lists_like_ipvsadm(lvsd: &Lvsd) {
    for (ours, theirs) in [
        ("list -n", "-Ln"),
        ("list -n --tun-info", "-Ln --tun-info"),
        ("save -n", "-S -n"),
    ] {
        let out = lvsd.cmd(ours);
        assert!(
            out.status.success(),
            "lvsd {ours}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            lvsd.ipvsadm(theirs),
            "lvsd {ours} is not ipvsadm {theirs}"
        );
    }
}

#[test]
fn ipip_gue_and_gre_reals_answer_through_their_tunnels() {
    require_vm();
    need_module("ipip", "the ipip real decapsulates with it");
    need_module("fou", "the GUE real decapsulates with `ip fou add ... gue`");
    need_module("ip_gre", "the GRE real decapsulates with it");
    // DR wiring (one segment, the VIP on each real's lo, ARP suppressed):
    // a tunnel real needs no more, but the director encapsulates.
    let mut t = Topology::new("tn", Mode::Dr, 4, 150);
    let vip = t.vip.clone();
    let svc = format!("-t {vip}:80");
    let ip = &t.real_ips;
    // rs1 ipip; rs2 GUE on 6080; rs3 GRE with checksums; rs4 GUE on 6081
    // with remote checksum offload, at weight 0: listed, never chosen.
    decapsulate_on(&t.reals[0], "tunl0");
    t.reals[1].sh("ip fou add port 6080 gue");
    decapsulate_on(&t.reals[1], "tunl0");
    // A GRE device drops packets whose checksum flag differs from its own
    // (`ip_tunnel_rcv`), so the fallback gre0 cannot take checksummed ones.
    t.reals[2].sh(&format!("ip link add gre1 type gre local {} icsum", ip[2]));
    decapsulate_on(&t.reals[2], "gre1");
    t.reals[3].sh("ip fou add port 6081 gue");
    decapsulate_on(&t.reals[3], "tunl0");
    let config = format!(
        "checkinterval=1\nchecktimeout=3\nquiescent=yes\n\
         virtual={vip}:80\n\tchecktype=connect\n\tscheduler=rr\n\
         \treal={}:80 ipip 1\n\
         \treal={}:80 ipip 1 tuntype=gue tunport=6080\n\
         \treal={}:80 ipip 1 tuntype=gre tuncsum=csum\n\
         \treal={}:80 ipip 0 tuntype=gue tunport=6081 tuncsum=remcsum\n",
        ip[0], ip[1], ip[2], ip[3]
    );
    let lvsd = Lvsd::new(&t.director.name, "tunnels", &config);
    let (code, text) = {
        let out = lvsd.cmd(&format!("check {}", lvsd.config.display()));
        lvsd_integration::code_and_text(&out)
    };
    assert_eq!(code, 0, "lvsd check:\n{text}");
    assert!(
        text.contains("tuntype is an lvsd extension"),
        "check warns:\n{text}"
    );
    lvsd.start();
    let up: Vec<(String, u32)> = ip
        .iter()
        .zip([1, 1, 1, 0])
        .map(|(a, w)| (format!("{a}:80"), w))
        .collect();
    wait_for(
        "every real checked and at its weight",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| *w == up,
    );
    // ipvsadm's own rendering of what lvsd programmed.
    let save = lvsd.ipvsadm("-S -n");
    for want in [
        format!("-a {svc} -r {}:80 -i -w 1 --tun-type ipip", ip[0]),
        format!(
            "-a {svc} -r {}:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
            ip[1]
        ),
        format!("-a {svc} -r {}:80 -i -w 1 --tun-type gre --tun-csum", ip[2]),
        format!(
            "-a {svc} -r {}:80 -i -w 0 --tun-type gue --tun-port 6081 --tun-remcsum",
            ip[3]
        ),
    ] {
        assert!(
            save.lines().any(|l| l == want),
            "{want:?} not in ipvsadm -S -n:\n{save}"
        );
    }
    let info = lvsd.ipvsadm("-Ln --tun-info");
    for want in ["ipip", "gue:6080:-c", "gre:+c", "gue:6081:r+c"] {
        assert!(
            info.contains(want),
            "{want} not in ipvsadm -Ln --tun-info:\n{info}"
        );
    }
    assert_lists_like_ipvsadm(&lvsd);

    let devs = [("tunl0", 0), ("tunl0", 1), ("gre1", 2)];
    let before: Vec<u64> = devs
        .iter()
        .map(|(d, i)| rx_packets(&t.reals[*i], d))
        .collect();
    let got = t.fetch(9, None);
    assert!(
        got.iter().all(Option::is_some),
        "every request answered through a tunnel: {got:?}\n{}",
        devs.iter()
            .map(|(d, i)| t.reals[*i].sh(&format!("ip -s -d link show {d}")))
            .collect::<String>()
    );
    for i in 1..=3 {
        let name = format!("tnrs{i}");
        assert!(
            got.iter().filter(|s| s.as_deref() == Some(&name)).count() >= 2,
            "rr reaches {name} (its tunnel works): {got:?}"
        );
    }
    assert!(
        !got.iter().any(|s| s.as_deref() == Some("tnrs4")),
        "weight 0 gets nothing: {got:?}"
    );
    for ((dev, i), b) in devs.iter().zip(before) {
        let after = rx_packets(&t.reals[*i], dev);
        assert!(
            after >= b + 3,
            "tnrs{}'s {dev} decapsulated {} packets for 3 requests: traffic did not \
             come through its tunnel",
            i + 1,
            after - b
        );
    }

    // Quiesced, rs2 is edited to weight 0 and stays GUE: an edit without
    // its tunnel would make the kernel send it plain ipip.
    let gue = |w: u32| {
        format!(
            "-a {svc} -r {}:80 -i -w {w} --tun-type gue --tun-port 6080 --tun-nocsum",
            ip[1]
        )
    };
    t.httpds[1].stop();
    wait_for(
        "rs2 quiesced, still GUE",
        DETECT,
        || lvsd.ipvsadm("-S -n"),
        |s| s.lines().any(|l| l == gue(0)),
    );
    t.httpds[1].restart();
    wait_for(
        "rs2 back at weight 1, GUE",
        DETECT,
        || lvsd.ipvsadm("-S -n"),
        |s| s.lines().any(|l| l == gue(1)),
    );
    assert_lists_like_ipvsadm(&lvsd);
    lvsd.stop();
    let left = lvsd.ipvsadm("-S -n");
    assert!(!left.contains(&svc), "stop removed the service:\n{left}");
}

/// A UDP SIP server bound to the VIP (so that its answers come from it),
/// answering each message with `NAME CALL-ID`. Killed on drop.
struct SipServer(Child);

impl SipServer {
    fn start(ns: &str, vip: &str, name: &str) -> SipServer {
        let script = format!(
            r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("{vip}", 5060))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    callid = "?"
    for line in data.decode(errors="replace").split("\r\n"):
        if line.lower().startswith("call-id:"):
            callid = line.split(":", 1)[1].strip()
    s.sendto(("{name} " + callid).encode(), peer)
"#
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SIP server in {ns}: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        }
        assert_eq!(line.trim(), "ready", "SIP server {name} did not start");
        SipServer(child)
    }
}

impl Drop for SipServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// From the client, for each Call-ID, `repeat` SIP OPTIONS messages, each
/// from a fresh socket (a new source port): the answers, `CALLID NAME`.
fn sip_exchange(ns: &str, vip: &str, callids: &[&str], repeat: usize) -> Vec<String> {
    let ids: Vec<String> = callids.iter().map(|c| format!("{c:?}")).collect();
    let script = format!(
        r#"
import socket
for callid in [{ids}]:
    for n in range({repeat}):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        msg = ("OPTIONS sip:probe@{vip} SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK%s%d\r\n"
               "From: <sip:client@10.0.0.1>;tag=1\r\n"
               "To: <sip:probe@{vip}>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n") % (callid, n, callid, n + 1)
        try:
            s.sendto(msg.encode(), ("{vip}", 5060))
            name, got = s.recv(4096).decode().split(" ", 1)
            print(got, name)
        except (OSError, ValueError) as e:
            print(callid, "failed:", e)
        s.close()
"#,
        ids = ids.join(", ")
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 in {ns}: {e}"));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines.len(),
        callids.len() * repeat,
        "SIP client: {lines:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

#[test]
fn pe_sip_persists_by_call_id_and_lists_like_ipvsadm() {
    require_vm();
    need_module(
        "ip_vs_pe_sip",
        "pe=sip is the kernel's SIP persistence engine",
    );
    let t = Topology::new("tp", Mode::Dr, 2, 152);
    let vip = t.vip.clone();
    let _servers: Vec<SipServer> = t
        .reals
        .iter()
        .enumerate()
        .map(|(i, rs)| SipServer::start(&rs.name, &vip, &format!("tprs{}", i + 1)))
        .collect();
    let config = format!(
        "checkinterval=1\nquiescent=no\n\
         virtual={vip}:5060\n\tprotocol=udp\n\tchecktype=on\n\tscheduler=rr\n\
         \tpersistent=300\n\tpe=sip\n\treal={}:5060 gate 1\n\treal={}:5060 gate 1\n",
        t.real_ips[0], t.real_ips[1]
    );
    let lvsd = Lvsd::new(&t.director.name, "pesip", &config);
    lvsd.start();
    let svc = format!("-u {vip}:5060");
    let save = lvsd.ipvsadm("-S -n");
    assert!(
        save.lines()
            .any(|l| l == format!("-A {svc} -s rr -p 300 --pe sip")),
        "the service has its engine:\n{save}"
    );
    assert_eq!(weights(&save, &svc).len(), 2, "{save}");
    let list = lvsd.ipvsadm("-Ln");
    assert!(list.contains("persistent 300 pe sip"), "{list}");
    assert_lists_like_ipvsadm(&lvsd);

    // Persistence by client address alone would send every message of
    // this one client to one real; the engine persists per Call-ID.
    let ids = ["call-a", "call-b", "call-c", "call-d"];
    let got = sip_exchange(&t.client.name, &vip, &ids, 3);
    let mut owner = std::collections::BTreeMap::new();
    for l in &got {
        let (id, name) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad answer {l:?} in {got:?}"));
        assert!(name.starts_with("tprs"), "answered: {got:?}");
        let first = owner.entry(id.to_string()).or_insert(name.to_string());
        assert_eq!(first.as_str(), name, "call {id} stays on one real: {got:?}");
    }
    let reals: std::collections::BTreeSet<&String> = owner.values().collect();
    assert_eq!(
        reals.len(),
        2,
        "calls spread over both reals, each sticking to one: {owner:?}"
    );
    lvsd.stop();
}
