//! The IPVS generic netlink client: one socket, one family lookup, requests
//! framed with neli's `Nlmsghdr`, replies parsed by [`super::frame`].
//!
//! The socket itself ([`super::sock`]) comes from `socket2` because it sets receive and send
//! timeouts without `unsafe` (neli 0.7's socket has no timeout setter), so a
//! kernel that never answers gives [`IpvsError::Timeout`] instead of a hang.
//!
//! Changes are pipelined: up to [`WINDOW`] requests go out in one `sendmsg`,
//! only the last one asks for an ACK. The kernel handles a datagram's
//! messages in order and reports each failure with its sequence number, so
//! the ACK of the last one proves every earlier one was handled, and every
//! failure is still tied to its change.

use std::io::{Cursor, ErrorKind};
use std::time::Duration;

use neli::consts::nl::NlmF;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::types::Buffer;
use neli::ToBytes;
use socket2::Socket;
use tracing::debug;

use super::attr::{AttrWriter, Attrs};
use super::codec::{self, Request};
use super::consts::{ctrl, GENL_NAME, GENL_VERSION};
use super::frame::{frames, Reply};
use super::sock::{open_socket, page_size, recv_buf_len, recv_into, retry_interrupted, Direction};
use crate::ipvs::change::Change;
use crate::ipvs::error::{DecodeError, Errno, IpvsError, Op, Target};

/// Requests per datagram when applying many changes. Bounds the error
/// replies that can queue up before they are read (each echoes its request),
/// so they fit in the default socket receive buffer.
pub const WINDOW: usize = 64;

/// The receive timeout unless the caller picks another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
