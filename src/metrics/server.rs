//! The HTTP endpoint: `GET /metrics` and nothing else, on hyper's HTTP/1.
//!
//! It shares the daemon's runtime, so it is built not to hurt the director:
//! a connection gets one request (no keep-alive), its head must arrive
//! within [`HEADER_TIMEOUT`] and fit in [`MAX_HEAD`] bytes, the whole
//! exchange must end within [`CONNECTION_DEADLINE`], and at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed at accept). The
//! scrape itself runs on the blocking pool: it reads the kernel.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
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
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::text;

pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(20);
/// hyper's smallest read buffer; a request head larger than this is refused.
pub const MAX_HEAD: usize = 8192;
pub const MAX_CONNECTIONS: usize = 8;

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

async fn accept_loop(listener: TcpListener, source: Source) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(%peer, "metrics: too many connections; closing");
            continue;
        };
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            let served = tokio::time::timeout(CONNECTION_DEADLINE, connection(stream, source));
            match served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(%peer, error = %e, "metrics: connection ended"),
                Err(_) => debug!(%peer, "metrics: connection deadline passed; closed"),
            }
            drop(permit);
        });
    }
}

async fn connection(stream: TcpStream, source: Source) -> Result<(), hyper::Error> {
    let service = service_fn(move |req| respond(req, Arc::clone(&source)));
    http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        // `printf ... | nc` shuts its side once the request is sent; without
        // this hyper drops the connection instead of answering.
        .half_close(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
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
