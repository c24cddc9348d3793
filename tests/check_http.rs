//! service=http, https and http_proxy against a real nginx (Debian's
//! nginx-light) on loopback, and against hostile backends.
//!
//! nginx starts once, inside the one test that uses it, so its cases run in
//! sequence and the "server stopped mid-run" case can end it.

mod check_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Exchange, Http, HttpMethod, Receive};
use lvsd::check::{CheckKind, CheckSpec, Engine, Health, Outcome, Prober, Service};

const T: Duration = Duration::from_secs(3);

fn http(tls: bool, request: &str, receive: &str) -> Http {
    Http {
        tls,
        exchange: Exchange {
            request: request.to_owned(),
            receive: (!receive.is_empty()).then(|| Receive::new(receive).expect("valid regex")),
        },
        virtual_host: None,
        method: HttpMethod::Get,
        verify_tls: false,
        ca_file: None,
        tls_name: None,
        expect_status: vec![],
    }
}

fn negotiate(addr: SocketAddr, h: Http) -> lvsd::check::Probe {
    probe(addr, CheckKind::Negotiate(Service::Http(h)), T)
}

struct Nginx {
    _daemon: Daemon,
    _dir: tempfile::TempDir,
    http: u16,
    https: u16,
    proxy: u16,
    ca: std::path::PathBuf,
}

fn start_nginx() -> Nginx {
    let nginx = binary("/usr/sbin/nginx", "nginx-light");
    let dir = tempdir("lvsd-nginx");
    certificates(dir.path());
    let (http, https, proxy) = (free_port(), free_port(), free_port());
    let d = dir.path().display();
    let conf = format!(
        r#"daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  default_type text/plain;
  server {{
    listen 127.0.0.1:{http} default_server; listen [::1]:{http} default_server;
    location = /ok {{ return 200 "hello lvsd\n"; }}
    location = /teapot {{ return 418; }}
    location = /redirect {{ return 302 /ok; }}
    location = /via {{ return 200 "via=$http_x_via\n"; }}
  }}
  server {{
    listen 127.0.0.1:{http}; server_name www.example.test;
    location / {{ return 200 "vhost www.example.test\n"; }}
  }}
  server {{
    listen 127.0.0.1:{https} ssl;
    ssl_certificate {d}/srv.crt; ssl_certificate_key {d}/srv.key;
    location = /ok {{ return 200 "hello tls\n"; }}
    location = /sni {{ return 200 "sni=[$ssl_server_name]\n"; }}
  }}
  server {{
    listen 127.0.0.1:{proxy};
    location / {{ proxy_set_header X-Via proxy; proxy_pass http://$http_host$uri$is_args$args; }}
  }}
}}
"#
    );
    let conf_path = write(dir.path(), "nginx.conf", &conf);
    let mut command = Command::new(nginx);
    command
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.path().join("error.log"));
    let mut daemon = Daemon::spawn("nginx", &mut command);
    for port in [http, https, proxy] {
        wait_listening(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "nginx",
            Some(&mut daemon.child),
        );
    }
    Nginx {
        _daemon: daemon,
        ca: dir.path().join("ca.crt"),
        _dir: dir,
        http,
        https,
        proxy,
    }
}

async fn case(prober: &Prober, name: &str, addr: SocketAddr, h: Http, want_up: bool, needle: &str) {
    let (o, took) = run(prober, &negotiate(addr, h)).await;
    if want_up {
        assert_up(&o, name);
    } else {
        assert_down(&o, needle, name);
    }
    assert_within(took, T, name);
}

#[tokio::test]
async fn http_https_and_proxy_against_nginx() {
    let mut nginx = start_nginx();
    let p = Prober::new();
    let v4 = SocketAddr::from(([127, 0, 0, 1], nginx.http));
    let v6: SocketAddr = format!("[::1]:{}", nginx.http).parse().unwrap();
    let tls = SocketAddr::from(([127, 0, 0, 1], nginx.https));
    let proxy = SocketAddr::from(([127, 0, 0, 1], nginx.proxy));

    case(&p, "GET /ok", v4, http(false, "/ok", "hello"), true, "").await;
    case(
        &p,
        "GET /ok over IPv6",
        v6,
        http(false, "ok", "^hello lvsd$"),
        true,
        "",
    )
    .await;
    case(&p, "no receive", v4, http(false, "/ok", ""), true, "").await;
    // Perl regex features: a backreference and a lookahead.
    case(
        &p,
        "backreference",
        v4,
        http(false, "/ok", r"he(l)\1o"),
        true,
        "",
    )
    .await;
    case(
        &p,
        "lookahead",
        v4,
        http(false, "/ok", r"hello(?= lvsd)"),
        true,
        "",
    )
    .await;
    case(
        &p,
        "wrong receive",
        v4,
        http(false, "/ok", "goodbye"),
        false,
        "does not match",
    )
    .await;
    case(
        &p,
        "negative lookahead",
        v4,
        http(false, "/ok", r"hello(?! lvsd)"),
        false,
        "does not match",
    )
    .await;
    case(
        &p,
        "status 418",
        v4,
        http(false, "/teapot", ""),
        false,
        "418",
    )
    .await;
    case(&p, "404", v4, http(false, "/missing", ""), false, "404").await;
    let mut expect = http(false, "/teapot", "");
    expect.expect_status = vec![418];
    case(&p, "expected status 418", v4, expect, true, "").await;
    case(
        &p,
        "redirect followed",
        v4,
        http(false, "/redirect", "hello lvsd"),
        true,
        "",
    )
    .await;
    let absolute = format!("http://127.0.0.1:{}/ok", nginx.http);
    case(
        &p,
        "absolute URL",
        closed_port(),
        http(false, &absolute, "hello"),
        true,
        "",
    )
    .await;
    let mut vhost = http(false, "/", "vhost www.example.test");
    vhost.virtual_host = Some("www.example.test".into());
    case(&p, "virtualhost as Host:", v4, vhost, true, "").await;
    let mut head = http(false, "/ok", "");
    head.method = HttpMethod::Head;
    case(&p, "HEAD", v4, head, true, "").await;
    case(
        &p,
        "closed port",
        closed_port(),
        http(false, "/ok", ""),
        false,
        "connect",
    )
    .await;

    // https: ldirectord verifies nothing and sends no SNI.
    case(
        &p,
        "https unverified",
        tls,
        http(true, "/ok", "hello tls"),
        true,
        "",
    )
    .await;
    case(
        &p,
        "https without SNI",
        tls,
        http(true, "/sni", r"sni=\[\]"),
        true,
        "",
    )
    .await;
    case(
        &p,
        "plain http to https",
        tls,
        http(false, "/ok", ""),
        false,
        "400",
    )
    .await;
    let mut verify = http(true, "/sni", r"sni=\[www\.example\.test\]");
    verify.virtual_host = Some("www.example.test".into());
    verify.verify_tls = true;
    case(
        &p,
        "verify without our CA",
        tls,
        verify.clone(),
        false,
        "certificate",
    )
    .await;
    verify.ca_file = Some(nginx.ca.clone());
    case(
        &p,
        "verify with our CA sends SNI",
        tls,
        verify.clone(),
        true,
        "",
    )
    .await;
    verify.virtual_host = Some("other.example.test".into());
    verify.exchange.receive = None;
    case(
        &p,
        "verify with the wrong name",
        tls,
        verify,
        false,
        "certificate",
    )
    .await;

    // http_proxy: the real server is a proxy; the request is the URL.
    let via = format!("http://127.0.0.1:{}/via", nginx.http);
    let (o, _) = run(
        &p,
        &probe(
            proxy,
            CheckKind::Negotiate(Service::HttpProxy(http(false, &via, "via=proxy"))),
            T,
        ),
    )
    .await;
    assert_up(&o, "http_proxy");
    let (o, _) = run(
        &p,
        &probe(
            v4,
            CheckKind::Negotiate(Service::HttpProxy(http(false, &via, "via=proxy"))),
            T,
        ),
    )
    .await;
    assert_down(&o, "", "http_proxy through a server that is not a proxy");

    // Server stopped mid-run: the engine sees Up, then Down.
    let (mut engine, mut rx) = Engine::new(Prober::new());
    engine.apply([CheckSpec {
        key: "v/r".to_owned(),
        probe: negotiate(v4, http(false, "/ok", "hello")),
        interval: Duration::from_millis(200),
        failure_count: 1,
    }]);
    let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.to, Health::Up, "{}", e.reason);
    nginx._daemon.stop();
    let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.to, Health::Down);
    assert!(e.reason.contains("GET http://127.0.0.1"), "{}", e.reason);
    engine.shutdown().await;
}

/// Runs a hostile case and checks it ends Down within the deadline.
async fn hostile_case(name: &str, addr: SocketAddr, tls: bool, needle: &str) -> Outcome {
    let p = Prober::new();
    let (o, took) = run(&p, &negotiate(addr, http(tls, "/", "anything"))).await;
    assert_down(&o, needle, name);
    assert_within(took, T, name);
    o
}

#[tokio::test]
async fn hostile_http_backends_end_down_within_the_deadline() {
    let silent = hostile(Hostile::Silent).await;
    hostile_case(
        "accepts and never answers",
        silent,
        false,
        "no answer within",
    )
    .await;
    hostile_case(
        "TLS handshake that stalls",
        silent,
        true,
        "no answer within",
    )
    .await;
    let trickle = hostile(Hostile::Trickle(b"HTTP/1.1 200 OK\r\nX-Slow: yes\r\n")).await;
    hostile_case("one byte a second", trickle, false, "no answer within").await;
    let garbage = hostile(Hostile::Garbage).await;
    hostile_case("garbage instead of HTTP", garbage, false, "").await;
    hostile_case("garbage instead of TLS", garbage, true, "").await;
    let headers = hostile(Hostile::Endless(b"HTTP/1.1 200 OK\r\n")).await;
    hostile_case("endless headers", headers, false, "").await;
    let hole = BlackHole::new(10);
    hostile_case(
        "SYN black hole",
        SocketAddr::new(hole.v4.into(), 80),
        false,
        "no answer within",
    )
    .await;
    hostile_case(
        "SYN black hole, IPv6",
        SocketAddr::new(hole.v6.into(), 80),
        false,
        "no answer within",
    )
    .await;
}

#[tokio::test]
async fn an_endless_body_is_cut_off_with_bounded_memory() {
    let endless = hostile(Hostile::Endless(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
    ))
    .await;
    let before = rss_kib();
    let p = Prober::new();
    for receive in ["never-matches", ""] {
        let (o, took) = run(&p, &negotiate(endless, http(false, "/", receive))).await;
        assert_down(&o, "body longer than", "endless body");
        assert_within(took, T, "endless body");
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "RSS grew by {grown} KiB reading an endless body"
    );
}
