//! The header of an IPVS connection sync message (what the kernel's
//! master thread multicasts to the backups), both versions. Pure: bytes in,
//! a header or a typed error out. lvsd reads only the header: it needs the
//! sender's syncid to tell an operator that their backup thread ignores it,
//! never the connections (the kernel's own backup thread learns those).
//!
//! Version 1 (every kernel since 2.6.39 sends it):
//!   reserved u8 (0), syncid u8, size u16 (network order), nr_conns u8,
//!   version s8 (1), spare u16 (0): 8 bytes.
//! Version 0 (`net.ipv4.vs.sync_version=0`):
//!   nr_conns u8, syncid u8, size u16 (network order): 4 bytes.
//!
//! Which one it is follows the kernel's receive rule: version 1 when the
//! first byte is 0, the version byte is 1 and the spare is 0; otherwise
//! version 0 (a v0 message always starts with a non-zero connection count,
//! the kernel never sends an empty one).

/// The default multicast group and port of the sync messages.
pub const DEFAULT_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 81);
/// `ff02::8848`, the kernel's IPv6 default.
pub const DEFAULT_GROUP_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x8848);
pub const DEFAULT_PORT: u16 = 8848;

/// Header lengths of the two versions.
pub const V0_LEN: usize = 4;
pub const V1_LEN: usize = 8;

/// The version byte the kernel writes in a version 1 header.
const PROTO_V1: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0,
    V1,
}

impl Version {
    pub fn header_len(self) -> usize {
        match self {
            Version::V0 => V0_LEN,
            Version::V1 => V1_LEN,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    pub syncid: u8,
    /// The whole message's length, header included, as the sender wrote it.
    pub size: u16,
    pub nr_conns: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("sync message of {0} bytes: shorter than a header")]
    Short(usize),
    #[error("sync message of {got} bytes says its size is {said}")]
    SizeMismatch { got: usize, said: u16 },
    #[error("sync message of {got} bytes: shorter than its version {version} header")]
    ShortForVersion { got: usize, version: u8 },
    #[error("sync message says it holds {nr_conns} connections in no room")]
    EmptyButCounted { nr_conns: u8 },
}

/// Reads the header of one whole datagram. The kernel drops a datagram
/// whose length is not the size it says; so does this (such a datagram is
/// not a sync message, and its syncid byte means nothing).
pub fn parse(msg: &[u8]) -> Result<Header, HeaderError> {
    let [b0, syncid, s0, s1, rest @ ..] = msg else {
        return Err(HeaderError::Short(msg.len()));
    };
    let size = u16::from_be_bytes([*s0, *s1]);
    if usize::from(size) != msg.len() {
        return Err(HeaderError::SizeMismatch {
            got: msg.len(),
            said: size,
        });
    }
    if *b0 == 0 {
        // A first byte of 0 is version 1, or a version 0 message with no
        // connections: the kernel tells them apart by the version and
        // spare fields, which a 4-byte datagram does not have.
        return match rest {
            [nr_conns, PROTO_V1, 0, 0, body @ ..] => {
                if *nr_conns == 0 || !body.is_empty() {
                    Ok(Header {
                        version: Version::V1,
                        syncid: *syncid,
                        size,
                        nr_conns: *nr_conns,
                    })
                } else {
                    Err(HeaderError::EmptyButCounted {
                        nr_conns: *nr_conns,
                    })
                }
            }
            _ => Ok(Header {
                version: Version::V0,
                syncid: *syncid,
                size,
                nr_conns: 0,
            }),
        };
    }
    // Version 0 with connections: each takes at least 24 bytes, so a
    // message with a count and nothing after the header is not one.
    if rest.is_empty() {
        return Err(HeaderError::EmptyButCounted { nr_conns: *b0 });
    }
    Ok(Header {
        version: Version::V0,
        syncid: *syncid,
        size,
        nr_conns: *b0,
    })
}

/// A header as the kernel writes it, for tests and fuzz seeds. `size` is
/// the whole message's; the caller appends the body.
pub fn encode(h: &Header) -> Vec<u8> {
    let size = h.size.to_be_bytes();
    match h.version {
        Version::V1 => vec![0, h.syncid, size[0], size[1], h.nr_conns, PROTO_V1, 0, 0],
        Version::V0 => vec![h.nr_conns, h.syncid, size[0], size[1]],
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
