//! A backend's text is escaped before it leaves a probe: a PostgreSQL peer
//! on loopback whose login error carries terminal escapes and a newline
//! followed by a forged log line.

mod check_support;

use std::time::Duration;

use check_support::{creds, probe, run};
use lvsd::check::spec::Exchange;
use lvsd::check::{CheckKind, Outcome, Prober, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Clears the screen, retitles the terminal, then starts a line of its own.
const HOSTILE: &str =
    "password authentication failed\x1b[2J\x1b]0;owned\x07\r\nlvsd[1]: real 10.0.0.9:80 up\u{9b}31m";

/// Answers the startup message with a FATAL ErrorResponse whose message
/// is `HOSTILE` (declining TLS first if the client asks for it).
async fn hostile_postgres() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        loop {
            let len = s.read_u32().await.unwrap() as usize;
            let mut body = vec![0; len - 4];
            s.read_exact(&mut body).await.unwrap();
            // SSLRequest: its code is 80877103.
            if body[..4] == 80_877_103u32.to_be_bytes() {
                s.write_all(b"N").await.unwrap();
                continue;
            }
            break;
        }
        let mut fields = Vec::new();
        for (tag, value) in [(b'S', "FATAL"), (b'C', "28P01"), (b'M', HOSTILE)] {
            fields.push(tag);
            fields.extend_from_slice(value.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
        msg.extend_from_slice(&fields);
        s.write_all(&msg).await.unwrap();
        // Hold the socket until the client has read the answer.
        let _ = s.read(&mut [0; 64]).await;
    });
    addr
}

#[tokio::test]
async fn a_hostile_sql_error_reaches_the_outcome_escaped() {
    let addr = hostile_postgres().await;
    let service = Service::Pgsql {
        exchange: Exchange {
            request: "/SELECT 1".into(),
            ..Exchange::default()
        },
        credentials: creds("lvsd", "secret", "db"),
    };
    let p = probe(addr, CheckKind::Negotiate(service), Duration::from_secs(5));
    let (outcome, _) = run(&Prober::new(), &p).await;
    let Outcome::Down(f) = &outcome else {
        panic!("expected down, got up");
    };
    let text = outcome.to_string();
    assert!(
        !text.chars().any(char::is_control),
        "control characters left in {text:?}"
    );
    assert!(
        f.got
            .contains(r"failed\x1b[2J\x1b]0;owned\x07\r\nlvsd[1]: real 10.0.0.9:80 up\u{9b}31m"),
        "{}",
        f.got
    );
}
