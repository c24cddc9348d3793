//! Netlink attributes (`struct nlattr`) as bytes: a writer for requests and a
//! checked reader for replies. Pure and total: a reader never panics and never
//! reads past its buffer; a malformed attribute ends iteration with an error.
//!
//! Nests are written without `NLA_F_NESTED`, as libnl and ipvsadm do, and are
//! read by attribute number only: the kernel writes IPVS nests with
//! `nla_nest_start_noflag`, so the flag can never be relied on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ipvs::error::DecodeError;

/// `NLA_HDRLEN`: `nla_len` (u16) + `nla_type` (u16).
const HDR: usize = 4;
/// `NLA_TYPE_MASK`: the type without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
const TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds a sequence of attributes in host byte order, padded to 4 bytes.
#[derive(Debug, Default, Clone)]
pub struct AttrWriter {
    buf: Vec<u8>,
}

impl AttrWriter {
    pub fn new() -> AttrWriter {
        AttrWriter::default()
    }

    pub fn bytes(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = HDR + payload.len();
        // Attribute payloads here are at most a few hundred bytes; a nest of
        // 64 KiB cannot be expressed in `nla_len` and is never built.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.bytes(kind, &[v])
    }

    pub fn u16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.bytes(kind, &v.to_ne_bytes())
    }

    /// A u16 attribute whose value is in network byte order (`__be16`).
    pub fn be16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.bytes(kind, &v.to_be_bytes())
    }

    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.bytes(kind, &v.to_ne_bytes())
    }

    /// A u32 attribute whose value is in network byte order (`__be32`).
    pub fn be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.bytes(kind, &v.to_be_bytes())
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`).
    pub fn string(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.bytes(kind, &v)
    }

    /// A `union nf_inet_addr`: always 16 bytes, IPv4 in the first four.
    pub fn inet_addr(&mut self, kind: u16, ip: &IpAddr) -> &mut Self {
        self.bytes(kind, &inet_addr_bytes(ip))
    }

    /// A nest built by `fill`.
    pub fn nest(&mut self, kind: u16, fill: impl FnOnce(&mut AttrWriter)) -> &mut Self {
        let mut inner = AttrWriter::new();
        fill(&mut inner);
        self.bytes(kind, &inner.buf)
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The 16 bytes of a `union nf_inet_addr` holding `ip`.
pub fn inet_addr_bytes(ip: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// Iterates over the attributes in `buf`. Stops for good after the first
/// malformed header.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Attrs<'a> {
        Attrs { buf, pos: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.pos;
        let header = rest.get(..HDR).and_then(|h| {
            let len = usize::from(u16::from_ne_bytes([h[0], h[1]]));
            let kind = u16::from_ne_bytes([h[2], h[3]]) & TYPE_MASK;
            (len >= HDR && len <= rest.len()).then_some((len, kind))
        });
        let Some((len, kind)) = header else {
            self.pos = self.buf.len();
            return Some(Err(DecodeError::Truncated { offset }));
        };
        self.pos += align4(len).min(rest.len());
        Some(Ok(Attr {
            kind,
            payload: &rest[HDR..len],
        }))
    }
}

/// One attribute: its number (flags masked off) and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    fn exact<const N: usize>(&self, name: &'static str) -> Result<[u8; N], DecodeError> {
        self.payload.try_into().map_err(|_| DecodeError::Length {
            attr: name,
            expected: N,
            got: self.payload.len(),
        })
    }

    pub fn u8(&self, name: &'static str) -> Result<u8, DecodeError> {
        Ok(self.exact::<1>(name)?[0])
    }

    pub fn u16(&self, name: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_ne_bytes(self.exact(name)?))
    }

    pub fn be16(&self, name: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.exact(name)?))
    }

    pub fn u32(&self, name: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_ne_bytes(self.exact(name)?))
    }

    pub fn be32(&self, name: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.exact(name)?))
    }

    pub fn u64(&self, name: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_ne_bytes(self.exact(name)?))
    }

    /// A string up to its first NUL (or the end of the payload).
    pub fn string(&self, name: &'static str) -> Result<String, DecodeError> {
        let end = self
            .payload
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.payload.len());
        std::str::from_utf8(&self.payload[..end])
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadString { attr: name })
    }

    /// A `union nf_inet_addr` read in the given family.
    pub fn inet_addr(&self, name: &'static str, v6: bool) -> Result<IpAddr, DecodeError> {
        let b: [u8; 16] = self.exact(name)?;
        Ok(if v6 {
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        })
    }

    /// The attributes nested in this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn writes_padded_host_order_attributes() {
        let mut w = AttrWriter::new();
        w.u16(1, 2).be16(4, 80).string(6, "rr");
        assert_eq!(
            w.finish(),
            [
                6, 0, 1, 0, 2, 0, 0, 0, // AF = 2, padded
                6, 0, 4, 0, 0, 80, 0, 0, // PORT = 80 as be16, padded
                7, 0, 6, 0, b'r', b'r', 0, 0, // "rr\0", padded
            ]
        );
    }

    #[test]
    fn reads_nests_without_the_nested_flag_and_masks_flags() {
        let buf = [
            12, 0, 1, 0, // nest 1, no NLA_F_NESTED
            8, 0, 5, 0x80, 7, 0, 0, 0, // attr 5 with NLA_F_NET_BYTEORDER set, u32 7
        ];
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        assert_eq!(a.kind, 1);
        let inner = a.nested().next().unwrap().unwrap();
        assert_eq!((inner.kind, inner.u32("x").unwrap()), (5, 7));
    }

    #[test]
    fn truncated_or_short_attributes_are_errors_not_panics() {
        for buf in [&[8u8, 0, 1][..], &[2, 0, 1, 0], &[200, 0, 1, 0, 0, 0, 0, 0]] {
            let mut it = Attrs::new(buf);
            assert!(matches!(
                it.next(),
                Some(Err(DecodeError::Truncated { .. }))
            ));
            assert!(it.next().is_none());
        }
        let a = Attr {
            kind: 1,
            payload: &[1, 2],
        };
        assert!(matches!(
            a.u32("X"),
            Err(DecodeError::Length {
                expected: 4,
                got: 2,
                ..
            })
        ));
    }
}
