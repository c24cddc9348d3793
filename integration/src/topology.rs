//! Small networks of namespaces for end-to-end tests: a client, a director
//! and real servers answering HTTP, wired for NAT (masq) or direct routing
//! (gate). Every real server runs busybox httpd with a CGI that names the
//! server and the client address it saw, so tests can tell who answered.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{sh, sh_output, Netns};

/// One HTTP server in a namespace, stopped on drop.
pub struct Httpd {
    child: Option<Child>,
    pub ns: String,
    pub ip: String,
    pub port: u16,
    pub name: String,
}

impl Httpd {
    /// Starts `busybox httpd` on `ip:port` inside `ns`, answering
    /// `/cgi-bin/who` with `server=NAME client=ADDR`.
    pub fn start(ns: &str, ip: &str, port: u16, name: &str) -> Httpd {
        let root = format!("/tmp/www-{name}");
        fs::create_dir_all(format!("{root}/cgi-bin")).expect("create web root");
        fs::write(
            format!("{root}/cgi-bin/who"),
            format!(
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"server={name} client=$REMOTE_ADDR\"\n"
            ),
        )
        .expect("write CGI");
        sh(&format!("chmod 755 {root}/cgi-bin/who"));
        fs::write(format!("{root}/index.html"), format!("hello from {name}\n")).expect("index");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "busybox", "httpd", "-f"])
            .arg("-p")
            .arg(format!("{ip}:{port}"))
            .arg("-h")
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start busybox httpd in {ns}: {e}"));
        let h = Httpd {
            child: Some(child),
            ns: ns.to_string(),
            ip: ip.to_string(),
            port,
            name: name.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(ns, ip, port, "/cgi-bin/who").is_none() {
            assert!(
                Instant::now() < deadline,
                "httpd {name} on {ip}:{port} never answered"
            );
            sleep(Duration::from_millis(100));
        }
        h
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again after `stop`.
    pub fn restart(&mut self) {
        self.stop();
        *self = Httpd::start(&self.ns, &self.ip, self.port, &self.name);
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One fresh TCP connection from `ns` to `ip:port`, HTTP/1.0 GET `path`.
/// Returns the body of a 200 answer, `None` on any failure.
pub fn http_get(ns: &str, ip: &str, port: u16, path: &str) -> Option<String> {
    let out = sh_output(&format!(
        "printf 'GET {path} HTTP/1.0\\r\\nHost: {ip}\\r\\n\\r\\n' | ip netns exec {ns} busybox nc -w 5 {ip} {port}"
    ));
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    if !text.starts_with("HTTP/1.0 200") && !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    text.split_once("\n\n").map(|(_, body)| body.to_string())
}

/// The server name in a `/cgi-bin/who` answer.
pub fn server_of(body: &str) -> Option<String> {
    body.split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
        .map(str::to_string)
}

fn veth(ns_a: &str, a: &str, ns_b: &str, b: &str) {
    sh(&format!(
        "ip link add {a} netns {ns_a} type veth peer name {b} netns {ns_b} && ip -n {ns_a} link set {a} up && ip -n {ns_b} link set {b} up"
    ));
}

/// How the director forwards to the real servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Client and reals on different networks; the director rewrites
    /// addresses and is the reals' default gateway.
    Nat,
    /// One L2 segment; the VIP also sits on each real's `lo` with ARP
    /// suppressed; replies bypass the director.
    Dr,
}

/// A client, a director and N real servers running HTTP.
///
/// NAT: client 10.{net}.0.2 (+ .3 .. .9 as extra source addresses) — director
/// 10.{net}.0.1 with the VIP 10.{net}.0.100; reals 10.{net+1}.0.11.. behind
/// the director's bridge at 10.{net+1}.0.1.
/// DR: everyone on 10.{net}.0.0/24 through a switch namespace; reals
/// 10.{net}.0.11..; VIP 10.{net}.0.100 on the director and on the reals' lo.
pub struct Topology {
    pub mode: Mode,
    pub client: Netns,
    pub director: Netns,
    pub reals: Vec<Netns>,
    pub httpds: Vec<Httpd>,
    pub vip: String,
    pub real_ips: Vec<String>,
    pub client_ips: Vec<String>,
    _switch: Option<Netns>,
}

impl Topology {
    pub fn new(prefix: &str, mode: Mode, n_reals: usize, net: u8) -> Topology {
        let client = Netns::new(&format!("{prefix}cl"));
        let director = Netns::new(&format!("{prefix}lb"));
        let reals: Vec<Netns> = (1..=n_reals)
            .map(|i| Netns::new(&format!("{prefix}rs{i}")))
            .collect();
        let vip = format!("10.{net}.0.100");
        let client_ips: Vec<String> = (2..=9).map(|i| format!("10.{net}.0.{i}")).collect();
        let (real_ips, switch) = match mode {
            Mode::Nat => {
                let back = net + 1;
                veth(&client.name, "eth0", &director.name, "eth0");
                for ip in &client_ips {
                    sh(&format!("ip -n {} addr add {ip}/24 dev eth0", client.name));
                }
                director.sh(&format!(
                    "ip addr add 10.{net}.0.1/24 dev eth0 && ip addr add {vip}/32 dev eth0 \
                     && ip link add br0 type bridge && ip addr add 10.{back}.0.1/24 dev br0 \
                     && ip link set br0 up && sysctl -qw net.ipv4.ip_forward=1"
                ));
                let mut ips = Vec::new();
                for (i, rs) in reals.iter().enumerate() {
                    let ip = format!("10.{back}.0.{}", 11 + i);
                    veth(&rs.name, "eth0", &director.name, &format!("p{i}"));
                    director.sh(&format!("ip link set p{i} master br0"));
                    rs.sh(&format!(
                        "ip addr add {ip}/24 dev eth0 && ip route add default via 10.{back}.0.1"
                    ));
                    ips.push(ip);
                }
                (ips, None)
            }
            Mode::Dr => {
                let sw = Netns::new(&format!("{prefix}sw"));
                sw.sh("ip link add br0 type bridge && ip link set br0 up");
                let mut port = 0;
                let mut plug = |ns: &Netns| {
                    port += 1;
                    veth(&ns.name, "eth0", &sw.name, &format!("s{port}"));
                    sw.sh(&format!("ip link set s{port} master br0"));
                };
                plug(&client);
                plug(&director);
                for rs in &reals {
                    plug(rs);
                }
                for ip in &client_ips {
                    sh(&format!("ip -n {} addr add {ip}/24 dev eth0", client.name));
                }
                director.sh(&format!(
                    "ip addr add 10.{net}.0.1/24 dev eth0 && ip addr add {vip}/32 dev eth0"
                ));
                let mut ips = Vec::new();
                for (i, rs) in reals.iter().enumerate() {
                    let ip = format!("10.{net}.0.{}", 11 + i);
                    rs.sh(&format!(
                        "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
                         net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
                         && ip addr add {ip}/24 dev eth0 && ip addr add {vip}/32 dev lo"
                    ));
                    ips.push(ip);
                }
                (ips, Some(sw))
            }
        };
        let httpds = reals
            .iter()
            .enumerate()
            .map(|(i, rs)| {
                // DR reals must answer on the VIP too, so they listen on all addresses.
                let listen = match mode {
                    Mode::Nat => real_ips[i].clone(),
                    Mode::Dr => "0.0.0.0".to_string(),
                };
                Httpd::start(&rs.name, &listen, 80, &format!("{prefix}rs{}", i + 1))
            })
            .collect();
        Topology {
            mode,
            client,
            director,
            reals,
            httpds,
            vip,
            real_ips,
            client_ips,
            _switch: switch,
        }
    }

    /// `n` fresh connections from the client to the VIP; the answering
    /// server's name per request (`None` where a request failed).
    pub fn fetch(&self, n: usize, src: Option<&str>) -> Vec<Option<String>> {
        match src {
            None => (0..n)
                .map(|_| {
                    http_get(&self.client.name, &self.vip, 80, "/cgi-bin/who")
                        .and_then(|b| server_of(&b))
                })
                .collect(),
            Some(src) => fetch_from(&self.client.name, src, &self.vip, n),
        }
    }
}

/// `n` requests from a chosen source address (busybox nc cannot bind one),
/// in one python process so the VM pays for one start-up.
fn fetch_from(ns: &str, src: &str, vip: &str, n: usize) -> Vec<Option<String>> {
    let script = format!(
        r#"
import socket
for _ in range({n}):
    try:
        s = socket.create_connection(("{vip}", 80), timeout=5, source_address=("{src}", 0))
        s.sendall(b"GET /cgi-bin/who HTTP/1.0\r\nHost: {vip}\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        body = data.decode(errors="replace").split("\r\n\r\n", 1)
        ok = data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
        print(body[1].strip() if ok and len(body) == 2 else "failed")
    except OSError:
        print("failed")
"#
    );
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 in {ns}: {e}"));
    let got: Vec<Option<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(server_of)
        .collect();
    assert_eq!(
        got.len(),
        n,
        "python client in {ns} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    got
}
