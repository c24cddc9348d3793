//! Netlink message framing of kernel replies (`struct nlmsghdr`, then either
//! a generic netlink payload, an `NLMSG_ERROR` or an `NLMSG_DONE`). Parsed
//! here rather than by neli so that no reply, however malformed, can panic:
//! every length is checked before it is used.

use crate::ipvs::error::DecodeError;

/// `sizeof(struct nlmsghdr)`
pub const NLMSG_HDRLEN: usize = 16;
/// `sizeof(struct genlmsghdr)`: cmd, version, reserved u16.
pub const GENL_HDRLEN: usize = 4;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_NOOP: u16 = 1;
const NLMSG_OVERRUN: u16 = 4;

/// One netlink message of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// What a reply message means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A generic netlink message: its command and its attributes.
    Data { cmd: u8, attrs: &'a [u8] },
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// `NLMSG_ERROR` with a (positive) errno.
    Error(i32),
    /// `NLMSG_DONE`; a non-zero errno means the dump failed part way.
    Done(i32),
    /// `NLMSG_NOOP` and the like: nothing to act on.
    Noop,
}

/// The messages of one datagram. Stops for good at the first bad header.
pub fn frames(buf: &[u8]) -> impl Iterator<Item = Result<Frame<'_>, DecodeError>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rest = buf.get(pos..)?;
        if rest.is_empty() {
            return None;
        }
        let parsed = rest.get(..NLMSG_HDRLEN).and_then(|h| {
            let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
            (NLMSG_HDRLEN..=rest.len()).contains(&len).then(|| Frame {
                kind: u16::from_ne_bytes([h[4], h[5]]),
                flags: u16::from_ne_bytes([h[6], h[7]]),
                seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
                payload: &rest[NLMSG_HDRLEN..len],
            })
        });
        match parsed {
            Some(f) => {
                let len = NLMSG_HDRLEN + f.payload.len();
                pos += ((len + 3) & !3).min(rest.len());
                Some(Ok(f))
            }
            None => {
                pos = buf.len();
                Some(Err(DecodeError::Message {
                    what: "truncated netlink message header",
                }))
            }
        }
    })
}

fn errno_at(payload: &[u8]) -> Result<i32, DecodeError> {
    let b = payload.get(..4).ok_or(DecodeError::Message {
        what: "NLMSG_ERROR/NLMSG_DONE without an error code",
    })?;
    // The kernel sends a negative errno; keep the positive one.
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]).saturating_neg())
}

impl<'a> Frame<'a> {
    pub fn reply(&self) -> Result<Reply<'a>, DecodeError> {
        match self.kind {
            NLMSG_ERROR => match errno_at(self.payload)? {
                0 => Ok(Reply::Ack),
                e => Ok(Reply::Error(e)),
            },
            // A DONE may carry no error code at all on old kernels.
            NLMSG_DONE if self.payload.is_empty() => Ok(Reply::Done(0)),
            NLMSG_DONE => Ok(Reply::Done(errno_at(self.payload)?)),
            NLMSG_NOOP => Ok(Reply::Noop),
            NLMSG_OVERRUN => Err(DecodeError::Message {
                what: "NLMSG_OVERRUN: the kernel dropped replies",
            }),
            _ => {
                let h = self
                    .payload
                    .get(..GENL_HDRLEN)
                    .ok_or(DecodeError::Message {
                        what: "generic netlink message shorter than its header",
                    })?;
                Ok(Reply::Data {
                    cmd: h[0],
                    attrs: &self.payload[GENL_HDRLEN..],
                })
            }
        }
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn parses_an_error_then_a_data_message() {
        #[rustfmt::skip]
        let buf: Vec<u8> = vec![
            36, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, // NLMSG_ERROR seq 7
            0xef, 0xff, 0xff, 0xff,                           // -17 (EEXIST)
            20, 0, 0, 0, 30, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0, // the request's header
            24, 0, 0, 0, 30, 0, 2, 0, 8, 0, 0, 0, 0, 0, 0, 0, // family 30, MULTI, seq 8
            4, 1, 0, 0,                                       // GET_SERVICE v1
            4, 0, 1, 0,                                       // an empty SERVICE nest
        ];
        let f: Vec<_> = frames(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].seq, f[0].reply().unwrap()), (7, Reply::Error(17)));
        assert_eq!(
            f[1].reply().unwrap(),
            Reply::Data {
                cmd: 4,
                attrs: &[4, 0, 1, 0]
            }
        );
    }

    #[test]
    fn lengths_past_the_datagram_are_errors() {
        let mut buf = vec![0u8; 20];
        buf[0] = 200; // nlmsg_len beyond the buffer
        let mut it = frames(&buf);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        let short = Frame {
            kind: 2,
            flags: 0,
            seq: 0,
            payload: &[1, 2],
        };
        assert!(short.reply().is_err());
    }
}
