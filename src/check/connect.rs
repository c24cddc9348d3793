//! `checktype=connect`: a TCP connect to the real server, closed at once.
//!
//! For UDP virtuals ldirectord pings instead (a UDP "connect" proves
//! nothing); the prober routes those to [`super::ping`], and SCTP virtuals
//! to [`super::sctp`].

use tokio::net::TcpStream;

use super::spec::Probe;
use super::Outcome;

pub(crate) async fn check(probe: &Probe) -> Outcome {
    let addr = probe.addr();
    match TcpStream::connect(addr).await {
        Ok(stream) => {
            drop(stream);
            Outcome::Up
        }
        Err(e) => Outcome::down(format!("TCP connect to {addr}"), e),
    }
}
