//! The IPVS generic netlink client: one socket, one family lookup, requests
//! framed with neli's `Nlmsghdr`, replies parsed by [`super::frame`].
//!
//! The socket itself comes from `socket2` because it sets receive and send
//! timeouts without `unsafe` (neli 0.7's socket has no timeout setter), so a
//! kernel that never answers gives [`IpvsError::Timeout`] instead of a hang.
//!
//! Changes are pipelined: up to [`WINDOW`] requests go out in one `sendmsg`,
//! only the last one asks for an ACK. The kernel handles a datagram's
//! messages in order and reports each failure with its sequence number, so
//! the ACK of the last one proves every earlier one was handled, and every
//! failure is still tied to its change.

use std::io::{Cursor, ErrorKind, Read};
use std::time::{Duration, Instant};

use neli::consts::nl::NlmF;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::types::Buffer;
use neli::ToBytes;
use socket2::{Domain, Protocol, Socket, Type};
use tracing::debug;

use super::attr::{AttrWriter, Attrs};
use super::change::Change;
use super::codec::{self, Request};
use super::consts::{ctrl, GENL_NAME, GENL_VERSION};
use super::error::{DecodeError, Errno, IpvsError, Op, Target};
use super::frame::{frames, Reply};

/// Requests per datagram when applying many changes. Bounds the error
/// replies that can queue up before they are read (each echoes its request),
/// so they fit in the default socket receive buffer.
pub const WINDOW: usize = 64;

/// The receive timeout unless the caller picks another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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

fn recv_buf_len(page_size: Option<usize>) -> usize {
    match page_size {
        Some(p) if p <= 4096 => RECV_BUF_SMALL_PAGES,
        _ => RECV_BUF,
    }
}

fn page_size() -> Option<usize> {
    use nix::unistd::{sysconf, SysconfVar};
    sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
}

/// A connection to the kernel's IPVS.
pub struct Client {
    sock: Socket,
    family: u16,
    seq: u32,
    rbuf: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("family", &self.family)
            .field("seq", &self.seq)
            .finish()
    }
}

fn kernel_error(op: Op, target: &Target, errno: i32) -> IpvsError {
    match Errno::from_raw(errno) {
        Errno::Permission => IpvsError::PermissionDenied { op },
        errno => IpvsError::Kernel {
            op,
            target: target.clone(),
            errno,
        },
    }
}

/// A generic netlink socket with receive and send timeouts. Not bound: the
/// kernel binds it on the first send.
fn open_socket(timeout: Duration) -> std::io::Result<Socket> {
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
fn recv_into(sock: &Socket, buf: &mut [u8], op: Op, timeout: Duration) -> Result<usize, IpvsError> {
    let mut s = sock;
    retry_interrupted(sock, op, timeout, Direction::Recv, || s.read(buf))
}

/// Which of the socket's timeouts a retry shortens.
#[derive(Clone, Copy)]
enum Direction {
    Send,
    Recv,
}

/// Runs one socket call, again after each `EINTR`. With `SO_RCVTIMEO` or
/// `SO_SNDTIMEO` set the kernel never restarts the call after a signal
/// (signal(7)), so a SIGHUP arriving during a dump would fail the pass. The
/// wait stays bounded by `timeout` from the first try: each retry gets the
/// time left as its timeout, so a storm of signals cannot extend it.
fn retry_interrupted<T>(
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

impl Client {
    /// Opens the socket and looks up the "IPVS" family.
    pub fn connect() -> Result<Client, IpvsError> {
        Client::connect_with_timeout(DEFAULT_TIMEOUT)
    }

    pub fn connect_with_timeout(timeout: Duration) -> Result<Client, IpvsError> {
        let sock = open_socket(timeout).map_err(|source| IpvsError::Socket {
            op: Op::ResolveFamily,
            source,
        })?;
        let mut client = Client {
            sock,
            family: ctrl::ID,
            seq: 0,
            rbuf: vec![0; recv_buf_len(page_size())],
            timeout,
        };
        client.family = client.resolve_family()?;
        Ok(client)
    }

    /// `CTRL_CMD_GETFAMILY` for "IPVS" on the same socket.
    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let mut w = AttrWriter::new();
        w.string(ctrl::ATTR_FAMILY_NAME, GENL_NAME);
        let req = Request {
            cmd: ctrl::CMD_GETFAMILY,
            attrs: w.finish(),
            dump: false,
            op: Op::ResolveFamily,
            target: Target::None,
        };
        let mut id = None;
        let res = self.transact_to(ctrl::ID, 2, &req, |_, attrs| {
            for a in Attrs::new(attrs) {
                let a = a?;
                if a.kind == ctrl::ATTR_FAMILY_ID {
                    id = Some(a.u16("CTRL_ATTR_FAMILY_ID")?);
                }
            }
            Ok(())
        });
        match res {
            Err(IpvsError::Kernel {
                errno: Errno::NotFound,
                ..
            }) => Err(IpvsError::FamilyMissing),
            Err(e) => Err(e),
            Ok(()) => id.ok_or(IpvsError::Decode {
                op: Op::ResolveFamily,
                source: DecodeError::Missing {
                    attr: "CTRL_ATTR_FAMILY_ID",
                },
            }),
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Appends one framed request to `out`; returns its sequence number.
    fn frame(
        &mut self,
        nl_type: u16,
        version: u8,
        req: &Request,
        flags: NlmF,
        out: &mut Vec<u8>,
    ) -> Result<u32, IpvsError> {
        let seq = self.next_seq();
        let mut payload = Vec::with_capacity(4 + req.attrs.len());
        payload.extend_from_slice(&[req.cmd, version, 0, 0]);
        payload.extend_from_slice(&req.attrs);
        let bad = |what: String| IpvsError::Request {
            op: req.op,
            target: req.target.clone(),
            what,
        };
        let msg = NlmsghdrBuilder::<u16, Buffer>::default()
            .nl_type(nl_type)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(Buffer::from(payload)))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let mut cur = Cursor::new(Vec::new());
        msg.to_bytes(&mut cur).map_err(|e| bad(e.to_string()))?;
        out.extend_from_slice(cur.get_ref());
        Ok(seq)
    }

    fn send(&self, op: Op, buf: &[u8]) -> Result<(), IpvsError> {
        let n = retry_interrupted(&self.sock, op, self.timeout, Direction::Send, || {
            self.sock.send(buf)
        })?;
        if n != buf.len() {
            return Err(IpvsError::Socket {
                op,
                source: std::io::Error::new(ErrorKind::WriteZero, "short netlink send"),
            });
        }
        Ok(())
    }

    fn recv(&mut self, op: Op) -> Result<usize, IpvsError> {
        recv_into(&self.sock, &mut self.rbuf, op, self.timeout)
    }

    /// Sends one request and feeds each data reply to `on_data` until the
    /// ACK (or, for a dump, `NLMSG_DONE`). Any error ends the exchange.
    fn transact_to(
        &mut self,
        nl_type: u16,
        version: u8,
        req: &Request,
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), IpvsError> {
        let flags = if req.dump {
            NlmF::REQUEST | NlmF::DUMP
        } else {
            NlmF::REQUEST | NlmF::ACK
        };
        let mut out = Vec::new();
        let seq = self.frame(nl_type, version, req, flags, &mut out)?;
        self.send(req.op, &out)?;
        let decode = |source| IpvsError::Decode { op: req.op, source };
        loop {
            let n = self.recv(req.op)?;
            for f in frames(&self.rbuf[..n]) {
                let f = f.map_err(decode)?;
                if f.seq != seq {
                    debug!(seq = f.seq, expected = seq, "stale netlink reply skipped");
                    continue;
                }
                match f.reply().map_err(decode)? {
                    Reply::Data { cmd, attrs } => on_data(cmd, attrs).map_err(decode)?,
                    Reply::Ack if !req.dump => return Ok(()),
                    Reply::Done(0) if req.dump => return Ok(()),
                    Reply::Error(e) => return Err(kernel_error(req.op, &req.target, e)),
                    Reply::Done(e) if e != 0 => return Err(kernel_error(req.op, &req.target, e)),
                    Reply::Ack | Reply::Done(_) | Reply::Noop => {}
                }
            }
        }
    }

    pub(super) fn transact(
        &mut self,
        req: &Request,
        on_data: impl FnMut(u8, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), IpvsError> {
        self.transact_to(self.family, GENL_VERSION, req, on_data)
    }

    pub(super) fn ack(&mut self, req: &Request) -> Result<(), IpvsError> {
        self.transact(req, |_, _| Ok(()))
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
        self.ack(&codec::change_request(change)?)
    }

    /// Applies changes in order, pipelined. The outer error means the
    /// transport failed and the outcome of some changes is unknown; otherwise
    /// there is one result per change, in order.
    pub fn apply_all(
        &mut self,
        changes: &[Change],
    ) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        let mut results = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(WINDOW) {
            let base = results.len();
            let mut reqs = Vec::with_capacity(chunk.len());
            for c in chunk {
                match codec::change_request(c) {
                    Ok(r) => {
                        reqs.push((results.len(), r));
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            let Some(last) = reqs.len().checked_sub(1) else {
                continue;
            };
            let mut out = Vec::new();
            let mut seqs = Vec::with_capacity(reqs.len());
            for (i, (_, r)) in reqs.iter().enumerate() {
                let flags = if i == last {
                    NlmF::REQUEST | NlmF::ACK
                } else {
                    NlmF::REQUEST
                };
                seqs.push(self.frame(self.family, GENL_VERSION, r, flags, &mut out)?);
            }
            let op = reqs[last].1.op;
            self.send(op, &out)?;
            let (first_seq, barrier) = (seqs[0], seqs[last]);
            let mut done = false;
            while !done {
                let n = self.recv(op)?;
                for f in frames(&self.rbuf[..n]) {
                    let f = f.map_err(|source| IpvsError::Decode { op, source })?;
                    let k = f.seq.wrapping_sub(first_seq) as usize;
                    let Some((idx, req)) = reqs.get(k).filter(|_| k < seqs.len()) else {
                        debug!(seq = f.seq, "stale netlink reply skipped");
                        continue;
                    };
                    match f
                        .reply()
                        .map_err(|source| IpvsError::Decode { op, source })?
                    {
                        Reply::Error(e) => {
                            results[*idx] = Err(kernel_error(req.op, &req.target, e))
                        }
                        Reply::Ack | Reply::Done(_) | Reply::Noop | Reply::Data { .. } => {}
                    }
                    if f.seq == barrier {
                        done = true;
                    }
                }
            }
            debug!(
                from = base,
                count = chunk.len(),
                "applied a window of changes"
            );
        }
        Ok(results)
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
