//! service=mysql against a hostile "MySQL" server on loopback: one that
//! claims a 1 GiB `max_allowed_packet` and then sends a row packet that
//! never ends. The probe must not take the server's word for its packet
//! limit: it refuses the packet, stays within bounded memory and ends Down
//! within its deadline. A well-behaved fake proves the protocol spoken here
//! is one the client accepts.

mod check_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::Exchange;
use lvsd::check::{CheckKind, Prober, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);

/// The largest payload of one packet chunk; a chunk this long says "more
/// of the same packet follows".
const MAX_CHUNK: usize = 0xff_ffff;

/// LONG_PASSWORD, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS,
/// SECURE_CONNECTION, MULTI_RESULTS, PLUGIN_AUTH; no DEPRECATE_EOF, so
/// result sets end with classic EOF packets.
const CAPABILITIES: u32 = 0x0000_a20d | 0x0002_0000 | 0x0008_0000;

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

fn handshake() -> Vec<u8> {
    let mut p = vec![10];
    p.extend_from_slice(b"5.7.44\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&(CAPABILITIES as u16).to_le_bytes());
    p.push(0x21); // utf8_general_ci
    p.extend_from_slice(&2u16.to_le_bytes()); // autocommit
    p.extend_from_slice(&((CAPABILITIES >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    packet(0, &p)
}

fn ok(seq: u8) -> Vec<u8> {
    packet(seq, &[0, 0, 0, 2, 0, 0, 0])
}

fn eof(seq: u8) -> Vec<u8> {
    packet(seq, &[0xfe, 0, 0, 2, 0])
}

/// The head of a text result set: column count, definitions, EOF. Returns
/// the bytes and the next sequence id.
fn columns(names: &[&str]) -> (Vec<u8>, u8) {
    let mut out = packet(1, &[names.len() as u8]);
    let mut seq = 2u8;
    for name in names {
        let mut def = Vec::new();
        for s in [&b"def"[..], b"", b"", b"", name.as_bytes(), b""] {
            lenenc_str(&mut def, s);
        }
        def.push(0x0c);
        def.extend_from_slice(&0x21u16.to_le_bytes());
        def.extend_from_slice(&255u32.to_le_bytes());
        def.push(0xfd); // VAR_STRING
        def.extend_from_slice(&[0, 0, 0, 0, 0]);
        out.extend(packet(seq, &def));
        seq += 1;
    }
    out.extend(eof(seq));
    (out, seq + 1)
}

/// Reads one client packet; `None` once the client is gone.
async fn read_packet(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

#[derive(Clone, Copy)]
enum Answer {
    /// One row, "1".
    Row,
    /// A row packet continued in full chunks for ever.
    Endless,
}

/// A fake server that accepts any login. It answers a settings query
/// (`SELECT @@...`) by claiming 1 GiB for each variable, and the check's
/// query as `answer` says.
async fn mysql(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, answer));
        }
    });
    addr
}

async fn serve(mut s: TcpStream, answer: Answer) {
    if s.write_all(&handshake()).await.is_err() || read_packet(&mut s).await.is_none() {
        return;
    }
    if s.write_all(&ok(2)).await.is_err() {
        return;
    }
    while let Some(command) = read_packet(&mut s).await {
        let query = String::from_utf8_lossy(command.get(1..).unwrap_or_default()).into_owned();
        if command.first() != Some(&3) {
            return; // COM_QUIT or anything else: done.
        }
        if query.contains("@@") {
            let names: Vec<&str> = query.trim_start_matches("SELECT ").split(',').collect();
            let (mut out, seq) = columns(&names);
            let mut row = Vec::new();
            for _ in &names {
                lenenc_str(&mut row, b"1073741824");
            }
            out.extend(packet(seq, &row));
            out.extend(eof(seq + 1));
            if s.write_all(&out).await.is_err() {
                return;
            }
            continue;
        }
        let (head, mut seq) = columns(&["x"]);
        if s.write_all(&head).await.is_err() {
            return;
        }
        match answer {
            Answer::Row => {
                let out = [packet(seq, &[1, b'1']), eof(seq + 1)].concat();
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
            Answer::Endless => {
                // A small buffer written over and over, so the fake server
                // itself adds nothing to the RSS being measured.
                let zeros = vec![0u8; 64 * 1024];
                loop {
                    let mut head = (MAX_CHUNK as u32).to_le_bytes();
                    head[3] = seq;
                    seq = seq.wrapping_add(1);
                    if s.write_all(&head).await.is_err() {
                        return;
                    }
                    let mut left = MAX_CHUNK;
                    while left > 0 {
                        let n = left.min(zeros.len());
                        if s.write_all(&zeros[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                }
            }
        }
    }
}

fn my(addr: SocketAddr) -> lvsd::check::Probe {
    let service = Service::Mysql {
        exchange: Exchange {
            request: "/SELECT 1".into(),
            receive: None,
        },
        credentials: creds("lvsd", "secret", "db"),
    };
    probe(addr, CheckKind::Negotiate(service), T)
}

/// The highest RSS seen while `f` runs, sampled on a plain thread: the
/// probe frees what it buffered once it ends, so RSS afterwards shows
/// nothing.
async fn peak_rss_kib<F: std::future::Future>(f: F) -> (F::Output, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = rss_kib();
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak.max(rss_kib())
        })
    };
    let out = f.await;
    stop.store(true, Ordering::Relaxed);
    (out, sampler.join().expect("RSS sampler"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_fake_server_answers_up() {
    let addr = mysql(Answer::Row).await;
    let (o, took) = run(&Prober::new(), &my(addr)).await;
    assert_up(&o, "a one-row answer");
    assert_within(took, T, "a one-row answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_refuses_a_packet_past_its_own_limit() {
    // With the server's word for max_allowed_packet (1 GiB), mysql_async
    // buffered the endless packet until the deadline.
    let addr = mysql(Answer::Endless).await;
    let before = rss_kib();
    let ((o, took), peak) = peak_rss_kib(run(&Prober::new(), &my(addr))).await;
    let grown = peak.saturating_sub(before);
    assert_down(&o, "max_allowed_packet", "an endless row packet");
    assert_within(took, T, "an endless row packet");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}
