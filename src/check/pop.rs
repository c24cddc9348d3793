//! `service=pop` and `pops`, as ldirectord's Mail::POP3Client check: read
//! the `+OK` greeting and, when `login` is set, log in with USER and PASS.
//! pops is TLS from the first byte.

use std::net::SocketAddr;

use super::line::Conn;
use super::spec::Credentials;
use super::Outcome;

pub(crate) async fn check(addr: SocketAddr, tls: bool, credentials: &Credentials) -> Outcome {
    let login = if credentials.login.is_empty() {
        String::new()
    } else {
        format!(" and login as {:?}", credentials.login)
    };
    match session(addr, tls, credentials).await {
        Ok(()) => Outcome::Up,
        Err(e) => Outcome::down(format!("POP3 greeting{login} at {addr}"), e),
    }
}

async fn ok(c: &mut Conn, after: &str) -> Result<(), String> {
    let line = c.line().await?;
    if line.starts_with("+OK") {
        Ok(())
    } else {
        Err(format!("{after}: {line:?}"))
    }
}

async fn session(addr: SocketAddr, tls: bool, credentials: &Credentials) -> Result<(), String> {
    let mut c = Conn::open(addr, tls).await?;
    ok(&mut c, "greeting").await?;
    if !credentials.login.is_empty() {
        c.command(&format!("USER {}", credentials.login)).await?;
        ok(&mut c, "USER").await?;
        c.command(&format!("PASS {}", credentials.password)).await?;
        ok(&mut c, "PASS").await?;
    }
    c.command("QUIT").await?;
    let _ = c.line().await;
    Ok(())
}
