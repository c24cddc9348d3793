//! The datagram socket under the [`Client`](super::socket::Client): a
//! generic netlink socket opened with receive and send timeouts, its
//! receive buffer sized for the kernel's datagrams, and each read and write
//! retried across `EINTR` within the timeout. No netlink framing here.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tracing::debug;

use crate::ipvs::error::{IpvsError, Op};

/// The receive buffer, by page size ([`recv_buf_len`]). The kernel sizes
/// each dump datagram after the largest buffer the socket has read with (up
/// to 32 KiB, never below `NLMSG_GOODSIZE`), and Debian's kernel zeroes
/// every allocation (`init_on_alloc`). A datagram holds at most that size,
/// so the buffer never has to be larger than the one it was read with; it
/// only has to hold `NLMSG_GOODSIZE` (doit replies, the smallest dump
/// datagram), which is `min(page size, 8 KiB)` less the skb overhead.
///
/// - 4 KiB pages: `NLMSG_GOODSIZE` is under 4 KiB, so any buffer of 4 KiB or
///   more is safe. 7.5 KiB plus the skb's ~320-byte tail fits the kernel's
///   8 KiB slab; 8 KiB spilled into a 16 KiB page allocation cleared on
///   every datagram, twice per service in a listing (a tenth of
///   `lvsd list -n`'s time on 1,000 services, perf in the IPVS VM).
/// - Larger pages: `NLMSG_GOODSIZE` is just under 8 KiB, so 8 KiB.
///
/// A truncated datagram would fail to parse, never pass silently.
const RECV_BUF_SMALL_PAGES: usize = 7680;
const RECV_BUF: usize = 8192;

pub(super) fn recv_buf_len(page_size: Option<usize>) -> usize {
    match page_size {
        Some(p) if p <= 4096 => RECV_BUF_SMALL_PAGES,
        _ => RECV_BUF,
    }
}

pub(super) fn page_size() -> Option<usize> {
    use nix::unistd::{sysconf, SysconfVar};
    sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
}

/// A generic netlink socket with receive and send timeouts. Not bound: the
/// kernel binds it on the first send.
pub(super) fn open_socket(timeout: Duration) -> std::io::Result<Socket> {
    let sock = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::from(libc::SOCK_RAW),
        Some(Protocol::from(libc::NETLINK_GENERIC)),
    )?;
    sock.set_read_timeout(Some(timeout))?;
    sock.set_write_timeout(Some(timeout))?;
    Ok(sock)
}

/// One datagram; a receive timeout becomes [`IpvsError::Timeout`].
pub(super) fn recv_into(
    sock: &Socket,
    buf: &mut [u8],
    op: Op,
    timeout: Duration,
) -> Result<usize, IpvsError> {
    let mut s = sock;
    retry_interrupted(sock, op, timeout, Direction::Recv, || s.read(buf))
}

/// Which of the socket's timeouts a retry shortens.
#[derive(Clone, Copy)]
pub(super) enum Direction {
    Send,
    Recv,
}

/// Runs one socket call, again after each `EINTR`. With `SO_RCVTIMEO` or
/// `SO_SNDTIMEO` set the kernel never restarts the call after a signal
/// (signal(7)), so a SIGHUP arriving during a dump would fail the pass. The
/// wait stays bounded by `timeout` from the first try: each retry gets the
/// time left as its timeout, so a storm of signals cannot extend it.
pub(super) fn retry_interrupted<T>(
    sock: &Socket,
    op: Op,
    timeout: Duration,
    dir: Direction,
    mut call: impl FnMut() -> std::io::Result<T>,
) -> Result<T, IpvsError> {
    let set = |t: Duration| match dir {
        Direction::Send => sock.set_write_timeout(Some(t)),
        Direction::Recv => sock.set_read_timeout(Some(t)),
    };
    let deadline = Instant::now() + timeout;
    let mut shortened = false;
    let result = loop {
        match call() {
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                let left = deadline.saturating_duration_since(Instant::now());
                // A zero timeout means "wait forever" to the kernel.
                if left < Duration::from_millis(1) {
                    break Err(IpvsError::Timeout {
                        op,
                        secs: timeout.as_secs(),
                    });
                }
                debug!(?left, "netlink call interrupted by a signal; retrying");
                if let Err(e) = set(left) {
                    break Err(IpvsError::Socket { op, source: e });
                }
                shortened = true;
            }
            r => break r.map_err(|e| io_error(op, e, timeout)),
        }
    };
    if shortened {
        set(timeout).map_err(|source| IpvsError::Socket { op, source })?;
    }
    result
}

fn io_error(op: Op, e: std::io::Error, timeout: Duration) -> IpvsError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => IpvsError::Timeout {
            op,
            secs: timeout.as_secs(),
        },
        _ => IpvsError::Socket { op, source: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_receive_buffer_holds_nlmsg_goodsize_on_every_page_size() {
        // 4 KiB pages: NLMSG_GOODSIZE < 4096, the smaller buffer suffices.
        assert_eq!(recv_buf_len(Some(4096)), 7680);
        // 16 and 64 KiB pages: NLMSG_GOODSIZE is just under 8 KiB.
        assert_eq!(recv_buf_len(Some(16384)), 8192);
        assert_eq!(recv_buf_len(Some(65536)), 8192);
        // Unknown: the size that is safe everywhere.
        assert_eq!(recv_buf_len(None), 8192);
        assert!(page_size().is_some());
    }

    /// The host kernel's netlink is real even without IPVS: a socket nobody
    /// answers must give a Timeout after the configured time, not hang.
    #[test]
    fn a_silent_kernel_gives_a_timeout_error() {
        let t = Duration::from_millis(200);
        let sock = open_socket(t).unwrap();
        let start = Instant::now();
        let mut buf = vec![0u8; 1024];
        let e = recv_into(&sock, &mut buf, Op::ListServices, t).unwrap_err();
        assert!(
            matches!(
                e,
                IpvsError::Timeout {
                    op: Op::ListServices,
                    ..
                }
            ),
            "{e}"
        );
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(150),
            "returned after {waited:?}"
        );
        assert!(waited < Duration::from_secs(5), "took {waited:?}");
    }

    /// A handler for SIGUSR2, installed once for the process (by tokio,
    /// since this crate forbids `unsafe`). Its flags do not matter: the
    /// kernel never restarts a recv on a socket with a timeout (signal(7)),
    /// so each signal makes the blocked recv fail EINTR.
    fn interrupting_handler() -> nix::sys::signal::Signal {
        static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        INSTALLED.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            let _guard = rt.enter();
            // The handler stays after the stream is gone.
            drop(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())
                    .unwrap(),
            );
        });
        nix::sys::signal::Signal::SIGUSR2
    }

    /// Signals the receiving thread until it returns; how many were sent.
    fn storm(
        rx: std::thread::JoinHandle<Result<usize, IpvsError>>,
        thread: nix::sys::pthread::Pthread,
        until_sent: usize,
        then: impl FnOnce(),
    ) -> (Result<usize, IpvsError>, usize) {
        let sig = interrupting_handler();
        let mut sent = 0;
        let mut then = Some(then);
        while !rx.is_finished() {
            if nix::sys::pthread::pthread_kill(thread, sig).is_ok() {
                sent += 1;
            }
            if sent == until_sent {
                if let Some(f) = then.take() {
                    f();
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (rx.join().unwrap(), sent)
    }

    fn receiver(
        sock: Socket,
        t: Duration,
    ) -> (
        std::thread::JoinHandle<Result<usize, IpvsError>>,
        nix::sys::pthread::Pthread,
    ) {
        let (tx, id) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            tx.send(nix::sys::pthread::pthread_self()).unwrap();
            let mut buf = vec![0u8; 64];
            recv_into(&sock, &mut buf, Op::ListServices, t)
        });
        (h, id.recv().unwrap())
    }

    #[test]
    fn a_signal_during_recv_is_retried_not_an_error() {
        let t = Duration::from_secs(30);
        let (a, b) = Socket::pair(Domain::UNIX, Type::DGRAM, None).unwrap();
        a.set_read_timeout(Some(t)).unwrap();
        let (rx, thread) = receiver(a, t);
        // Twenty signals hit the blocked recv, then the datagram comes.
        let (res, sent) = storm(rx, thread, 20, || {
            b.send(b"reply").unwrap();
        });
        assert!(sent >= 20, "{sent}");
        assert_eq!(res.unwrap(), 5);
    }

    #[test]
    fn a_stream_of_signals_does_not_extend_the_timeout_forever() {
        let t = Duration::from_millis(300);
        let (a, _b) = Socket::pair(Domain::UNIX, Type::DGRAM, None).unwrap();
        a.set_read_timeout(Some(t)).unwrap();
        let (rx, thread) = receiver(a, t);
        // Signals keep coming until the recv gives up: it must, with a
        // timeout (each retry restarting the full timeout would never end).
        let (res, _) = storm(rx, thread, usize::MAX, || {});
        assert!(matches!(res, Err(IpvsError::Timeout { .. })), "{res:?}");
    }
}
