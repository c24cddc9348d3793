//! `service=simpletcp`, as ldirectord's check: connect, send `request` (its
//! leading `/` dropped, `\n` turned into newlines), close the sending side,
//! and read lines until one matches `receive`.

use std::net::SocketAddr;

use super::line::Conn;
use super::spec::Exchange;
use super::Outcome;

pub(crate) async fn check(addr: SocketAddr, exchange: &Exchange) -> Outcome {
    let request = exchange
        .request
        .strip_prefix('/')
        .unwrap_or(&exchange.request)
        .replace("\\n", "\n");
    let tried = format!("send {request:?} to {addr}");
    match session(addr, &request, exchange).await {
        Ok(()) => Outcome::Up,
        Err(e) => Outcome::down(tried, e),
    }
}

async fn session(addr: SocketAddr, request: &str, exchange: &Exchange) -> Result<(), String> {
    let mut c = Conn::open(addr, false).await?;
    c.send(request.as_bytes()).await?;
    c.shutdown_write().await?;
    let mut lines = 0usize;
    while let Some(line) = c.next_line().await? {
        lines += 1;
        // Perl's empty pattern matches anything.
        if exchange
            .receive
            .as_ref()
            .map_or(true, |r| r.is_match(&line))
        {
            return Ok(());
        }
    }
    let receive = exchange.receive.as_ref().map_or("", |r| r.source());
    Err(format!(
        "no line of {lines} matched {receive:?} before the connection closed"
    ))
}
