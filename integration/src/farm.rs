//! Servers and clients for the protocol matrix (`tests/matrix.rs`): IPv6
//! addresses on a `Topology`, small python TCP servers that name themselves,
//! dnsmasq, freeradius and openssl s_server in real namespaces, and clients
//! that say which real answered through the VIP.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::topology::{Mode, Topology};
use crate::{sh, sh_output};

/// IPv6 addresses on a `Topology`'s links, beside its IPv4 ones.
///
/// NAT: client fd00:N::2, director fd00:N::1 with the VIP fd00:N::100;
/// reals fd00:N+1::11.. behind the director at fd00:N+1::1.
/// DR: everyone on fd00:N::/64; the VIP fd00:N:1::100 is routed by the
/// client to the director and sits on each real's `lo`.
pub struct Six {
    pub vip: String,
    pub real_ips: Vec<String>,
}

impl Six {
    pub fn add(t: &Topology, net: u8) -> Six {
        // nodad: an address is usable at once, not after duplicate detection.
        let add = |ns: &str, a: &str, dev: &str| {
            sh(&format!("ip -n {ns} -6 addr add {a} dev {dev} nodad"));
        };
        add(&t.client.name, &format!("fd00:{net}::2/64"), "eth0");
        add(&t.director.name, &format!("fd00:{net}::1/64"), "eth0");
        let mut real_ips = Vec::new();
        let vip = match t.mode {
            Mode::Nat => {
                let back = net + 1;
                let vip = format!("fd00:{net}::100");
                add(&t.director.name, &format!("{vip}/128"), "eth0");
                add(&t.director.name, &format!("fd00:{back}::1/64"), "br0");
                t.director.sh("sysctl -qw net.ipv6.conf.all.forwarding=1");
                for (i, rs) in t.reals.iter().enumerate() {
                    let ip = format!("fd00:{back}::{}", 11 + i);
                    add(&rs.name, &format!("{ip}/64"), "eth0");
                    rs.sh(&format!("ip -6 route add default via fd00:{back}::1"));
                    real_ips.push(ip);
                }
                vip
            }
            Mode::Dr => {
                let vip = format!("fd00:{net}:1::100");
                add(&t.director.name, &format!("{vip}/128"), "eth0");
                t.client
                    .sh(&format!("ip -6 route add {vip}/128 via fd00:{net}::1"));
                for (i, rs) in t.reals.iter().enumerate() {
                    let ip = format!("fd00:{net}::{}", 11 + i);
                    add(&rs.name, &format!("{ip}/64"), "eth0");
                    add(&rs.name, &format!("{vip}/128"), "lo");
                    real_ips.push(ip);
                }
                vip
            }
        };
        Six { vip, real_ips }
    }
}

/// A TCP server on `ip port` (IPv4 or IPv6; `::` is every v6 address):
/// greets each connection with `server=NAME`, then echoes lines. SIGUSR1
/// closes the listener and keeps the established connections.
const TCP_SERVER: &str = r#"
import signal, socket, sys, threading
ip, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Blocked in every thread, so that only sigwait below takes it.
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((ip, port))
s.listen(64)
def serve(c):
    try:
        c.sendall(f"server={name}\n".encode())
        while True:
            d = c.recv(4096)
            if not d:
                return
            c.sendall(d)
    except OSError:
        pass
def accept():
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
print("ready", flush=True)
signal.sigwait([signal.SIGUSR1])
s.shutdown(socket.SHUT_RDWR)
s.close()
threading.Event().wait()
"#;

/// A server process in a namespace, killed on drop.
pub struct Server {
    child: Option<Child>,
    pub name: String,
}

impl Server {
    /// A `TCP_SERVER` (see there) in `ns`; returns once it listens.
    pub fn tcp(ns: &str, ip: &str, port: u16, name: &str) -> Server {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "/usr/bin/python3", "-c", TCP_SERVER])
            .args([ip, &port.to_string(), name])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the TCP server in {ns}: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        assert_eq!(line.trim(), "ready", "TCP server {name} on {ip}:{port}");
        Server {
            child: Some(child),
            name: name.to_string(),
        }
    }

    /// Any command in `ns` with its output in `log`; ready once `ready`
    /// holds (polled), or panics with the log after 60 s.
    pub fn spawn(ns: &str, name: &str, cmd: &str, log: &str, ready: impl Fn() -> bool) -> Server {
        let _ = std::fs::remove_file(log);
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec ip netns exec {ns} {cmd} >{log} 2>&1"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut s = Server {
            child: Some(child),
            name: name.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready() {
            let exited = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            let text = std::fs::read_to_string(log).unwrap_or_default();
            assert!(exited.is_none(), "{name} exited ({exited:?}):\n{text}");
            assert!(
                Instant::now() < deadline,
                "{name} not ready in 60 s:\n{text}"
            );
            sleep(Duration::from_millis(100));
        }
        s
    }

    /// `kill -SIG` the server (for `TCP_SERVER`, USR1 closes the listener).
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            sh(&format!("kill -{sig} {}", c.id()));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// dnsmasq on `ip:53` in `ns`, answering `www.test` with `answer` only.
pub fn dnsmasq(ns: &str, ip: &str, answer: &str, name: &str) -> Server {
    let cmd = format!(
        "dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
         --user=root --group=root --pid-file=/tmp/{name}.pid --bind-interfaces \
         --listen-address={ip} --port=53 --address=/www.test/{answer} --log-queries \
         --log-facility=-"
    );
    let ready = || dns_query(ns, ip, 1) == vec![Some(answer.to_string())];
    Server::spawn(ns, name, &cmd, &format!("/tmp/{name}.log"), ready)
}

/// freeradius in `ns` on every address, port 1812: it knows the clients
/// 10.0.0.0/8 by `secret` and the user `probe`/`pw`, whose Access-Accept
/// says `Reply-Message = NAME`.
pub fn freeradius(ns: &str, secret: &str, name: &str) -> Server {
    let dir = format!("/tmp/rad-{name}");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("radius dir");
    let conf = format!(
        "prefix = /usr\nexec_prefix = /usr\nsysconfdir = /etc\nlocalstatedir = /var\n\
         sbindir = /usr/sbin\nlogdir = {dir}\nraddbdir = {dir}\nradacctdir = {dir}\n\
         name = freeradius\nconfdir = {dir}\nrun_dir = {dir}\nlibdir = /usr/lib/freeradius\n\
         pidfile = {dir}/radiusd.pid\ncorrect_escapes = true\nmax_request_time = 30\n\
         cleanup_delay = 5\nmax_requests = 1024\nhostname_lookups = no\n\
         log {{\n destination = stderr\n}}\n\
         security {{\n allow_core_dumps = no\n max_attributes = 200\n reject_delay = 0\n status_server = no\n}}\n\
         client lan {{\n ipaddr = 10.0.0.0/8\n secret = {secret}\n}}\n\
         modules {{\n files {{\n  filename = {dir}/users\n }}\n pap {{\n }}\n}}\n\
         server default {{\n listen {{\n  type = auth\n  ipaddr = *\n  port = 1812\n }}\n\
         authorize {{\n  files\n  pap\n }}\n authenticate {{\n  Auth-Type PAP {{\n   pap\n  }}\n }}\n}}\n"
    );
    std::fs::write(format!("{dir}/radiusd.conf"), conf).expect("radiusd.conf");
    std::fs::write(
        format!("{dir}/users"),
        format!("probe Cleartext-Password := \"pw\"\n\tReply-Message := \"{name}\"\n"),
    )
    .expect("users");
    let log = format!("{dir}/log");
    let ready = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Ready to process requests")
    };
    Server::spawn(
        ns,
        name,
        &format!("freeradius -X -d {dir} -n radiusd"),
        &log,
        ready,
    )
}

/// openssl s_server with a fresh self-signed certificate on `ip:443`,
/// serving the files of `root` (`-WWW`).
pub fn tls_server(ns: &str, ip: &str, root: &str, name: &str) -> Server {
    let (key, cert) = (format!("/tmp/{name}.key"), format!("/tmp/{name}.crt"));
    sh(&format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
         -subj /CN={name} -days 2 -keyout {key} -out {cert} 2>/dev/null"
    ));
    let log = format!("/tmp/{name}.log");
    let cmd = format!(
        "sh -c 'cd {root} && exec openssl s_server -quiet -accept {ip}:443 -cert {cert} -key {key} -WWW'"
    );
    let ready = || {
        let out = sh_output(&format!("ip netns exec {ns} ss -Hltn 'sport = :443'"));
        !out.stdout.is_empty()
    };
    Server::spawn(ns, name, &cmd, &log, ready)
}

/// Runs a python client in `ns`: one output line per attempt.
fn python(ns: &str, script: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "/usr/bin/python3", "-c", script])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 in {ns}: {e}"));
    assert!(
        out.status.success(),
        "python client in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn answers(lines: Vec<String>) -> Vec<Option<String>> {
    lines
        .into_iter()
        .map(|l| l.strip_prefix("ok ").map(str::to_string))
        .collect()
}

/// `n` fresh TCP connections to `ip port`: the server name each greeting
/// gives, `None` where one failed.
pub fn tcp_who(ns: &str, ip: &str, port: u16, n: usize) -> Vec<Option<String>> {
    const SCRIPT: &str = r#"
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    try:
        with socket.create_connection((ip, port), timeout=5) as s:
            line = s.makefile().readline().strip()
            print("ok " + line.removeprefix("server=") if line.startswith("server=") else "failed " + line)
    except OSError as e:
        print("failed", e)
"#;
    answers(python(ns, SCRIPT, &[ip, &port.to_string(), &n.to_string()]))
}

/// `n` A queries for `www.test` to `ip:53`, each from a fresh socket (so a
/// fresh IPVS connection): the first address in each answer.
pub fn dns_query(ns: &str, ip: &str, n: usize) -> Vec<Option<String>> {
    const SCRIPT: &str = r#"
import socket, struct, sys
ip, n = sys.argv[1], int(sys.argv[2])
q = b"".join(bytes([len(p)]) + p.encode() for p in "www.test".split(".")) + b"\0"
for i in range(n):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(struct.pack(">HHHHHH", 0x4000 + i, 0x0100, 1, 0, 0, 0) + q + b"\0\1\0\1", (ip, 53))
        r = s.recv(512)
        ancount = struct.unpack(">H", r[6:8])[0]
        print("ok " + socket.inet_ntoa(r[-4:]) if ancount and r[-6:-4] == b"\0\4" else "failed no A")
    except OSError as e:
        print("failed", e)
    s.close()
"#;
    answers(python(ns, SCRIPT, &[ip, &n.to_string()]))
}

/// `n` RADIUS Access-Requests for `probe`/`pw` to `ip:1812`: the
/// Reply-Message of each Access-Accept.
pub fn radius_auth(ns: &str, ip: &str, secret: &str, n: usize) -> Vec<Option<String>> {
    const SCRIPT: &str = r#"
import hashlib, hmac, os, socket, struct, sys
ip, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
def attr(t, v):
    return bytes([t, len(v) + 2]) + v
for i in range(n):
    auth = os.urandom(16)
    pw = b"pw".ljust(16, b"\0")
    hidden = bytes(a ^ b for a, b in zip(pw, hashlib.md5(secret + auth).digest()))
    attrs = attr(1, b"probe") + attr(2, hidden) + attr(80, b"\0" * 16)
    head = lambda a: struct.pack(">BBH", 1, i % 256, 20 + len(a)) + auth + a
    mac = hmac.new(secret, head(attrs), hashlib.md5).digest()
    pkt = head(attrs[:-16] + mac)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(pkt, (ip, 1812))
        r = s.recv(4096)
        if r[0] != 2:
            print("failed code", r[0])
            continue
        a, msg = r[20:], ""
        while len(a) >= 2:
            if a[0] == 18:
                msg = a[2:a[1]].decode()
            a = a[a[1]:]
        print("ok " + msg)
    except OSError as e:
        print("failed", e)
    s.close()
"#;
    answers(python(ns, SCRIPT, &[ip, secret, &n.to_string()]))
}

/// `n` HTTPS GETs of `/index.html` from `ip:443`, certificates unchecked
/// (the reals' are self-signed): each body, trimmed.
pub fn https_get(ns: &str, ip: &str, n: usize) -> Vec<Option<String>> {
    const SCRIPT: &str = r#"
import socket, ssl, sys
ip, n = sys.argv[1], int(sys.argv[2])
ctx = ssl._create_unverified_context()
for _ in range(n):
    try:
        with socket.create_connection((ip, 443), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
        print("ok " + body.strip() if " 200 " in head.split("\r\n")[0] else "failed " + head)
    except (OSError, ssl.SSLError) as e:
        print("failed", e)
"#;
    answers(python(ns, SCRIPT, &[ip, &n.to_string()]))
}

/// One TCP connection held open by a python client: `greeting` names the
/// real; `echo` sends a line and reads it back through the same connection.
pub struct Held {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub greeting: String,
}

impl Held {
    pub fn open(ns: &str, ip: &str, port: u16) -> Held {
        const SCRIPT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
f = s.makefile("rw")
print(f.readline().strip(), flush=True)
for line in sys.stdin:
    try:
        f.write(line)
        f.flush()
        print(f.readline().strip() or "closed", flush=True)
    except OSError as e:
        print("failed", e, flush=True)
"#;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "/usr/bin/python3", "-c", SCRIPT])
            .args([ip, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the held client in {ns}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut greeting = String::new();
        let _ = stdout.read_line(&mut greeting);
        Held {
            child,
            stdin,
            stdout,
            greeting: greeting.trim().trim_start_matches("server=").to_string(),
        }
    }

    pub fn echo(&mut self, text: &str) -> String {
        let _ = writeln!(self.stdin, "{text}");
        let _ = self.stdin.flush();
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line.trim().to_string()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
