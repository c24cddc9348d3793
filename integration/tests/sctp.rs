//! `checktype=connect` on an SCTP virtual: lvsd must open an SCTP
//! association with each real (not a TCP connection), and SCTP traffic
//! through the VIP reaches the real that passed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lvsd_integration::director::{wait_for, weights, Lvsd};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{require_vm, sh_output};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
const DETECT: Duration = Duration::from_secs(20);

/// A python SCTP server in a namespace: greets each association with
/// `hello from NAME` and closes it. Killed on drop.
struct SctpServer(Child);

impl SctpServer {
    fn start(ns: &str, ip: &str, port: u16, name: &str) -> SctpServer {
        let script = format!(
            r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{ip}", {port}))
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"hello from {name}\n")
    except OSError:
        pass
    c.close()
"#
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SCTP server in {ns}: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        assert_eq!(line.trim(), "ready", "SCTP server {name} did not start");
        SctpServer(child)
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for SctpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One SCTP association from `ns` to `ip:port`: the greeting, or why not.
fn sctp_fetch(ns: &str, ip: &str, port: u16) -> String {
    let script = format!(
        r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
s.settimeout(10)
try:
    s.connect(("{ip}", {port}))
    print(s.recv(100).decode(errors="replace").strip())
except OSError as e:
    print("failed:", e)
"#
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 in {ns}: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

#[test]
fn sctp_connect_check_uses_an_sctp_association() {
    require_vm();
    // SCTP is a module in the VM's kernel; loading it here keeps CI's boot
    // flags as they are. A failure shows up below, as a server that cannot start.
    let _ = sh_output("modprobe sctp");
    // Each real also runs busybox httpd on TCP port 80: a TCP connect
    // check would call both of them up.
    let t = Topology::new("sc", Mode::Nat, 2, 110);
    let vip = t.vip.clone();
    let (rs1, rs2) = (t.real_ips[0].clone(), t.real_ips[1].clone());
    let mut server = SctpServer::start(&t.reals[0].name, &rs1, 80, "scrs1");
    let svc = format!("--sctp-service {vip}:80");
    let config = format!(
        "checkinterval=1\nchecktimeout=2\nquiescent=no\n\
         virtual={vip}:80\n\tprotocol=sctp\n\tchecktype=connect\n\tscheduler=rr\n\
         \treal={rs1}:80 masq 1\n\treal={rs2}:80 masq 1\n"
    );
    let lvsd = Lvsd::new(&t.director.name, "sctp", &config);
    lvsd.start();

    // Only the real with an SCTP listener gets weight; rs2 (TCP only) stays out.
    let (w, _) = wait_for(
        "rs1 up over SCTP",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| w.iter().any(|(a, _)| *a == format!("{rs1}:80")),
    );
    assert_eq!(w, vec![(format!("{rs1}:80"), 1)], "only rs1 has weight");
    let (code, text) = lvsd.action("status");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("{rs2}:80")) && l.contains("SCTP association")),
        "rs2 is down because of the SCTP association:\n{text}"
    );

    // Real traffic: an SCTP association through the VIP is served by rs1.
    for _ in 0..3 {
        assert_eq!(sctp_fetch(&t.client.name, &vip, 80), "hello from scrs1");
    }

    // The listener goes away: rs1 is removed.
    server.stop();
    wait_for(
        "rs1 removed",
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), &svc),
        |w| w.is_empty(),
    );
    lvsd.stop();
}
