//! One real server (`soak serve NAME IP DIRECTOR_IP DIR`), run in its own
//! namespace: HTTP on :80 (checked by negotiate), a line echo on :7000
//! (checked by connect, and what the client's long-lived connections talk
//! to) and DNS on udp :53 (checked by negotiate). The harness steers it
//! through the file DIR/mode-NAME (`ok`, `slow`, `wrong`), read on every
//! request so a change takes effect at once, and learns from DIR/seen-NAME
//! when the director last checked it (a request from DIRECTOR_IP).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a `slow` answer waits: well past checktimeout/negotiatetimeout
/// (2 s), so a slow real is unambiguously dark to the checker.
const SLOW: Duration = Duration::from_secs(5);

struct Ctx {
    name: String,
    ip: IpAddr,
    director: IpAddr,
    dir: PathBuf,
}

impl Ctx {
    fn mode(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("mode-{}", self.name)))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "ok".into())
    }

    /// A request from the director is a health check: record when (ms since
    /// the epoch), for the "never weighted before it was checked" invariant.
    fn saw(&self, from: IpAddr) {
        if from == self.director {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let tmp = self.dir.join(format!(".seen-{}", self.name));
            if std::fs::write(&tmp, ms.to_string()).is_ok() {
                let _ = std::fs::rename(tmp, self.dir.join(format!("seen-{}", self.name)));
            }
        }
    }
}

pub fn main(args: &[String]) -> i32 {
    let [name, ip, director, dir] = args else {
        eprintln!("usage: soak serve NAME IP DIRECTOR_IP DIR");
        return 2;
    };
    let (Ok(ip), Ok(director)) = (ip.parse::<IpAddr>(), director.parse::<IpAddr>()) else {
        eprintln!("soak serve: bad address");
        return 2;
    };
    let ctx = Arc::new(Ctx {
        name: name.clone(),
        ip,
        director,
        dir: PathBuf::from(dir),
    });
    let http = TcpListener::bind((ip, 80));
    let echo = TcpListener::bind((ip, 7000));
    let dns = UdpSocket::bind((ip, 53));
    let (Ok(http), Ok(echo), Ok(dns)) = (http, echo, dns) else {
        eprintln!("soak serve {name}: cannot bind");
        return 1;
    };
    // The harness waits for this file before it counts the real as back.
    let _ = std::fs::write(
        ctx.dir.join(format!("ready-{name}")),
        std::process::id().to_string(),
    );
    let c = ctx.clone();
    thread::spawn(move || accept(http, c, http_conn));
    let c = ctx.clone();
    thread::spawn(move || accept(echo, c, echo_conn));
    dns_loop(dns, &ctx);
    0
}

fn accept(l: TcpListener, ctx: Arc<Ctx>, f: fn(TcpStream, &Ctx)) {
    for s in l.incoming().flatten() {
        let c = ctx.clone();
        thread::spawn(move || f(s, &c));
    }
}

fn http_conn(mut s: TcpStream, ctx: &Ctx) {
    if let Ok(peer) = s.peer_addr() {
        ctx.saw(peer.ip());
    }
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = match ctx.mode().as_str() {
        "slow" => {
            thread::sleep(SLOW);
            format!("hello from {}\n", ctx.name)
        }
        // Still a 200, but not what `receive=` expects.
        "wrong" => format!("goodbye from {}\n", ctx.name),
        _ => format!("hello from {}\n", ctx.name),
    };
    let _ = write!(
        s,
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// Greets with the server's name, then answers each line with `pong NAME`:
/// the client knows which real holds each of its connections.
fn echo_conn(s: TcpStream, ctx: &Ctx) {
    if let Ok(peer) = s.peer_addr() {
        ctx.saw(peer.ip());
    }
    let Ok(mut w) = s.try_clone() else { return };
    if writeln!(w, "{}", ctx.name).is_err() {
        return;
    }
    for line in BufReader::new(s).lines() {
        if line.is_err() || writeln!(w, "pong {}", ctx.name).is_err() {
            return;
        }
    }
}

fn dns_loop(sock: UdpSocket, ctx: &Arc<Ctx>) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        ctx.saw(from.ip());
        let Some(answer) = dns_answer(&buf[..n], ctx) else {
            continue;
        };
        match ctx.mode().as_str() {
            "slow" => {
                let Ok(s) = sock.try_clone() else { continue };
                thread::spawn(move || {
                    thread::sleep(SLOW);
                    let _ = s.send_to(&answer, from);
                });
            }
            _ => {
                let _ = sock.send_to(&answer, from);
            }
        }
    }
}

/// An answer to a one-question query: the question echoed, one A record
/// (a pointer to the question's name) holding the real's own address, or
/// 127.0.0.9 in `wrong` mode (the check's `receive=` wants 10.91.x).
fn dns_answer(q: &[u8], ctx: &Ctx) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut end = 12;
    while *q.get(end)? != 0 {
        end += 1 + *q.get(end)? as usize;
    }
    let end = end + 5; // the root label, QTYPE, QCLASS
    let question = q.get(12..end)?;
    let addr = match (ctx.mode().as_str(), ctx.ip) {
        ("wrong", _) => [127, 0, 0, 9],
        (_, IpAddr::V4(v4)) => v4.octets(),
        _ => return None,
    };
    let mut a = Vec::with_capacity(end + 16);
    a.extend_from_slice(&q[0..2]);
    a.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    a.extend_from_slice(question);
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
    a.extend_from_slice(&addr);
    Some(a)
}

/// The `seen-NAME` time (ms since the epoch), 0 if never.
pub fn seen(dir: &Path, name: &str) -> u128 {
    std::fs::read_to_string(dir.join(format!("seen-{name}")))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}
