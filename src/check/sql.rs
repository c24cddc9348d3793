//! `service=mysql` and `pgsql`, as ldirectord's `check_sql`: log in to
//! `database` as `login`, run `request` (a SELECT, its leading `/` dropped),
//! and call the server up iff it returns at least one row. A missing login or
//! request is a failure, as in ldirectord.
//!
//! ldirectord gives these checks no timeout at all (DBI can hang forever);
//! here they run under negotiatetimeout like the other negotiate checks. The
//! client connection is driven inside the probe's own future (no spawned
//! task), and only the first row is read, however many the query returns.
//! A MySQL connection abandoned mid-probe is closed without mysql_async's
//! background goodbye (see [`OffRuntimeDrop`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{mpsc, Mutex, OnceLock};
use std::task::{Context, Poll};

use futures_util::StreamExt;

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::io::error_chain;
use super::spec::{Credentials, Exchange};
use super::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Mysql,
    Pgsql,
}

pub(crate) async fn check(
    engine: Engine,
    addr: SocketAddr,
    exchange: &Exchange,
    credentials: &Credentials,
) -> Outcome {
    let query = exchange
        .request
        .strip_prefix('/')
        .unwrap_or(&exchange.request);
    let name = match engine {
        Engine::Mysql => "MySQL",
        Engine::Pgsql => "PostgreSQL",
    };
    let tried = format!(
        "{name} login as {:?} to {:?} at {addr}, then {query:?}",
        credentials.login, credentials.database
    );
    if credentials.login.is_empty() || query.is_empty() {
        return Outcome::down(tried, "a login and a request are required for SQL checks");
    }
    let rows = match engine {
        Engine::Mysql => mysql(addr, query, credentials).await,
        Engine::Pgsql => pgsql(addr, query, credentials).await,
    };
    match rows {
        Ok(true) => Outcome::Up,
        Ok(false) => Outcome::down(tried, "no rows"),
        Err(e) => Outcome::down(tried, e),
    }
}

/// The most a pgsql probe reads from its connection: one row is the
/// answer, and tokio-postgres would otherwise buffer a whole backend message
/// of any announced length (up to 2 GiB) before handing it over.
const PGSQL_READ_LIMIT: u64 = 1 << 20;

/// Whether the query returned a row.
async fn pgsql(addr: SocketAddr, query: &str, credentials: &Credentials) -> Result<bool, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .user(&credentials.login)
        .password(&credentials.password)
        .application_name("lvsd");
    if !credentials.database.is_empty() {
        config.dbname(&credentials.database);
    }
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("TCP connect: {e}"))?;
    let stream = Capped {
        inner: tcp,
        left: PGSQL_READ_LIMIT,
    };
    let (client, connection) = config
        .connect_raw(stream, NoTls)
        .await
        .map_err(|e| error_chain(&e))?;
    let rows = async {
        let messages = client
            .simple_query_raw(query)
            .await
            .map_err(|e| error_chain(&e))?;
        let mut messages = std::pin::pin!(messages);
        // Stop at the first row: the rest of the answer is never read.
        while let Some(m) = messages.next().await {
            if let SimpleQueryMessage::Row(_) = m.map_err(|e| error_chain(&e))? {
                return Ok(true);
            }
        }
        Ok(false)
    };
    // The connection object does the I/O; drive it here rather than in a
    // spawned task so that dropping the probe ends it.
    tokio::select! {
        rows = rows => rows,
        ended = connection => Err(match ended {
            Ok(()) => "the server closed the connection".to_owned(),
            Err(e) => error_chain(&e),
        }),
    }
}

/// A stream that fails its reads once `left` bytes have been read.
struct Capped<S> {
    inner: S,
    left: u64,
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "more than {PGSQL_READ_LIMIT} bytes in the answer"
            ))));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = (buf.filled().len() - before) as u64;
        self.left = self.left.saturating_sub(got);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The largest packet a mysql probe accepts. Left unset, mysql_async asks
/// the server its `@@max_allowed_packet` (up to 1 GiB) and buffers a packet
/// that large; a bigger one now fails the probe as soon as its header is
/// read. Until the login is done, mysql_async's own 4 MiB default applies.
const MYSQL_MAX_PACKET: usize = 1 << 20;

/// Set only so that mysql_async does not ask the server for it: it is used
/// for pooled connections' idle expiry, which a one-shot probe never meets.
const MYSQL_WAIT_TIMEOUT_SECS: usize = 28_800;

async fn mysql(addr: SocketAddr, query: &str, credentials: &Credentials) -> Result<bool, String> {
    // mysql_async offers no way to hand it our own stream, so unlike pgsql
    // there is no byte cap on the connection, only the packet limit.
    let mut opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(credentials.login.clone()))
        .pass(Some(credentials.password.clone()))
        .prefer_socket(false)
        .max_allowed_packet(Some(MYSQL_MAX_PACKET))
        .wait_timeout(Some(MYSQL_WAIT_TIMEOUT_SECS));
    if !credentials.database.is_empty() {
        opts = opts.db_name(Some(credentials.database.clone()));
    }
    let conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| error_chain(&e))?;
    let mut conn = OffRuntimeDrop(Some(conn));
    let Some(c) = conn.0.as_mut() else {
        return Err("connection lost".to_owned());
    };
    let found = async {
        let mut result = c.query_iter(query).await.map_err(|e| error_chain(&e))?;
        let row: Option<mysql_async::Row> = result.next().await.map_err(|e| error_chain(&e))?;
        // Read no further: one row is the answer.
        Ok::<bool, String>(row.is_some())
    }
    .await?;
    if let Some(c) = conn.0.take() {
        // A failed goodbye does not make the server down.
        let _ = c.disconnect().await;
    }
    Ok(found)
}

/// Holds a MySQL connection so that, if the probe ends early (deadline,
/// error), the connection is dropped on a plain thread. Dropped inside the
/// runtime, mysql_async spawns a detached task that drains the pending result
/// and says goodbye, with no time limit: against a hung server one such task
/// would pile up per probe. Outside a runtime it just closes the socket.
struct OffRuntimeDrop(Option<mysql_async::Conn>);

impl Drop for OffRuntimeDrop {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            let sender = dropper().lock().unwrap_or_else(|p| p.into_inner());
            if let Err(returned) = sender.send(conn) {
                // The dropper thread is gone: closing here is still better
                // than keeping the socket.
                drop(returned.0);
            }
        }
    }
}

fn dropper() -> &'static Mutex<mpsc::Sender<mysql_async::Conn>> {
    static DROPPER: OnceLock<Mutex<mpsc::Sender<mysql_async::Conn>>> = OnceLock::new();
    DROPPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<mysql_async::Conn>();
        let spawned = std::thread::Builder::new()
            .name("lvsd-mysql-drop".into())
            .spawn(move || rx.into_iter().for_each(drop));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the MySQL connection dropper thread");
        }
        Mutex::new(tx)
    })
}
