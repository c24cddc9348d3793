//! `service=sip`, as ldirectord's check: send an OPTIONS request for
//! `sip:login` over the virtual's transport (UDP, or TCP otherwise) and call
//! the server up iff the status line starts with `SIP/2.0 200 OK`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::line::{lossy, Conn};
use super::Outcome;

/// The largest datagram read; SIP over UDP must fit in one.
const DATAGRAM_LIMIT: usize = 65_535;

pub(crate) async fn check(addr: SocketAddr, udp: bool, login: &str) -> Outcome {
    let transport = if udp { "UDP" } else { "TCP" };
    let tried = format!("SIP OPTIONS sip:{login} to {addr} over {transport}");
    let status = if udp {
        over_udp(addr, login).await
    } else {
        over_tcp(addr, login).await
    };
    judge(tried, status)
}

/// Up iff the status line is `SIP/2.0 200 OK`.
fn judge(tried: String, status: Result<String, String>) -> Outcome {
    match status {
        Ok(line) if line.starts_with("SIP/2.0 200 OK") => Outcome::Up,
        Ok(line) => Outcome::down(tried, format_args!("status {line:?}")),
        Err(e) => Outcome::down(tried, e),
    }
}

/// The status line of a reply datagram.
fn status_line(datagram: &[u8]) -> String {
    lossy(datagram).lines().next().unwrap_or("").to_owned()
}

/// A reply datagram on arbitrary bytes, for `fuzz/` only: never a panic,
/// and a reply is Up exactly when its first line starts with the 200 OK.
pub(crate) fn fuzz_reply(datagram: &[u8]) {
    let line = status_line(datagram);
    assert!(!line.contains('\n'));
    let up = judge(String::new(), Ok(line)).is_up();
    let first = datagram.split(|&b| b == b'\n').next().unwrap_or_default();
    assert_eq!(up, first.starts_with(b"SIP/2.0 200 OK"), "{first:?}");
}

fn options(login: &str, transport: &str, local: SocketAddr) -> String {
    static CALL: AtomicU64 = AtomicU64::new(0);
    let n = CALL.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!(
        "OPTIONS sip:{login} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{pid:x}.{n:x}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{login}>\r\n\
         From: <sip:{login}>;tag={n:x}\r\n\
         Call-ID: {pid:x}.{n:x}@lvsd\r\n\
         CSeq: 63104 OPTIONS\r\n\
         Contact: <sip:{login}>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Returns the reply's status line.
async fn over_udp(addr: SocketAddr, login: &str) -> Result<String, String> {
    let socket = super::io::udp_connected(addr).await?;
    let local = socket
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    socket
        .send(options(login, "UDP", local).as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; DATAGRAM_LIMIT];
    let n = socket
        .recv(&mut buf)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    Ok(status_line(&buf[..n]))
}

async fn over_tcp(addr: SocketAddr, login: &str) -> Result<String, String> {
    let mut c = Conn::open(addr, false).await?;
    let local = c.local_addr();
    c.send(options(login, "TCP", local).as_bytes()).await?;
    c.line().await
}
