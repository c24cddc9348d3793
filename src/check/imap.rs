//! `service=imap` and `imaps`, as ldirectord's Net::IMAP::Simple check: read
//! the `* OK` greeting and, when `login` is set, LOGIN; then LOGOUT. imaps is
//! TLS from the first byte.

use std::net::SocketAddr;

use super::line::Conn;
use super::spec::Credentials;
use super::Outcome;

/// Untagged lines tolerated before a tagged answer.
const MAX_UNTAGGED: usize = 100;

pub(crate) async fn check(addr: SocketAddr, tls: bool, credentials: &Credentials) -> Outcome {
    let login = if credentials.login.is_empty() {
        String::new()
    } else {
        format!(" and LOGIN as {:?}", credentials.login)
    };
    match session(addr, tls, credentials).await {
        Ok(()) => Outcome::Up,
        Err(e) => Outcome::down(format!("IMAP greeting{login} at {addr}"), e),
    }
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Reads until the line tagged `tag` and requires it to be OK.
async fn tagged(c: &mut Conn, tag: &str) -> Result<(), String> {
    for _ in 0..MAX_UNTAGGED {
        let line = c.line().await?;
        if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            return if rest.starts_with("OK") {
                Ok(())
            } else {
                Err(format!("{line:?}"))
            };
        }
    }
    Err(format!("no answer to {tag} within {MAX_UNTAGGED} lines"))
}

async fn session(addr: SocketAddr, tls: bool, credentials: &Credentials) -> Result<(), String> {
    let mut c = Conn::open(addr, tls).await?;
    let greeting = c.line().await?;
    if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
        return Err(format!("greeting: {greeting:?}"));
    }
    if !credentials.login.is_empty() {
        let login = format!(
            "a1 LOGIN {} {}",
            quote(&credentials.login),
            quote(&credentials.password)
        );
        c.command(&login).await?;
        tagged(&mut c, "a1")
            .await
            .map_err(|e| format!("LOGIN: {e}"))?;
    }
    c.command("a2 LOGOUT").await?;
    let _ = tagged(&mut c, "a2").await;
    Ok(())
}
