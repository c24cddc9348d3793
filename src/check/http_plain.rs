//! The common `service=http` probe without reqwest: plain HTTP to the real's
//! address, one HTTP/1.1 request with `Connection: close` (as LWP sends it),
//! the answer read to the end of its framing.
//!
//! reqwest's client (pool, a task per connection, its layers) costs more CPU
//! per probe than the exchange itself; with thousands of probes a second
//! that decides whether they keep to their interval. Whatever this path does
//! not handle itself (a redirect, an interim 1xx answer) is deferred to the
//! full client, which redoes the check from the start.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::chunked::{dechunk, Dechunker};
use super::http_head::{parse_head, Framing, Head, BODY_LIMIT, HEAD_LIMIT};

/// What came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A final answer and its whole body (empty for HEAD).
    Complete { status: u16, body: Vec<u8> },
    /// A final status whose body could not be read in full.
    BadBody { status: u16, why: String },
    /// An answer for the full client: a redirect or an interim answer.
    Defer,
}

/// The request bytes for `path_and_query` with `Host: host`.
pub(crate) fn request(
    method: &str,
    path_and_query: impl std::fmt::Display,
    host: impl std::fmt::Display,
) -> Vec<u8> {
    format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lvsd/{}\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Sends `request` to `addr` and reads the answer. Errors say which step
/// failed; the caller's deadline bounds the whole exchange.
pub(crate) async fn exchange(
    addr: SocketAddr,
    request: &[u8],
    head: bool,
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let (status, framing, start) = loop {
        if read_more(&mut stream, &mut buf).await? == 0 {
            return Err(if buf.is_empty() {
                "connection closed without an answer".to_owned()
            } else {
                "connection closed in the middle of the response headers".to_owned()
            });
        }
        match parse_head(&buf, head)? {
            Some(Head::Final {
                status,
                framing,
                start,
            }) => break (status, framing, start),
            Some(Head::Defer) => return Ok(Answer::Defer),
            None if buf.len() > HEAD_LIMIT => {
                return Err(format!("response headers longer than {HEAD_LIMIT} bytes"))
            }
            None => {}
        }
    };
    let too_long = || Answer::BadBody {
        status,
        why: format!("body longer than {BODY_LIMIT} bytes"),
    };
    match framing {
        Framing::Empty => Ok(Answer::Complete {
            status,
            body: Vec::new(),
        }),
        Framing::Length(n) if n > BODY_LIMIT => Ok(too_long()),
        Framing::Length(n) => {
            while buf.len() - start < n {
                if read_more(&mut stream, &mut buf).await.map_err(body_error)? == 0 {
                    return Ok(Answer::BadBody {
                        status,
                        why: format!(
                            "body: connection closed after {} of {n} bytes",
                            buf.len() - start
                        ),
                    });
                }
            }
            Ok(Answer::Complete {
                status,
                body: buf[start..start + n].to_vec(),
            })
        }
        Framing::UntilClose => loop {
            if buf.len() - start > BODY_LIMIT {
                return Ok(too_long());
            }
            if read_more(&mut stream, &mut buf).await.map_err(body_error)? == 0 {
                return Ok(Answer::Complete {
                    status,
                    body: buf.split_off(start),
                });
            }
        },
        Framing::Chunked => {
            let mut decoder = Dechunker::new();
            loop {
                match decoder.feed(&buf[start..]) {
                    Ok(true) if decoder.body_len() > BODY_LIMIT => return Ok(too_long()),
                    Ok(true) => {
                        return Ok(Answer::Complete {
                            status,
                            body: decoder.into_body(),
                        })
                    }
                    Ok(false) => {}
                    Err(why) => return Ok(Answer::BadBody { status, why }),
                }
                // Chunk headers add little; past this the body is too long.
                if buf.len() - start > BODY_LIMIT + BODY_LIMIT / 2 {
                    return Ok(too_long());
                }
                if read_more(&mut stream, &mut buf).await.map_err(body_error)? == 0 {
                    return Ok(Answer::BadBody {
                        status,
                        why: "body: connection closed inside the chunked body".to_owned(),
                    });
                }
            }
        }
    }
}

fn body_error(e: String) -> String {
    format!("body: {e}")
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, String> {
    buf.reserve(8192);
    stream
        .read_buf(buf)
        .await
        .map_err(|e| format!("receive: {e}"))
}

/// Everything this module parses, on arbitrary bytes (the fuzz target's
/// entry, through [`crate::check::fuzz_http_answer`]): the head as a GET
/// and as a HEAD answer, then the rest as a chunked body.
pub(crate) fn parse_any(bytes: &[u8]) {
    for head_request in [false, true] {
        if let Ok(Some(Head::Final { start, .. })) = parse_head(bytes, head_request) {
            let _ = dechunk(&bytes[start..]);
        }
    }
    let _ = dechunk(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cut_and_every_flipped_byte_of_real_answers_is_handled() {
        // What nginx sends, chunked and with a length; every prefix and
        // every single-byte corruption must give a value or an error.
        let answers: [&[u8]; 2] = [
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\n7\r\n world!\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabc",
        ];
        for a in answers {
            for cut in 0..=a.len() {
                parse_any(&a[..cut]);
            }
            for i in 0..a.len() {
                for b in [0u8, b'\r', b'\n', b';', b'f', 0xff] {
                    let mut m = a.to_vec();
                    m[i] = b;
                    parse_any(&m);
                }
            }
        }
        assert_eq!(
            dechunk(&answers[0][answers[0].iter().position(|&b| b == b'5').unwrap()..]),
            Ok(Some(b"hello world!".to_vec()))
        );
    }

    /// Serves `answer` once on a loopback port and returns the port.
    async fn serve(answer: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            // Written in pieces, so the reader sees partial heads and chunks.
            for piece in answer.chunks(7) {
                s.write_all(piece).await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        addr
    }

    async fn get(answer: &'static [u8]) -> Result<Answer, String> {
        let addr = serve(answer).await;
        exchange(addr, &request("GET", "/", "x"), false).await
    }

    #[tokio::test]
    async fn answers_over_a_socket() {
        assert_eq!(
            get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nok o\r\n1\r\nk\r\n0\r\n\r\n")
                .await,
            Ok(Answer::Complete {
                status: 200,
                body: b"ok ok".to_vec()
            })
        );
        assert_eq!(
            get(b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno").await,
            Ok(Answer::Complete {
                status: 503,
                body: b"no".to_vec()
            })
        );
        assert_eq!(
            get(b"HTTP/1.0 200 OK\r\n\r\nuntil close").await,
            Ok(Answer::Complete {
                status: 200,
                body: b"until close".to_vec()
            })
        );
        assert!(matches!(
            get(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").await,
            Ok(Answer::BadBody { status: 200, .. })
        ));
        assert!(matches!(
            get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nok").await,
            Ok(Answer::BadBody { status: 200, .. })
        ));
        assert_eq!(
            get(b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n").await,
            Ok(Answer::Defer)
        );
        assert!(get(b"").await.is_err());
    }

    /// 1.5 MiB of 1-byte chunks, read as they come: every byte is searched
    /// for a line end a bounded number of times, not once per read.
    #[tokio::test]
    async fn a_body_of_one_byte_chunks_costs_linear_work() {
        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let raw_len = BODY_LIMIT + BODY_LIMIT / 2 + 6 * 1024;
        while answer.len() < raw_len {
            answer.extend_from_slice(b"1\r\nx\r\n");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            for piece in answer.chunks(4096) {
                if s.write_all(piece).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
        // The test runtime has one thread: the counter sees only this probe.
        let before = crate::check::chunked::SCANNED.with(|c| c.get());
        let got = exchange(addr, &request("GET", "/", "x"), false).await;
        let scanned = crate::check::chunked::SCANNED.with(|c| c.get()) - before;
        assert!(
            matches!(&got, Ok(Answer::BadBody { status: 200, why }) if why.contains("longer")),
            "{got:?}"
        );
        assert!(
            scanned < 3 * raw_len,
            "{scanned} bytes scanned for a {raw_len}-byte body"
        );
        server.abort();
    }

    #[test]
    fn the_request_closes_the_connection() {
        let r = String::from_utf8(request("HEAD", "/a?b=c", "[::1]:8080")).unwrap();
        assert!(r.starts_with("HEAD /a?b=c HTTP/1.1\r\nHost: [::1]:8080\r\n"));
        assert!(r.ends_with("Connection: close\r\n\r\n"));
    }
}
