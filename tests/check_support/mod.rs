//! Shared by the `check_*` host tests: probe builders, commands that must
//! succeed, a black-hole network namespace, and hostile TCP backends.
//!
//! A missing prerequisite (a server binary, `ip`, `nft`) panics with a
//! message naming it: these tests fail loudly, they never skip.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvsd::check::spec::{Protocol, VirtualService};
use lvsd::check::{run_once, CheckKind, Outcome, Probe, Prober, Target, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A probe of `addr` with both timeouts set to `timeout`.
pub fn probe(addr: SocketAddr, kind: CheckKind, timeout: Duration) -> Probe {
    Probe {
        target: Target {
            addr,
            real_port: addr.port(),
            protocol: Protocol::Tcp,
            virtual_service: VirtualService::Addr(SocketAddr::from(([192, 0, 2, 10], 80))),
        },
        kind,
        timeouts: Timeouts {
            check: timeout,
            negotiate: timeout,
        },
        check_count: 1,
    }
}

/// Runs `probe` once and returns the outcome and how long it took.
pub async fn run(prober: &Prober, probe: &Probe) -> (Outcome, Duration) {
    let t0 = Instant::now();
    let outcome = run_once(prober, probe).await;
    (outcome, t0.elapsed())
}

/// Asserts Up, showing the reason otherwise.
pub fn assert_up(outcome: &Outcome, what: &str) {
    assert!(outcome.is_up(), "{what}: expected up, got {outcome}");
}

/// Asserts Down with a reason containing `needle` (case-insensitive).
pub fn assert_down(outcome: &Outcome, needle: &str, what: &str) {
    match outcome {
        Outcome::Up => panic!("{what}: expected down ({needle}), got up"),
        Outcome::Down(f) => assert!(
            f.to_string()
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{what}: expected a reason containing {needle:?}, got {f}"
        ),
    }
}

/// Asserts the probe ended within its deadline plus a generous margin (the
/// machine is shared and loaded).
pub fn assert_within(elapsed: Duration, deadline: Duration, what: &str) {
    let margin = Duration::from_secs(3);
    assert!(
        elapsed <= deadline + margin,
        "{what}: took {elapsed:?}, deadline {deadline:?}"
    );
}

/// Runs a command that must succeed; panics with its output otherwise.
pub fn must(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (is it installed? see integration/deps.txt): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {} failed: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The path of a server binary, or a loud failure naming its package.
pub fn binary(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.exists(),
        "{path} is missing: install Debian's {package} (integration/install-deps)"
    );
    p
}

/// A free TCP port on loopback (racy in principle; the kernel rarely hands
/// the same ephemeral port out twice in a row).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr").port()
}

/// Waits until `addr` accepts TCP connections, or panics naming `what`.
pub fn wait_listening(addr: SocketAddr, what: &str, child: Option<&mut Child>) {
    let t0 = Instant::now();
    let mut child = child;
    while t0.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Some(c) = child.as_deref_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("{what} exited ({status}) before listening on {addr}");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {addr} within 30 s");
}

/// A child process killed (with its process group) when dropped.
pub struct Daemon {
    pub child: Child,
    pub name: String,
    stopped: bool,
}

impl Daemon {
    pub fn spawn(name: &str, command: &mut Command) -> Daemon {
        use std::os::unix::process::CommandExt;
        let child = command
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            child,
            name: name.to_owned(),
            stopped: false,
        }
    }

    /// Kills the daemon's whole process group (servers fork workers).
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A network namespace reached over a veth pair whose inbound traffic is
/// silently dropped (nft policy drop): connects and pings to its addresses
/// hang until the caller gives up, as a dead host behind a firewall would.
pub struct BlackHole {
    ns: String,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
}

impl BlackHole {
    /// `tag` (0..=63) keeps the subnets of different test binaries apart.
    pub fn new(tag: u8) -> BlackHole {
        let pid = std::process::id();
        let ns = format!("lvsdbh{tag}-{pid}");
        let host = format!("bh{tag}h{}", pid % 100_000);
        let peer = format!("bh{tag}n{}", pid % 100_000);
        let (a, b) = (200 + tag % 50, (pid % 250) as u8);
        let v4 = Ipv4Addr::new(10, a, b, 2);
        let v6: Ipv6Addr = format!("fd00:1d5:{a:x}:{b:x}::2")
            .parse()
            .expect("v6 literal");
        let hole = BlackHole {
            ns: ns.clone(),
            v4,
            v6,
        };
        must("ip", &["netns", "add", &ns]);
        must(
            "ip",
            &["link", "add", &host, "type", "veth", "peer", "name", &peer],
        );
        must("ip", &["link", "set", &peer, "netns", &ns]);
        must(
            "ip",
            &["addr", "add", &format!("10.{a}.{b}.1/30"), "dev", &host],
        );
        must(
            "ip",
            &[
                "addr",
                "add",
                &format!("fd00:1d5:{a:x}:{b:x}::1/64"),
                "dev",
                &host,
                "nodad",
            ],
        );
        must("ip", &["link", "set", &host, "up"]);
        must(
            "ip",
            &["-n", &ns, "addr", "add", &format!("{v4}/30"), "dev", &peer],
        );
        must(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                &peer,
                "nodad",
            ],
        );
        must("ip", &["-n", &ns, "link", "set", &peer, "up"]);
        let nft = |args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.as_str(), "nft"];
            all.extend_from_slice(args);
            must("ip", &all);
        };
        nft(&["add", "table", "inet", "bh"]);
        nft(&["add chain inet bh in { type filter hook input priority 0 ; policy drop ; }"]);
        // Neighbour discovery must pass, or IPv6 fails fast instead of hanging.
        nft(&[
            "add rule inet bh in icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
        ]);
        hole
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// What a hostile TCP backend does after accepting.
#[derive(Clone, Copy, Debug)]
pub enum Hostile {
    /// Accepts and never says anything.
    Silent,
    /// Sends `bytes`, one byte a second, forever.
    Trickle(&'static [u8]),
    /// Sends `head` then an endless stream of `x`.
    Endless(&'static [u8]),
    /// Sends random-looking garbage and closes.
    Garbage,
}

/// Starts a hostile backend on loopback; it lives as long as the runtime.
pub async fn hostile(kind: Hostile) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                // Let a client that speaks first (HTTP) send its request,
                // so the answer is a response, not an unsolicited message.
                if !matches!(kind, Hostile::Silent) {
                    let _ = tokio::time::timeout(Duration::from_millis(300), sock.read(&mut sink))
                        .await;
                }
                match kind {
                    Hostile::Silent => {
                        // Read and ignore whatever comes, never answer.
                        while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
                    }
                    Hostile::Trickle(bytes) => {
                        for b in bytes.iter().cycle() {
                            if sock.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    Hostile::Endless(head) => {
                        if sock.write_all(head).await.is_err() {
                            return;
                        }
                        let chunk = vec![b'x'; 64 * 1024];
                        while sock.write_all(&chunk).await.is_ok() {}
                    }
                    Hostile::Garbage => {
                        let junk: Vec<u8> = (0..4096u32)
                            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                            .collect();
                        let _ = sock.write_all(&junk).await;
                    }
                }
            });
        }
    });
    addr
}

/// A closed loopback port: bound then released.
pub fn closed_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port())
}

/// This process's resident set size, in KiB (for bounded-memory checks).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A temporary directory for a server's files.
pub fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temp dir")
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

/// A CA and a server certificate for www.example.test signed by it.
pub fn certificates(dir: &Path) {
    let d = |f: &str| dir.join(f).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=lvsd test CA"];
    ca.extend(ec);
    let (ca_key, ca_crt) = (d("ca.key"), d("ca.crt"));
    ca.extend(["-keyout", &ca_key, "-out", &ca_crt]);
    must("openssl", &ca);
    let mut csr = vec!["req", "-subj", "/CN=www.example.test"];
    csr.extend(ec);
    let (srv_key, srv_csr, srv_crt) = (d("srv.key"), d("srv.csr"), d("srv.crt"));
    csr.extend(["-keyout", &srv_key, "-out", &srv_csr]);
    must("openssl", &csr);
    let ext = write(dir, "ext", "subjectAltName=DNS:www.example.test\n");
    let ext = ext.display().to_string();
    must(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &srv_csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &srv_crt,
            "-extfile",
            &ext,
        ],
    );
}

/// `login=`, `passwd=`, `database=` as a check takes them.
pub fn creds(login: &str, password: &str, database: &str) -> lvsd::check::spec::Credentials {
    lvsd::check::spec::Credentials {
        login: login.into(),
        password: password.into(),
        database: database.into(),
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Runs every `(what, probe)` at once (each waits out its deadline, so in
/// sequence this would take minutes) and asserts each ends Down within
/// `deadline` plus the usual margin.
pub async fn assert_all_down_within(
    prober: std::sync::Arc<Prober>,
    cases: Vec<(String, Probe)>,
    deadline: Duration,
) {
    let mut set = tokio::task::JoinSet::new();
    for (what, probe) in cases {
        let p = prober.clone();
        set.spawn(async move {
            let (o, took) = run(&p, &probe).await;
            assert_down(&o, "", &what);
            assert_within(took, deadline, &what);
        });
    }
    while let Some(case) = set.join_next().await {
        case.expect("case panicked");
    }
}
