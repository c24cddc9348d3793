//! The HTTP endpoint: `GET /metrics` and nothing else, on hyper's HTTP/1.
//!
//! It shares the daemon's runtime, so it is built not to hurt the director,
//! nor to be denied by a few idle clients: a connection gets one request
//! (no keep-alive), its head must arrive within [`HEADER_TIMEOUT`] and fit
//! in [`MAX_HEAD`] bytes, the whole exchange must end within
//! [`CONNECTION_DEADLINE`], and at most [`MAX_CONNECTIONS`] are open at
//! once. When all are taken, a new connection is still served: the oldest
//! one that has not sent its head yet (else the oldest) is closed for it,
//! so idle or trickling clients cannot lock a scraper out. The scrape itself
//! runs on the blocking pool: it reads the kernel.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{debug, warn};

use super::text;

/// A scraper sends its head at once; a client that has not within this is
/// idle or hostile.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(20);
/// hyper's smallest read buffer; a request head larger than this is refused.
pub const MAX_HEAD: usize = 8192;
/// Far more than the few scrapers a director has; each costs a socket and
/// a small task.
pub const MAX_CONNECTIONS: usize = 128;

/// Produces the exposition; called on the blocking pool at every scrape.
pub type Source = Arc<dyn Fn() -> String + Send + Sync>;

/// A listening endpoint; dropping it stops accepting (requests in flight
/// finish within their deadline).
pub struct Endpoint {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr` and serves from `source` on the current runtime (must
    /// be called inside one). Binding is synchronous so that a reload can
    /// rebind without awaiting.
    pub fn bind(addr: SocketAddr, source: Source) -> io::Result<Endpoint> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, source));
        Ok(Endpoint { local, task })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One open connection, as the accept loop sees it.
struct Open {
    abort: AbortHandle,
    /// Set once its request head has been read.
    headed: Arc<AtomicBool>,
}

/// The open connections, by accept order (the oldest first).
type Registry = Arc<Mutex<BTreeMap<u64, Open>>>;

fn lock(r: &Registry) -> std::sync::MutexGuard<'_, BTreeMap<u64, Open>> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes a connection out of the registry when its task ends, however it
/// ends (also when aborted).
struct Leave(Registry, u64);

impl Drop for Leave {
    fn drop(&mut self) {
        lock(&self.0).remove(&self.1);
    }
}

async fn accept_loop(listener: TcpListener, source: Source) {
    let open: Registry = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and the like: back off rather than spin.
                warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = next_id;
        next_id += 1;
        let headed = Arc::new(AtomicBool::new(false));
        // Hold the lock across the spawn, so that the task's `Leave` cannot
        // run before its entry is in.
        let mut table = lock(&open);
        let mut evicted = None;
        if table.len() >= MAX_CONNECTIONS {
            let victim = table
                .iter()
                .find(|(_, o)| !o.headed.load(Ordering::Relaxed))
                .or_else(|| table.iter().next())
                .map(|(id, _)| *id);
            evicted = victim.and_then(|v| table.remove(&v));
        }
        let leave = Leave(Arc::clone(&open), id);
        let source = Arc::clone(&source);
        let flag = Arc::clone(&headed);
        let task = tokio::spawn(async move {
            let _leave = leave;
            let served =
                tokio::time::timeout(CONNECTION_DEADLINE, connection(stream, source, flag));
            match served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(%peer, error = %e, "metrics: connection ended"),
                Err(_) => debug!(%peer, "metrics: connection deadline passed; closed"),
            }
        });
        table.insert(
            id,
            Open {
                abort: task.abort_handle(),
                headed,
            },
        );
        drop(table);
        // Outside the lock: the aborted task's `Leave` takes it.
        if let Some(old) = evicted {
            debug!(%peer, "metrics: all connections taken; closed the oldest idle one");
            old.abort.abort();
        }
    }
}

/// Serves one connection. The head deadline is kept here as well as by
/// hyper, so that it holds whether or not the client has sent a byte.
async fn connection(
    stream: TcpStream,
    source: Source,
    headed: Arc<AtomicBool>,
) -> Result<(), hyper::Error> {
    let mark = Arc::clone(&headed);
    let service = service_fn(move |req| {
        mark.store(true, Ordering::Relaxed);
        respond(req, Arc::clone(&source))
    });
    let serving = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        // `printf ... | nc` shuts its side once the request is sent; without
        // this hyper drops the connection instead of answering.
        .half_close(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        done = &mut serving => return done,
        () = tokio::time::sleep(HEADER_TIMEOUT) => {}
    }
    if !headed.load(Ordering::Relaxed) {
        debug!("metrics: no request head within the header timeout; closed");
        return Ok(());
    }
    serving.await
}

async fn respond(
    req: Request<Incoming>,
    source: Source,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/metrics" {
        return Ok(plain(StatusCode::NOT_FOUND, "not found; try /metrics\n"));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"));
    }
    match tokio::task::spawn_blocking(move || source()).await {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(text::CONTENT_TYPE));
            Ok(r)
        }
        Err(e) => {
            warn!(error = %e, "metrics: the scrape failed");
            Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n"))
        }
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}
