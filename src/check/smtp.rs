//! `service=smtp` and `submission`, as ldirectord's Net::SMTP check: read a
//! 2xx greeting, say EHLO (HELO if refused) and expect 250, then QUIT.

use std::net::SocketAddr;

use super::line::Conn;
use super::Outcome;

/// The name Net::SMTP introduces itself with by default.
const HELLO: &str = "localhost.localdomain";

pub(crate) async fn check(addr: SocketAddr, tls: bool) -> Outcome {
    match session(addr, tls).await {
        Ok(()) => Outcome::Up,
        Err(e) => Outcome::down(format!("SMTP greeting and EHLO at {addr}"), e),
    }
}

async fn session(addr: SocketAddr, tls: bool) -> Result<(), String> {
    let mut c = Conn::open(addr, tls).await?;
    c.expect(2, "greeting").await?;
    c.command(&format!("EHLO {HELLO}")).await?;
    let (code, line) = c.reply().await?;
    if code / 100 != 2 {
        c.command(&format!("HELO {HELLO}")).await?;
        c.expect(2, &format!("EHLO refused ({line:?}), then HELO"))
            .await?;
    }
    c.command("QUIT").await?;
    // The server is up whether or not it says goodbye nicely.
    let _ = c.reply().await;
    Ok(())
}
