//! service=ldap against hostile directory servers on loopback: answers that
//! crashed, panicked, or ballooned the director through its LDAP client
//! (review issue 15) must give Down with a reason, in bounded memory and
//! within the probe's deadline.

mod check_support;

use std::net::SocketAddr;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Credentials, Exchange};
use lvsd::check::{CheckKind, Probe, Prober, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(5);

fn ldap_probe(addr: SocketAddr, deadline: Duration) -> Probe {
    let service = Service::Ldap {
        tls: false,
        exchange: Exchange {
            request: "/dc=example,dc=test".into(),
            receive: None,
        },
        credentials: Credentials::default(),
    };
    probe(addr, CheckKind::Negotiate(service), deadline)
}

/// What the fake server does once the bind request is in.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes, then reads until the client goes.
    Bytes(Vec<u8>),
    /// Writes `head`, then zeros for as long as the client reads.
    Endless(&'static [u8]),
    /// Writes these bytes one every 200 ms, over and over.
    Trickle(&'static [u8]),
}

async fn directory(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                if !matches!(s.read(&mut request).await, Ok(n) if n > 0) {
                    return;
                }
                match answer {
                    Answer::Bytes(b) => {
                        let _ = s.write_all(&b).await;
                        while matches!(s.read(&mut request).await, Ok(n) if n > 0) {}
                    }
                    Answer::Endless(head) => {
                        if s.write_all(head).await.is_err() {
                            return;
                        }
                        let zeros = vec![0u8; 64 * 1024];
                        while s.write_all(&zeros).await.is_ok() {}
                    }
                    Answer::Trickle(bytes) => {
                        for b in bytes.iter().cycle() {
                            if s.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A definite-length BER header for `len` content bytes with `tag`.
fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut h = vec![tag];
    if len < 0x80 {
        h.push(len as u8);
    } else {
        h.push(0x84);
        h.extend_from_slice(&(len as u32).to_be_bytes());
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_nested_sequences_are_down_not_a_crash() {
    // Overflowed a worker's stack through ldap3's recursive decoder and
    // aborted the whole process.
    let mut answer = vec![0x30, 0x00];
    for _ in 0..10_000 {
        let mut wrapped = header(0x30, answer.len());
        wrapped.extend_from_slice(&answer);
        answer = wrapped;
    }
    let addr = directory(Answer::Bytes(answer)).await;
    let (o, took) = run(&Prober::new(), &ldap_probe(addr, T)).await;
    assert_down(&o, "bind", "10,000 nested SEQUENCEs");
    assert_within(took, T, "10,000 nested SEQUENCEs");
}

#[tokio::test]
async fn an_empty_message_is_down_not_a_panic() {
    let addr = directory(Answer::Bytes(vec![0x30, 0x00])).await;
    let (o, _) = run(&Prober::new(), &ldap_probe(addr, T)).await;
    assert_down(&o, "bind", "the answer 30 00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_message_is_refused_without_reading_it() {
    // A 64 MiB LDAPMessage took ldap3 to gigabytes of RSS and past the
    // deadline; the cap refuses it from its length alone.
    let addr = directory(Answer::Endless(b"\x30\x84\x04\x00\x00\x00")).await;
    let before = rss_kib();
    let (o, took) = run(&Prober::new(), &ldap_probe(addr, T)).await;
    let grown = rss_kib().saturating_sub(before);
    assert_down(&o, "more than", "a 64 MiB answer");
    assert_within(took, T, "a 64 MiB answer");
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test]
async fn a_trickled_answer_ends_at_the_deadline() {
    // A well-formed bind response, a byte every 200 ms: never complete
    // within a one-second deadline.
    let deadline = Duration::from_secs(1);
    let addr = directory(Answer::Trickle(
        b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00",
    ))
    .await;
    let (o, took) = run(&Prober::new(), &ldap_probe(addr, deadline)).await;
    assert_down(&o, "no answer within", "a trickled answer");
    assert_within(took, deadline, "a trickled answer");
}

#[tokio::test]
async fn a_well_formed_exchange_is_up_and_a_wrong_message_id_is_down() {
    let bind_ok = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00".to_vec();
    let entry = b"\x30\x1b\x02\x01\x02\x64\x16\x04\x12dc=example,dc=test\x30\x00".to_vec();
    let done = b"\x30\x0c\x02\x01\x02\x65\x07\x0a\x01\x00\x04\x00\x04\x00".to_vec();
    let addr = directory(Answer::Bytes([bind_ok.clone(), entry, done].concat())).await;
    let (o, _) = run(&Prober::new(), &ldap_probe(addr, T)).await;
    assert_up(&o, "bind, one entry, done");
    let mut wrong = bind_ok;
    wrong[4] = 9;
    let addr = directory(Answer::Bytes(wrong)).await;
    let (o, _) = run(&Prober::new(), &ldap_probe(addr, T)).await;
    assert_down(&o, "expected 1", "a bind response to another message");
}
