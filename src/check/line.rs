//! A connection for the line-based protocols (smtp, pop, imap, nntp, ftp,
//! simpletcp): TCP, optionally wrapped in TLS from the first byte (pops,
//! imaps), with reads bounded per line and in total so a hostile server can
//! neither stall a probe past its deadline nor make it buffer without end.
//!
//! TLS verifies nothing, as ldirectord's Perl modules do by default: the
//! check asks whether the service answers, not who it claims to be.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    ClientConfig, DigitallySignedStruct, Error as TlsError, SignatureScheme,
};
use tokio_rustls::TlsConnector;

/// The longest line a probe accepts.
pub(crate) const LINE_LIMIT: usize = 8 * 1024;
/// The most a probe reads from one connection in total.
pub(crate) const TOTAL_LIMIT: usize = 1 << 20;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A buffered, bounded connection.
pub(crate) struct Conn {
    inner: BufReader<Box<dyn Stream>>,
    read: usize,
    local: SocketAddr,
}

impl Conn {
    /// Connects to `addr`, with TLS when `tls` is set.
    pub(crate) async fn open(addr: SocketAddr, tls: bool) -> Result<Conn, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("TCP connect: {e}"))?;
        let local = tcp
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let stream: Box<dyn Stream> = if tls {
            let connector = TlsConnector::from(unverified_tls()?);
            let name = ServerName::IpAddress(addr.ip().into());
            Box::new(
                connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?,
            )
        } else {
            Box::new(tcp)
        };
        Ok(Conn {
            inner: BufReader::new(stream),
            read: 0,
            local,
        })
    }

    /// Our end of the connection.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Reads the next line (without its CR LF); `None` at a clean end of
    /// stream. A last line cut by the end of stream is still a line. A line
    /// longer than [`LINE_LIMIT`] is an error.
    pub(crate) async fn next_line(&mut self) -> Result<Option<String>, String> {
        let budget = LINE_LIMIT.min(TOTAL_LIMIT.saturating_sub(self.read)) as u64;
        if budget == 0 {
            return Err(format!(
                "more than {TOTAL_LIMIT} bytes without the expected answer"
            ));
        }
        let mut buf = Vec::new();
        let n = (&mut self.inner)
            .take(budget)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        self.read += n;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() != Some(&b'\n') && n as u64 == budget {
            return Err(format!("a line longer than {budget} bytes"));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some(lossy(&buf)))
    }

    /// Reads one line; the end of stream is an error here.
    pub(crate) async fn line(&mut self) -> Result<String, String> {
        self.next_line()
            .await?
            .ok_or_else(|| "connection closed".to_owned())
    }

    /// Reads an SMTP/FTP-style reply: `ddd-text` lines continued until a
    /// `ddd text` line. Returns the code and the last line.
    pub(crate) async fn reply(&mut self) -> Result<(u16, String), String> {
        loop {
            let line = self.line().await?;
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(format!("not a reply line: {line:?}"));
            };
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, line));
            }
        }
    }

    /// Reads a reply and requires its code to start with `class` (e.g. 2).
    pub(crate) async fn expect(
        &mut self,
        class: u16,
        after: &str,
    ) -> Result<(u16, String), String> {
        let (code, line) = self.reply().await?;
        if code / 100 != class {
            return Err(format!("{after}: {line:?}"));
        }
        Ok((code, line))
    }

    /// Reads up to `max` bytes as they come (at least one, unless closed).
    pub(crate) async fn some(&mut self, max: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; max];
        let n = self
            .inner
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        self.read += n;
        buf.truncate(n);
        Ok(buf)
    }

    /// Sends `text` as is.
    pub(crate) async fn send(&mut self, text: &[u8]) -> Result<(), String> {
        let stream = self.inner.get_mut();
        stream
            .write_all(text)
            .await
            .map_err(|e| format!("write: {e}"))?;
        stream.flush().await.map_err(|e| format!("write: {e}"))
    }

    /// Sends `line` followed by CR LF.
    pub(crate) async fn command(&mut self, line: &str) -> Result<(), String> {
        self.send(format!("{line}\r\n").as_bytes()).await
    }

    /// Closes the sending side (the peer sees end of file).
    pub(crate) async fn shutdown_write(&mut self) -> Result<(), String> {
        self.inner
            .get_mut()
            .shutdown()
            .await
            .map_err(|e| format!("shutdown: {e}"))
    }
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A client configuration that accepts any certificate (see module docs).
pub(crate) fn unverified_tls() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(ring::default_provider());
            let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Accepts every certificate but still checks handshake signatures, so the
/// TLS session itself is sound.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
