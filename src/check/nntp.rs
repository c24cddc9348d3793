//! `service=nntp`, as ldirectord's check: connect, read (at most 64 bytes of)
//! the greeting, and call the server up iff it starts with `2`.

use std::net::SocketAddr;

use super::line::{lossy, Conn};
use super::Outcome;

pub(crate) async fn check(addr: SocketAddr) -> Outcome {
    let tried = format!("NNTP greeting at {addr}");
    let mut c = match Conn::open(addr, false).await {
        Ok(c) => c,
        Err(e) => return Outcome::down(tried, e),
    };
    match c.some(64).await {
        Ok(greeting) if greeting.first() == Some(&b'2') => Outcome::Up,
        Ok(greeting) if greeting.is_empty() => Outcome::down(tried, "connection closed"),
        Ok(greeting) => Outcome::down(tried, format_args!("{:?}", lossy(&greeting))),
        Err(e) => Outcome::down(tried, e),
    }
}
