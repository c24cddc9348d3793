//! An incremental decoder for HTTP/1.1 chunked bodies.
//!
//! The answer arrives a read at a time; the decoder keeps where it stopped
//! (the position of the next unparsed byte and how far a line end was
//! already searched for) so each byte is scanned a bounded number of times.
//! Decoding the whole buffer again after every read made a body of 1-byte
//! chunks cost time quadratic in its length.

use super::http_head::BODY_LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a chunk-size line.
    Size,
    /// Waiting for this many data bytes and their CRLF.
    Data(usize),
    /// After the last chunk: trailer fields until an empty line.
    Trailer,
    Done,
}

/// Decoder state over a growing buffer holding the raw body from its start.
#[derive(Debug)]
pub(crate) struct Dechunker {
    state: State,
    /// The first raw byte not yet consumed.
    pos: usize,
    /// No line end starts before this offset (from `pos`'s line).
    scanned: usize,
    body: Vec<u8>,
}

impl Dechunker {
    pub(crate) fn new() -> Self {
        Dechunker {
            state: State::Size,
            pos: 0,
            scanned: 0,
            body: Vec::new(),
        }
    }

    /// Parses what `raw` holds past the previous call; `raw` must extend
    /// the buffer passed before. `Ok(true)` once the last chunk and the
    /// trailers' end are in.
    pub(crate) fn feed(&mut self, raw: &[u8]) -> Result<bool, String> {
        loop {
            match self.state {
                State::Done => return Ok(true),
                State::Size => {
                    let Some(line) = self.line(raw) else {
                        return Ok(false);
                    };
                    // Chunk extensions (";name=value") are allowed and ignored.
                    let size = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let size = std::str::from_utf8(size)
                        .ok()
                        .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                        .ok_or_else(|| "body: bad chunk size".to_owned())?;
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(size) => {
                    let have = raw.len() - self.pos;
                    if size > BODY_LIMIT || have < size.saturating_add(2) {
                        // Too long is judged by the caller on the raw length.
                        return Ok(false);
                    }
                    let data = &raw[self.pos..self.pos + size + 2];
                    if &data[size..] != b"\r\n" {
                        return Err("body: chunk not followed by CRLF".to_owned());
                    }
                    self.body.extend_from_slice(&data[..size]);
                    self.pos += size + 2;
                    self.scanned = self.pos;
                    self.state = State::Size;
                }
                State::Trailer => {
                    let Some(line) = self.line(raw) else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                    }
                }
            }
        }
    }

    /// The decoded body so far (all of it once `feed` said done).
    pub(crate) fn body_len(&self) -> usize {
        self.body.len()
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The next whole line (without CRLF), consumed; `None` while its end
    /// has not arrived, remembering how far it was searched.
    fn line<'a>(&mut self, raw: &'a [u8]) -> Option<&'a [u8]> {
        let from = self.scanned.max(self.pos);
        match find_crlf(&raw[from..]) {
            Some(i) => {
                let line = &raw[self.pos..from + i];
                self.pos = from + i + 2;
                self.scanned = self.pos;
                Some(line)
            }
            None => {
                // The last byte may be a CR whose LF is still to come.
                self.scanned = raw.len().saturating_sub(1).max(self.pos);
                None
            }
        }
    }
}

/// Decodes a whole chunked body at once (tests and the fuzz entry).
pub(crate) fn dechunk(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut d = Dechunker::new();
    Ok(d.feed(raw)?.then(|| d.into_body()))
}

#[cfg(test)]
thread_local! {
    /// Bytes searched for a line end on this thread, so tests can tell
    /// linear from quadratic work without timing anything.
    pub(crate) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(crate) fn find_crlf(s: &[u8]) -> Option<usize> {
    let found = s.windows(2).position(|w| w == b"\r\n");
    #[cfg(test)]
    SCANNED.with(|c| c.set(c.get() + found.map_or(s.len(), |i| i + 2)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_once_complete() {
        let raw = b"3;x=y\r\nok \r\n2\r\nhi\r\n0\r\nTrailer: z\r\n\r\n";
        assert_eq!(dechunk(raw).unwrap(), Some(b"ok hi".to_vec()));
        for cut in 0..raw.len() {
            assert_eq!(dechunk(&raw[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"2\r\nokX\r\n").is_err());
    }

    #[test]
    fn fed_a_byte_at_a_time_gives_the_same_body() {
        let raw = b"3;x=y\r\nok \r\n2\r\nhi\r\n0\r\nTrailer: z\r\n\r\n";
        let mut d = Dechunker::new();
        for end in 0..raw.len() {
            assert!(!d.feed(&raw[..end]).unwrap(), "done early at {end}");
        }
        assert!(d.feed(raw).unwrap());
        assert_eq!(d.into_body(), b"ok hi");
    }

    #[test]
    fn a_long_size_line_fed_a_byte_at_a_time_is_scanned_linearly() {
        let mut raw = vec![b'0'; 100_000];
        raw.extend_from_slice(b"1\r\nx\r\n0\r\n\r\n");
        let before = SCANNED.with(|c| c.get());
        let mut d = Dechunker::new();
        for end in 0..raw.len() {
            let _ = d.feed(&raw[..end]);
        }
        assert!(d.feed(&raw).unwrap());
        let scanned = SCANNED.with(|c| c.get()) - before;
        assert!(scanned < 3 * raw.len(), "{scanned} bytes scanned");
    }
}
