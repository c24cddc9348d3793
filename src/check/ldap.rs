//! `service=ldap` and `ldaps`, as ldirectord's Net::LDAP check: bind (as
//! `login` with `passwd` when both are set, else anonymously), search the
//! base `request` (its leading `/` dropped) with scope base and filter
//! `(objectClass=*)`, and call the server up iff exactly one entry comes back
//! and, when `receive` is set, its DN matches it.
//!
//! The two requests are spoken directly with the bounded codec in [`ber`]
//! rather than through an LDAP client library: a client that decodes whole
//! messages recursively and synchronously let one hostile answer overflow
//! the stack (deep nesting), panic (`30 00`), buffer gigabytes (a huge
//! length) or outlive the deadline. Every read here is async, so dropping
//! the probe at its deadline ends it; each message and the whole exchange
//! are capped in bytes. ldaps verifies no certificate, like Net::LDAP's
//! default. At most two entries are read, enough to tell "exactly one".
//!
//! [`ber`]: super::ber

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::ber::{self, BerError, Reader, BOOLEAN, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE};
use super::line::unverified_tls;
use super::spec::{Credentials, Exchange};
use super::Outcome;

/// The largest message accepted: entries carry no attributes ("1.1"), so
/// a DN and a few controls; anything bigger is not a healthy answer.
const MESSAGE_LIMIT: usize = 256 * 1024;
/// The most read from one connection in all.
const TOTAL_LIMIT: usize = 1 << 20;

// Protocol operations (RFC 4511, [APPLICATION n]).
const BIND_REQUEST: u8 = 0x60;
const BIND_RESPONSE: u8 = 0x61;
const UNBIND_REQUEST: u8 = 0x42;
const SEARCH_REQUEST: u8 = 0x63;
const SEARCH_ENTRY: u8 = 0x64;
const SEARCH_DONE: u8 = 0x65;
const SEARCH_REFERENCE: u8 = 0x73;
const EXTENDED_RESPONSE: u8 = 0x78;

pub(crate) async fn check(
    addr: SocketAddr,
    tls: bool,
    exchange: &Exchange,
    credentials: &Credentials,
) -> Outcome {
    let base = exchange
        .request
        .strip_prefix('/')
        .unwrap_or(&exchange.request);
    let scheme = if tls { "ldaps" } else { "ldap" };
    let tried = format!("{scheme} bind and base search of {base:?} at {addr}");
    let dn = match connect(addr, tls, base, credentials).await {
        Ok(dn) => dn,
        Err(e) => return Outcome::down(tried, e),
    };
    match &exchange.receive {
        Some(receive) if !receive.is_match(&dn) => Outcome::down(
            tried,
            format_args!("DN {dn:?} does not match {:?}", receive.source()),
        ),
        _ => Outcome::Up,
    }
}

async fn connect(
    addr: SocketAddr,
    tls: bool,
    base: &str,
    credentials: &Credentials,
) -> Result<String, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("TCP connect: {e}"))?;
    if tls {
        let connector = TlsConnector::from(unverified_tls()?);
        let name = ServerName::IpAddress(addr.ip().into());
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        session(stream, base, credentials).await
    } else {
        session(tcp, base, credentials).await
    }
}

/// The bind and search against a server whose answers are `answer`, for
/// `fuzz/` only: whatever the bytes, an error or a DN, never a panic, and
/// never more read than the caps allow.
pub(crate) fn fuzz_session(answer: &[u8]) {
    use tokio::io::AsyncWriteExt as _;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let creds = Credentials {
            login: "cn=admin".into(),
            password: "secret".into(),
            database: String::new(),
        };
        let serve = async move {
            let _ = server.write_all(answer).await;
            let _ = server.shutdown().await;
            // Keep reading the requests, so the client never blocks on them.
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut server, &mut sink).await;
        };
        let _ = tokio::join!(serve, session(client, "dc=example", &creds));
    });
}

/// Binds, searches, and returns the DN of the one entry found.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    base: &str,
    credentials: &Credentials,
) -> Result<String, String> {
    let mut c = Conn { stream, read: 0 };
    let (dn, password) = if !credentials.login.is_empty() && !credentials.password.is_empty() {
        (credentials.login.as_str(), credentials.password.as_str())
    } else {
        ("", "")
    };
    let bind = [
        ber::small_int(INTEGER, 3),
        ber::tlv(OCTET_STRING, dn.as_bytes()),
        // simple authentication, [0] IMPLICIT OCTET STRING
        ber::tlv(0x80, password.as_bytes()),
    ]
    .concat();
    c.send(1, BIND_REQUEST, &bind)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let (op, body) = c.receive(1).await.map_err(|e| format!("bind: {e}"))?;
    if op != BIND_RESPONSE {
        return Err(format!("bind: answer {op:#04x} is not a bind response"));
    }
    result(&body).map_err(|e| format!("bind: {e}"))?;

    let search = [
        ber::tlv(OCTET_STRING, base.as_bytes()),
        ber::small_int(ENUMERATED, 0),  // scope: baseObject
        ber::small_int(ENUMERATED, 0),  // derefAliases: never
        ber::small_int(INTEGER, 2),     // sizeLimit: enough to tell "one"
        ber::small_int(INTEGER, 0),     // timeLimit: ours is the deadline
        ber::tlv(BOOLEAN, &[0]),        // typesOnly
        ber::tlv(0x87, b"objectClass"), // filter: present
        ber::tlv(SEQUENCE, &ber::tlv(OCTET_STRING, b"1.1")), // no attributes
    ]
    .concat();
    c.send(2, SEARCH_REQUEST, &search)
        .await
        .map_err(|e| format!("search: {e}"))?;
    let mut entries = Vec::new();
    while entries.len() < 2 {
        let (op, body) = c.receive(2).await.map_err(|e| format!("search: {e}"))?;
        match op {
            SEARCH_ENTRY => {
                let name = Reader::new(&body)
                    .expect(OCTET_STRING)
                    .map_err(|e| format!("search: entry: {e}"))?;
                entries.push(String::from_utf8_lossy(name).into_owned());
            }
            SEARCH_REFERENCE => {}
            SEARCH_DONE => {
                result(&body).map_err(|e| format!("search: {e}"))?;
                break;
            }
            _ => return Err(format!("search: unexpected answer {op:#04x}")),
        }
    }
    // A goodbye that fails does not make the server down.
    let _ = c.send(3, UNBIND_REQUEST, &[]).await;
    match entries.as_slice() {
        [dn] => Ok(dn.clone()),
        [] => Err("search: no entry".to_owned()),
        _ => Err("search: more than one entry".to_owned()),
    }
}

/// An LDAPResult: Ok for success (0), else its code and message.
fn result(body: &[u8]) -> Result<(), String> {
    let mut r = Reader::new(body);
    let code = r.integer(ENUMERATED).map_err(|e| e.to_string())?;
    if code == 0 {
        return Ok(());
    }
    let _matched = r.expect(OCTET_STRING);
    let text = r
        .expect(OCTET_STRING)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    Err(format!("result code {code} {text}"))
}

struct Conn<S> {
    stream: S,
    read: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn send(&mut self, id: u8, op: u8, body: &[u8]) -> Result<(), String> {
        let message = ber::tlv(
            SEQUENCE,
            &[ber::small_int(INTEGER, id), ber::tlv(op, body)].concat(),
        );
        self.stream
            .write_all(&message)
            .await
            .map_err(|e| format!("send: {e}"))?;
        self.stream.flush().await.map_err(|e| format!("send: {e}"))
    }

    /// The next answer to message `id`: its operation tag and content.
    async fn receive(&mut self, id: u8) -> Result<(u8, Vec<u8>), String> {
        let limit = MESSAGE_LIMIT.min(TOTAL_LIMIT.saturating_sub(self.read));
        if limit == 0 {
            return Err(format!("more than {TOTAL_LIMIT} bytes in answers"));
        }
        let content = ber::read_message(&mut self.stream, limit)
            .await
            .map_err(|e| match e {
                BerError::TooLong { .. } if limit < MESSAGE_LIMIT => {
                    format!("more than {TOTAL_LIMIT} bytes in answers")
                }
                e => e.to_string(),
            })?;
        self.read += content.len() + 2;
        let mut m = Reader::new(&content);
        let got = m.integer(INTEGER).map_err(|e| format!("message ID: {e}"))?;
        let (op, body) = m.next().map_err(|e| format!("operation: {e}"))?;
        if got == 0 && op == EXTENDED_RESPONSE {
            // An unsolicited notification, e.g. notice of disconnection.
            let why = result(body).err().unwrap_or_default();
            return Err(format!("server notice: {why}"));
        }
        if got != i64::from(id) {
            return Err(format!("answer to message {got}, expected {id}"));
        }
        Ok((op, body.to_vec()))
    }
}
