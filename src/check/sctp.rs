//! `checktype=connect` on an SCTP virtual: an SCTP association (INIT,
//! INIT-ACK, COOKIE-ECHO, COOKIE-ACK) with the real server, closed at once.
//!
//! A TCP connect proves nothing about an SCTP service: the real may serve
//! SCTP and refuse TCP, or the reverse. tokio has no SCTP type, so the
//! socket is a `socket2` one-to-one (`SOCK_STREAM`) SCTP socket watched by
//! [`AsyncFd`]; the engine's deadline bounds the wait (an unanswered INIT is
//! retransmitted by the kernel for far longer than any checktimeout).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::spec::Probe;
use super::Outcome;

/// IANA protocol number of SCTP (`IPPROTO_SCTP`).
const IPPROTO_SCTP: i32 = 132;

pub(crate) async fn check(probe: &Probe) -> Outcome {
    let addr = probe.addr();
    let tried = format!("SCTP association with {addr}");
    match associate(addr).await {
        Ok(()) => Outcome::Up,
        Err(e) if unsupported(&e) => Outcome::down(tried, "SCTP is not available in this kernel"),
        Err(e) => Outcome::down(tried, e),
    }
}

/// The kernel has no SCTP (module not loaded or not built): socket(2)
/// says so with one of these.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT | libc::EAFNOSUPPORT)
    )
}

/// Opens one association and drops it (the close sends SHUTDOWN, or ABORT
/// if the future is dropped mid-handshake; either releases the socket).
async fn associate(addr: SocketAddr) -> io::Result<()> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(Protocol::from(IPPROTO_SCTP)),
    )?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // Deprecated (tokio#8587) because a generic `T: AsRawFd` may close
    // its fd while registered; `AsyncFd` owns this `Socket` outright and
    // deregisters before dropping it, so that cannot happen here (the safe
    // replacement, `register`, is `unsafe` and the crate forbids that).
    #[allow(deprecated)]
    let fd = AsyncFd::new(socket)?;
    // Writable once the handshake ends, either way; SO_ERROR tells which.
    let guard = fd.writable().await?;
    match guard.get_inner().take_error()? {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_sctp_is_recognised() {
        for errno in [libc::EPROTONOSUPPORT, libc::ESOCKTNOSUPPORT] {
            assert!(unsupported(&io::Error::from_raw_os_error(errno)));
        }
        assert!(!unsupported(&io::Error::from_raw_os_error(
            libc::ECONNREFUSED
        )));
    }
}
