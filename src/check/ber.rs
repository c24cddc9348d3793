//! The little of BER (X.690) that an LDAP health check needs: framing one
//! LDAPMessage off a stream, walking the top levels of its content, and
//! writing requests.
//!
//! A hostile server decides every byte, so nothing here recurses (nesting
//! costs nothing: only the levels the check reads are looked at), the
//! outer length is checked against a cap before anything is allocated, and
//! every malformed input is an error, never a panic.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Universal and LDAP tags the check reads or writes.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const BOOLEAN: u8 = 0x01;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BerError {
    #[error("receive: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("message of {len} bytes, more than the {limit} accepted")]
    TooLong { len: u64, limit: usize },
    #[error("malformed BER: {0}")]
    Malformed(&'static str),
    #[error("expected tag {want:#04x}, got {got:#04x}")]
    Unexpected { want: u8, got: u8 },
}

/// Reads one LDAPMessage (a SEQUENCE) and returns its content, refusing
/// any whose length exceeds `limit` before reading or allocating it.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> Result<Vec<u8>, BerError> {
    let tag = match r.read_u8().await {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(BerError::Closed),
        Err(e) => return Err(e.into()),
    };
    if tag != SEQUENCE {
        return Err(BerError::Unexpected {
            want: SEQUENCE,
            got: tag,
        });
    }
    let first = r.read_u8().await.map_err(truncated)?;
    let len = if first < 0x80 {
        u64::from(first)
    } else {
        let n = first & 0x7f;
        if n == 0 {
            return Err(BerError::Malformed("indefinite length"));
        }
        if n > 8 {
            return Err(BerError::Malformed("length of more than 8 bytes"));
        }
        let mut len = 0u64;
        for _ in 0..n {
            len = (len << 8) | u64::from(r.read_u8().await.map_err(truncated)?);
        }
        len
    };
    if len > limit as u64 {
        return Err(BerError::TooLong { len, limit });
    }
    // len <= limit, a usize.
    let mut content = vec![0; len as usize];
    r.read_exact(&mut content).await.map_err(truncated)?;
    Ok(content)
}

fn truncated(e: std::io::Error) -> BerError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        BerError::Malformed("message cut by the end of the stream")
    } else {
        BerError::Io(e)
    }
}

/// Walks the elements of one constructed value, left to right.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(content: &'a [u8]) -> Self {
        Reader { rest: content }
    }

    /// The next element's tag and content.
    pub(crate) fn next(&mut self) -> Result<(u8, &'a [u8]), BerError> {
        let [tag, first, rest @ ..] = self.rest else {
            return Err(BerError::Malformed("element cut short"));
        };
        if tag & 0x1f == 0x1f {
            return Err(BerError::Malformed("multi-byte tag"));
        }
        let (len, rest) = if *first < 0x80 {
            (usize::from(*first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(BerError::Malformed("bad element length"));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if len > rest.len() {
            return Err(BerError::Malformed("element longer than its container"));
        }
        let (content, rest) = rest.split_at(len);
        self.rest = rest;
        Ok((*tag, content))
    }

    /// The next element, which must have tag `want`.
    pub(crate) fn expect(&mut self, want: u8) -> Result<&'a [u8], BerError> {
        match self.next()? {
            (got, content) if got == want => Ok(content),
            (got, _) => Err(BerError::Unexpected { want, got }),
        }
    }

    /// The next element as an INTEGER or ENUMERATED (`tag`) of at most 8 bytes.
    pub(crate) fn integer(&mut self, tag: u8) -> Result<i64, BerError> {
        let content = self.expect(tag)?;
        if content.is_empty() || content.len() > 8 {
            return Err(BerError::Malformed("bad integer"));
        }
        // Two's complement, sign-extended from the first byte.
        let start = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
        Ok(content.iter().fold(start, |v, &b| (v << 8) | i64::from(b)))
    }
}

/// One element: `tag`, its definite length, `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A small non-negative INTEGER or ENUMERATED.
pub(crate) fn small_int(tag: u8, v: u8) -> Vec<u8> {
    if v < 0x80 {
        tlv(tag, &[v])
    } else {
        tlv(tag, &[0, v])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], limit: usize) -> Result<Vec<u8>, BerError> {
        let mut r = bytes;
        read_message(&mut r, limit).await
    }

    #[test]
    fn lengths_are_written_in_short_and_long_form() {
        assert_eq!(tlv(OCTET_STRING, b"ab"), b"\x04\x02ab");
        let long = tlv(OCTET_STRING, &[7; 300]);
        assert_eq!(&long[..4], b"\x04\x82\x01\x2c");
        assert_eq!(long.len(), 304);
        assert_eq!(small_int(INTEGER, 200), b"\x02\x02\x00\xc8");
        let mut r = Reader::new(&long);
        assert_eq!(r.expect(OCTET_STRING).unwrap(), &[7; 300][..]);
    }

    #[tokio::test]
    async fn a_bind_response_is_read_back() {
        // What slapd answers to a successful bind, message 1.
        let raw = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        let content = read(raw, 1024).await.unwrap();
        let mut m = Reader::new(&content);
        assert_eq!(m.integer(INTEGER).unwrap(), 1);
        let (op, body) = m.next().unwrap();
        assert_eq!(op, 0x61);
        let mut r = Reader::new(body);
        assert_eq!(r.integer(ENUMERATED).unwrap(), 0);
        assert_eq!(r.expect(OCTET_STRING).unwrap(), b"");
    }

    #[tokio::test]
    async fn an_empty_message_is_an_error_not_a_panic() {
        let content = read(b"\x30\x00", 1024).await.unwrap();
        assert!(Reader::new(&content).integer(INTEGER).is_err());
    }

    #[tokio::test]
    async fn ten_thousand_nested_sequences_cost_nothing() {
        let mut v = tlv(SEQUENCE, b"");
        for _ in 0..10_000 {
            v = tlv(SEQUENCE, &v);
        }
        let content = read(&v, 1 << 20).await.unwrap();
        assert!(matches!(
            Reader::new(&content).integer(INTEGER),
            Err(BerError::Unexpected { got: SEQUENCE, .. })
        ));
    }

    #[tokio::test]
    async fn a_64_mib_length_is_refused_before_allocating() {
        let e = read(b"\x30\x84\x04\x00\x00\x00", 64 * 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(e, BerError::TooLong { len, .. } if len == 64 << 20),
            "{e}"
        );
        let e = read(b"\x30\x89\x01\x00\x00\x00\x00\x00\x00\x00\x00", 10).await;
        assert!(matches!(e, Err(BerError::Malformed(_))));
    }

    #[tokio::test]
    async fn truncated_and_malformed_input_are_errors() {
        let raw = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert!(matches!(read(b"", 99).await, Err(BerError::Closed)));
        for cut in 1..raw.len() {
            assert!(read(&raw[..cut], 99).await.is_err(), "cut at {cut}");
        }
        assert!(read(b"\x31\x00", 99).await.is_err());
        assert!(read(b"\x30\x80\x00\x00", 99).await.is_err());
        // Inner elements longer than their container, or cut.
        for inner in [
            &b"\x02\x05\x01"[..],
            b"\x02",
            b"\x02\x84\xff",
            b"\x1f\x01\x00",
        ] {
            assert!(Reader::new(inner).next().is_err(), "{inner:?}");
        }
        assert!(Reader::new(b"\x02\x00").integer(INTEGER).is_err());
        assert!(Reader::new(b"\x02\x09\0\0\0\0\0\0\0\0\0")
            .integer(INTEGER)
            .is_err());
        assert_eq!(Reader::new(b"\x02\x01\xff").integer(INTEGER).unwrap(), -1);
    }
}
