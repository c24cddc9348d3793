//! The head of an HTTP/1.1 answer, as bytes: the status, how its body is
//! framed, and the limits a probe puts on both. No I/O: [`http_plain`]
//! reads the socket and feeds this, [`chunked`] decodes chunked bodies.
//!
//! [`http_plain`]: super::http_plain
//! [`chunked`]: super::chunked

/// The most body a probe reads before giving up on the server.
pub(crate) const BODY_LIMIT: usize = 1 << 20;

/// The most response head (status line and headers) read.
pub(crate) const HEAD_LIMIT: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

/// How the body of an answer ends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Head {
    Final {
        status: u16,
        framing: Framing,
        /// Where the body starts in the buffer.
        start: usize,
    },
    Defer,
}

/// Parses the response head in `buf`: `None` while it is incomplete.
pub(crate) fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let start = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("not an HTTP response: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let mut length = None;
    let mut chunked = None;
    let mut location = false;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| "bad Content-Length".to_owned())?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length headers".to_owned());
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when it is the last coding; otherwise the body
            // runs until the server closes.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("location") {
            location = true;
        }
    }
    if (100..200).contains(&status) || ((300..400).contains(&status) && location) {
        return Ok(Some(Head::Defer));
    }
    let framing = if head_request || status == 204 || status == 304 {
        Framing::Empty
    } else if let Some(chunked) = chunked {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head::Final {
        status,
        framing,
        start,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Option<Head> {
        parse_head(s.as_bytes(), false).unwrap()
    }

    #[test]
    fn framing_follows_the_headers() {
        let r = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
        assert_eq!(
            head(r),
            Some(Head::Final {
                status: 200,
                framing: Framing::Length(3),
                start: r.len() - 3
            })
        );
        let r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n";
        assert!(matches!(
            head(r),
            Some(Head::Final {
                framing: Framing::Chunked,
                ..
            })
        ));
        let r = "HTTP/1.0 404 Not Found\r\n\r\n";
        assert!(matches!(
            head(r),
            Some(Head::Final {
                status: 404,
                framing: Framing::UntilClose,
                ..
            })
        ));
        let r = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
        assert!(matches!(
            parse_head(r.as_bytes(), true).unwrap(),
            Some(Head::Final {
                framing: Framing::Empty,
                ..
            })
        ));
        assert_eq!(head("HTTP/1.1 200 OK\r\nContent-Le"), None);
    }

    #[test]
    fn redirects_and_interim_answers_are_deferred() {
        assert_eq!(
            head("HTTP/1.1 302 Found\r\nLocation: /ok\r\n\r\n"),
            Some(Head::Defer)
        );
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\n"), Some(Head::Defer));
        // A 3xx without a Location is a final (failing) status.
        assert!(matches!(
            head("HTTP/1.1 304 Not Modified\r\n\r\n"),
            Some(Head::Final { status: 304, .. })
        ));
    }

    #[test]
    fn malformed_heads_are_errors() {
        assert!(parse_head(b"garbage\r\n\r\n", false).is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false
        )
        .is_err());
    }
}
