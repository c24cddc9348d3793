//! service=pgsql against hostile "PostgreSQL" servers on loopback (review
//! issue 15): one that streams rows for ever, one that announces a huge
//! row. The probe reads the first row only and caps what it reads, so
//! memory stays bounded and the probe ends within its deadline.

mod check_support;

use std::net::SocketAddr;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::Exchange;
use lvsd::check::{CheckKind, Prober, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);

/// One backend message: type byte, length (counting itself), body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Reads one frontend message whose first `type_byte` bytes are its type.
async fn read_frontend(s: &mut TcpStream, type_byte: bool) -> bool {
    if type_byte && s.read_u8().await.is_err() {
        return false;
    }
    let Ok(len) = s.read_u32().await else {
        return false;
    };
    let mut body = vec![0; (len as usize).saturating_sub(4)];
    s.read_exact(&mut body).await.is_ok()
}

#[derive(Clone, Copy)]
enum Rows {
    /// A one-column row description, then rows of "1" for ever.
    Endless,
    /// A DataRow announcing almost 2 GiB, then zeros for ever.
    Huge,
}

async fn postgres(rows: Rows) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Startup message, then trust: authenticated and ready.
                if !read_frontend(&mut s, false).await {
                    return;
                }
                let hello = [message(b'R', &0u32.to_be_bytes()), message(b'Z', b"I")].concat();
                if s.write_all(&hello).await.is_err() || !read_frontend(&mut s, true).await {
                    return;
                }
                match rows {
                    Rows::Endless => {
                        let mut field = b"x\0".to_vec();
                        field.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff]);
                        field.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0]);
                        let desc = message(b'T', &[&[0u8, 1][..], &field].concat());
                        if s.write_all(&desc).await.is_err() {
                            return;
                        }
                        let row = message(b'D', &[0, 1, 0, 0, 0, 1, b'1']);
                        let many = row.repeat(4096);
                        while s.write_all(&many).await.is_ok() {}
                    }
                    Rows::Huge => {
                        let mut head = vec![b'D'];
                        head.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
                        if s.write_all(&head).await.is_err() {
                            return;
                        }
                        let zeros = vec![0u8; 64 * 1024];
                        while s.write_all(&zeros).await.is_ok() {}
                    }
                }
            });
        }
    });
    addr
}

fn pgsql(addr: SocketAddr) -> lvsd::check::Probe {
    let service = Service::Pgsql {
        exchange: Exchange {
            request: "/SELECT 1".into(),
            receive: None,
        },
        credentials: creds("lvsd", "secret", "db"),
    };
    probe(addr, CheckKind::Negotiate(service), T)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgsql_stops_at_the_first_of_endless_rows() {
    // simple_query collected every row: 1,989 MiB of RSS in 6 s.
    let addr = postgres(Rows::Endless).await;
    let before = rss_kib();
    let (o, took) = run(&Prober::new(), &pgsql(addr)).await;
    let grown = rss_kib().saturating_sub(before);
    assert_up(&o, "endless rows");
    assert_within(took, T, "endless rows");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgsql_refuses_a_huge_row_past_its_read_cap() {
    let addr = postgres(Rows::Huge).await;
    let before = rss_kib();
    let (o, took) = run(&Prober::new(), &pgsql(addr)).await;
    let grown = rss_kib().saturating_sub(before);
    assert_down(&o, "more than", "a 2 GiB row");
    assert_within(took, T, "a 2 GiB row");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}
