//! `verifytls`, `tlscafile`, `tlsname` and `expectstatus` from a .cf file
//! to a probe: the configuration goes through the director's spec building
//! and the real prober, against a TLS server on loopback (tokio-rustls in
//! this process) holding a good, an expired and a wrong-name certificate
//! that `openssl` issues here.

mod check_support;
mod config_common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use check_support::{assert_down, assert_up, must, tempdir, write};
use lvsd::check::{run_once, Outcome, Prober};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA (`ca.crt`, `ca.key`) in `dir`.
fn ca(dir: &Path) -> PathBuf {
    let (key, crt) = (dir.join("ca.key"), dir.join("ca.crt"));
    let mut args = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=lvsd tls test CA",
    ];
    args.extend(EC);
    let (k, c) = (key.display().to_string(), crt.display().to_string());
    args.extend(["-keyout", &k, "-out", &c]);
    must("openssl", &args);
    crt
}

/// A certificate `NAME.crt`/`NAME.key` the CA in `dir` signs for `san`,
/// valid for `days` (-1: it expired before it was issued).
fn issue(dir: &Path, name: &str, san: &str, days: &str) -> (PathBuf, PathBuf) {
    let d = |f: String| dir.join(f).display().to_string();
    let (key, csr, crt) = (
        d(format!("{name}.key")),
        d(format!("{name}.csr")),
        d(format!("{name}.crt")),
    );
    let mut args = vec!["req", "-subj", "/CN=lvsd tls test server"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &csr]);
    must("openssl", &args);
    let ext = write(
        dir,
        &format!("{name}.ext"),
        &format!("subjectAltName={san}\n"),
    );
    let (ca_crt, ca_key, ext) = (
        d("ca.crt".into()),
        d("ca.key".into()),
        ext.display().to_string(),
    );
    must(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            days,
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ],
    );
    (PathBuf::from(crt), PathBuf::from(key))
}

/// Serves HTTPS with `cert` on a loopback port: every request gets
/// `status` and a body naming the SNI the client sent.
async fn serve(cert: &Path, key: &Path, status: u16) -> SocketAddr {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().unwrap_or("").to_owned();
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = format!("ok sni=[{sni}]");
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// The one probe the director builds for a virtual with `extra` lines, its
/// real the server at `addr`, run once.
async fn check(addr: SocketAddr, extra: &str) -> Outcome {
    let text = format!(
        "checktimeout=5\nquiescent=no\nvirtual=10.0.0.100:443\n\treal={addr} masq\n\
         \tservice=https\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"ok\"\n{extra}"
    );
    let loaded = config_common::cf(&text);
    assert!(
        !loaded.has_errors(),
        "{text}\n{:#?}",
        config_common::errors(&loaded)
    );
    let specs = lvsd::director::checks::specs(&loaded.config).unwrap();
    assert_eq!(specs.len(), 1);
    run_once(&Prober::new(), &specs[0].probe).await
}

#[tokio::test]
async fn verification_follows_the_directives() {
    let dir = tempdir("lvsd-tls-verify");
    let ca = ca(dir.path());
    let ca = ca.display();
    let (good_crt, good_key) = issue(dir.path(), "good", "DNS:www.example.test", "2");
    let (old_crt, old_key) = issue(dir.path(), "expired", "DNS:www.example.test", "-1");
    let (ip_crt, ip_key) = issue(dir.path(), "ip", "IP:127.0.0.1", "2");
    let good = serve(&good_crt, &good_key, 200).await;
    let expired = serve(&old_crt, &old_key, 200).await;
    let by_ip = serve(&ip_crt, &ip_key, 200).await;
    let forbidden = serve(&good_crt, &good_key, 403).await;

    let verify = format!("\tverifytls=yes\n\ttlscafile={ca}\n\ttlsname=www.example.test\n");

    // ldirectord's behaviour by default: nothing is verified, no SNI.
    let o = check(expired, "").await;
    assert_up(&o, "an expired certificate, unverified");
    assert_eq!(o, Outcome::Up);

    assert_up(
        &check(good, &verify).await,
        "good certificate, our CA, its name",
    );
    // The name is sent as SNI: the body names it and receive= sees it.
    let sni = verify.clone() + "\treceive=\"sni=\\[www\\.example\\.test\\]\"\n";
    assert_up(&check(good, &sni).await, "the name goes out as SNI");
    // virtualhost's host is the name when tlsname is not set.
    let vhost = format!("\tverifytls=yes\n\ttlscafile={ca}\n\tvirtualhost=www.example.test\n");
    assert_up(&check(good, &vhost).await, "virtualhost is the name");

    assert_down(
        &check(expired, &verify).await,
        "expired",
        "an expired certificate, verified",
    );
    let other = format!("\tverifytls=yes\n\ttlscafile={ca}\n\ttlsname=other.example.test\n");
    assert_down(
        &check(good, &other).await,
        "certificate",
        "a certificate for another name",
    );
    // Without our CA the built-in public roots are the anchors: refused.
    assert_down(
        &check(good, "\tverifytls=yes\n\ttlsname=www.example.test\n").await,
        "certificate",
        "a certificate of an unknown CA",
    );
    // Another CA's file: only its certificates are anchors, so refused.
    let other_dir = tempdir("lvsd-tls-other-ca");
    let other_ca = self::ca(other_dir.path());
    let other_ca = format!(
        "\tverifytls=yes\n\ttlscafile={}\n\ttlsname=www.example.test\n",
        other_ca.display()
    );
    assert_down(
        &check(good, &other_ca).await,
        "certificate",
        "a certificate of a CA other than tlscafile's",
    );
    // No name at all: the certificate must hold the real's address.
    let no_name = format!("\tverifytls=yes\n\ttlscafile={ca}\n");
    assert_down(
        &check(good, &no_name).await,
        "certificate",
        "a name-only certificate verified against the real's address",
    );
    assert_up(
        &check(by_ip, &no_name).await,
        "a certificate for the real's address",
    );

    // expectstatus: the statuses that are up, instead of any 2xx.
    assert_down(&check(forbidden, "").await, "403", "403 by default");
    assert_up(
        &check(forbidden, "\texpectstatus=200,401-403\n").await,
        "403 listed",
    );
    assert_down(
        &check(good, "\texpectstatus=204\n").await,
        "200",
        "200 not listed",
    );
}
