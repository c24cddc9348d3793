//! `service=ftp`, as ldirectord's Net::FTP check: log in (anonymous unless
//! `login` is set), CWD /, binary mode, passive mode, RETR `request`, and
//! call the server up iff the file's content matches `receive`.
//!
//! The data connection goes to the real server's address with the port from
//! the PASV (or, over IPv6, EPSV) reply: the address in a PASV reply is often
//! wrong behind NAT, and a check has no business connecting elsewhere.
//! Downloads are cut at [`TOTAL_LIMIT`].

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::line::{Conn, TOTAL_LIMIT};
use super::spec::{Credentials, Exchange};
use super::Outcome;

pub(crate) async fn check(
    addr: SocketAddr,
    exchange: &Exchange,
    credentials: &Credentials,
) -> Outcome {
    let tried = format!("FTP RETR {} from {addr}", exchange.request);
    let content = match session(addr, exchange, credentials).await {
        Ok(content) => content,
        Err(e) => return Outcome::down(tried, e),
    };
    match &exchange.receive {
        Some(receive) if !receive.is_match(&String::from_utf8_lossy(&content)) => Outcome::down(
            tried,
            format_args!(
                "{} bytes that do not match {:?}",
                content.len(),
                receive.source()
            ),
        ),
        _ => Outcome::Up,
    }
}

async fn session(
    addr: SocketAddr,
    exchange: &Exchange,
    credentials: &Credentials,
) -> Result<Vec<u8>, String> {
    let mut c = Conn::open(addr, false).await?;
    c.expect(2, "greeting").await?;
    let (user, pass) = if credentials.login.is_empty() {
        ("anonymous", "-anonymous@")
    } else {
        (credentials.login.as_str(), credentials.password.as_str())
    };
    c.command(&format!("USER {user}")).await?;
    let (code, _) = c.reply().await?;
    if code == 331 || code == 332 {
        c.command(&format!("PASS {pass}")).await?;
        c.expect(2, "login").await?;
    } else if code / 100 != 2 {
        return Err(format!("USER refused with {code}"));
    }
    // Net::FTP carries on whatever CWD answers; so do we.
    c.command("CWD /").await?;
    c.reply().await?;
    c.command("TYPE I").await?;
    c.expect(2, "TYPE I").await?;
    let port = if addr.is_ipv4() {
        c.command("PASV").await?;
        let (_, line) = c.expect(2, "PASV").await?;
        pasv_port(&line).ok_or_else(|| format!("cannot read the PASV reply {line:?}"))?
    } else {
        c.command("EPSV").await?;
        let (_, line) = c.expect(2, "EPSV").await?;
        epsv_port(&line).ok_or_else(|| format!("cannot read the EPSV reply {line:?}"))?
    };
    let data_addr = SocketAddr::new(addr.ip(), port);
    let data = TcpStream::connect(data_addr)
        .await
        .map_err(|e| format!("data connection to {data_addr}: {e}"))?;
    c.command(&format!("RETR {}", exchange.request)).await?;
    c.expect(1, "RETR").await?;
    let mut content = Vec::new();
    let n = data
        .take(TOTAL_LIMIT as u64 + 1)
        .read_to_end(&mut content)
        .await
        .map_err(|e| format!("reading the file: {e}"))?;
    if n > TOTAL_LIMIT {
        return Err(format!("file longer than {TOTAL_LIMIT} bytes"));
    }
    c.expect(2, "end of transfer").await?;
    c.command("QUIT").await?;
    let _ = c.reply().await;
    Ok(content)
}

/// The port of `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`.
fn pasv_port(line: &str) -> Option<u16> {
    // Skip the reply code; the numbers follow, usually in parentheses.
    let body = line.get(3..)?;
    let inner = body.split_once('(').map_or(body, |(_, rest)| rest);
    let numbers: Vec<u16> = inner
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match numbers[..] {
        [_, _, _, _, hi, lo] if hi < 256 && lo < 256 => Some(hi * 256 + lo),
        _ => None,
    }
}

/// The port of `229 Entering Extended Passive Mode (|||port|)`.
fn epsv_port(line: &str) -> Option<u16> {
    let inner = line.split('(').nth(1)?.split(')').next()?;
    inner.trim_matches('|').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies() {
        assert_eq!(
            pasv_port("227 Entering Passive Mode (127,0,0,1,195,80)."),
            Some(50000)
        );
        assert_eq!(pasv_port("227 =127,0,0,1,4,1"), Some(1025));
        assert_eq!(pasv_port("227 (1,2,3)"), None);
        assert_eq!(pasv_port("227 (1,2,3,4,300,1)"), None);
        assert_eq!(
            epsv_port("229 Entering Extended Passive Mode (|||50000|)"),
            Some(50000)
        );
        assert_eq!(epsv_port("229 nothing"), None);
    }
}
