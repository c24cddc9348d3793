//! The metrics endpoint over real TCP: a scrape returns the rendering, other
//! paths and methods are refused, and hostile clients (an endless header, a
//! client that stalls mid-request) are cut off while scrapes keep working.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd::check::Health;
use lvsd::metrics::scrape::{Daemon, Real};
use lvsd::metrics::server::{HEADER_TIMEOUT, MAX_CONNECTIONS, MAX_HEAD};
use lvsd::metrics::{render, Endpoint, Histogram, Scrape};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn synthetic() -> Scrape {
    Scrape {
        reals: vec![Real {
            virtual_: "tcp 10.0.0.1:80".into(),
            real: "10.0.1.1:80".into(),
            health: Health::Up,
            maintenance: false,
            configured_weight: 3,
            kernel_weight: Some(3),
            transitions: vec![((Health::Unknown, Health::Up), 1)],
            probe_durations: Histogram::new(),
        }],
        daemon: Daemon {
            reconcile_passes: 4,
            ..Daemon::default()
        },
        sync: Default::default(),
        kernel: Err("not read in this test".into()),
    }
}

fn start() -> (Endpoint, SocketAddr) {
    let source = Arc::new(|| render(&synthetic()));
    let e = Endpoint::bind("127.0.0.1:0".parse().unwrap(), source).expect("bind");
    let a = e.local_addr();
    (e, a)
}

/// Sends `request` and reads the whole answer (the server closes: no keep-alive).
async fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .expect("read");
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_returns_the_rendering() {
    let (_e, addr) = start();
    let answer = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert_eq!(body, render(&synthetic()));
    assert!(body.contains("lvsd_real_up{virtual=\"tcp 10.0.0.1:80\",real=\"10.0.1.1:80\"} 1\n"));
}

/// `printf 'GET ...' | nc HOST PORT` closes its sending side once the
/// request is written; the answer must still come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let (_e, addr) = start();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    s.shutdown().await.expect("half-close");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .expect("read");
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out:?}");
    assert!(out.ends_with(&render(&synthetic())), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_paths_and_methods_are_refused() {
    let (_e, addr) = start();
    let a = exchange(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 404 "), "{a}");
    let a = exchange(addr, "GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 404 "), "{a}");
    let a = exchange(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 405 "), "{a}");
    let a = exchange(addr, "not http at all\r\n\r\n").await;
    assert!(a.is_empty() || a.starts_with("HTTP/1.1 400 "), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_header_is_cut_off() {
    let (_e, addr) = start();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        .await
        .expect("write");
    let started = Instant::now();
    let chunk = [b'a'; 1024];
    let mut sent = 0usize;
    // The server must stop reading (and close) long before 10 MiB.
    while sent < 10 << 20 {
        match tokio::time::timeout(Duration::from_secs(10), s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => break,
            Err(_) => panic!("the write blocked for 10 s instead of the connection being closed"),
        }
    }
    assert!(
        sent < 10 << 20,
        "the server read {sent} bytes of one header"
    );
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 431 "),
        "unexpected answer {rest}"
    );
    assert!(
        sent <= 64 * MAX_HEAD + (4 << 20),
        "cut off only after {sent} bytes (socket buffers allowed)"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // And the endpoint still serves.
    let a = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 200 "), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_closed_and_does_not_block_scrapes() {
    let (_e, addr) = start();
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /metr").await.expect("write");
    let started = Instant::now();
    // Meanwhile a scrape is served at once.
    let a = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 200 "), "{a}");
    assert!(
        started.elapsed() < HEADER_TIMEOUT,
        "the scrape waited for the slow client"
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(HEADER_TIMEOUT * 3, slow.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the stalled client was not closed within {:?}",
        HEADER_TIMEOUT * 3
    );
    let waited = started.elapsed();
    assert!(
        waited >= HEADER_TIMEOUT - Duration::from_millis(500),
        "closed after {waited:?}, before the header timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_endpoint_stops_listening() {
    let (e, addr) = start();
    drop(e);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening on {addr}"
    );
}

/// Idle connections, a client trickling its head a byte a second, and more
/// idle ones than there are slots: a scrape that comes last is served, and
/// the hostile ones are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_is_served_while_hostile_clients_hold_every_slot() {
    let (_e, addr) = start();
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    let trickle = tokio::spawn(async move {
        for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" {
            if slow.write_all(&[*b]).await.is_err() {
                return true; // closed by the server
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        false
    });
    for _ in 0..MAX_CONNECTIONS {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let started = Instant::now();
    let a = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 200 "), "the scrape got {a:?}");
    assert!(
        started.elapsed() < HEADER_TIMEOUT,
        "the scrape waited for the hostile clients"
    );
    // The first idle one was closed (for a newer one, or at its deadline).
    let mut rest = Vec::new();
    let read = tokio::time::timeout(HEADER_TIMEOUT * 3, idle[0].read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "an idle client kept its connection"
    );
    let closed = tokio::time::timeout(HEADER_TIMEOUT * 5, trickle)
        .await
        .expect("the trickling client is cut off")
        .expect("trickle task");
    assert!(closed, "the trickling client got its whole head through");
}

/// A complete request whose head is twice [`MAX_HEAD`] is not served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_is_refused() {
    let (_e, addr) = start();
    let filler = "a".repeat(2 * MAX_HEAD);
    let request = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // The server may close before it has read everything.
    let _ = s.write_all(request.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.is_empty() || out.starts_with("HTTP/1.1 431 "),
        "an oversized head got {out:?}"
    );
}
