//! The line protocols against real servers on loopback: pop, pops, imap and
//! imaps against Dovecot; smtp and submission against aiosmtpd (Debian's
//! python3-aiosmtpd, a complete SMTP server); simpletcp against the same
//! SMTP server; and hostile peers for each. nntp has no small server in
//! Debian (inn2 wants a whole news spool), so it is checked against a
//! minimal peer that sends a real greeting, and against hostile ones.

mod check_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Credentials, Exchange, Receive};
use lvsd::check::{CheckKind, Probe, Prober, Service};
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(3);

fn negotiate(addr: SocketAddr, service: Service) -> Probe {
    probe(addr, CheckKind::Negotiate(service), T)
}

fn mail_creds(login: &str, password: &str) -> Credentials {
    creds(login, password, "")
}

struct Dovecot {
    daemon: Daemon,
    _dir: tempfile::TempDir,
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
}

fn start_dovecot() -> Dovecot {
    let dovecot = binary("/usr/sbin/dovecot", "dovecot-imapd and dovecot-pop3d");
    let dir = tempdir("lvsd-dovecot");
    certificates(dir.path());
    let d = dir.path().display().to_string();
    // Dovecot's mail processes run as nobody: let them into the home.
    must("chmod", &["755", &d]);
    std::fs::create_dir_all(dir.path().join("home/alice")).unwrap();
    must("chown", &["-R", "nobody:nogroup", &format!("{d}/home")]);
    write(dir.path(), "passwd", "alice:{PLAIN}wonderland::::::\n");
    let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
    let conf = format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/srv.crt
ssl_key = <{d}/srv.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
# No penalty after the wrong-password cases (Dovecot delays every later
# login from the same address by seconds), and no fixed delay either.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"#
    );
    let conf_path = write(dir.path(), "dovecot.conf", &conf);
    let mut command = Command::new(dovecot);
    command.arg("-F").arg("-c").arg(&conf_path);
    let mut daemon = Daemon::spawn("dovecot", &mut command);
    for port in [imap, imaps, pop3, pop3s] {
        wait_listening(loopback(port), "dovecot", Some(&mut daemon.child));
    }
    Dovecot {
        daemon,
        _dir: dir,
        imap,
        imaps,
        pop3,
        pop3s,
    }
}

#[tokio::test]
async fn pop_and_imap_against_dovecot() {
    let mut dovecot = start_dovecot();
    let p = Prober::new();
    let alice = mail_creds("alice", "wonderland");
    let wrong = mail_creds("alice", "looking-glass");
    let none = Credentials::default();
    for (name, port, tls, imap) in [
        ("pop", dovecot.pop3, false, false),
        ("pops", dovecot.pop3s, true, false),
        ("imap", dovecot.imap, false, true),
        ("imaps", dovecot.imaps, true, true),
    ] {
        let service = |credentials: &Credentials| {
            let credentials = credentials.clone();
            if imap {
                Service::Imap { tls, credentials }
            } else {
                Service::Pop { tls, credentials }
            }
        };
        let (o, _) = run(&p, &negotiate(loopback(port), service(&none))).await;
        assert_up(&o, &format!("{name} greeting"));
        let (o, _) = run(&p, &negotiate(loopback(port), service(&alice))).await;
        if !o.is_up() {
            let log = std::fs::read_to_string(dovecot._dir.path().join("dovecot.log"))
                .unwrap_or_default();
            eprintln!("dovecot.log:\n{log}");
        }
        assert_up(&o, &format!("{name} login"));
        let (o, took) = run(&p, &negotiate(loopback(port), service(&wrong))).await;
        assert_down(
            &o,
            if imap { "LOGIN" } else { "PASS" },
            &format!("{name} wrong password"),
        );
        assert_within(took, T, &format!("{name} wrong password"));
        let (o, _) = run(&p, &negotiate(closed_port(), service(&none))).await;
        assert_down(&o, "refused", &format!("{name} closed port"));
    }
    // pops against the plain port: the TLS handshake fails.
    let (o, _) = run(
        &p,
        &negotiate(
            loopback(dovecot.pop3),
            Service::Pop {
                tls: true,
                credentials: none.clone(),
            },
        ),
    )
    .await;
    assert_down(&o, "TLS", "pops against a plain port");
    // Server stopped mid-run.
    dovecot.daemon.stop();
    let (o, _) = run(
        &p,
        &negotiate(
            loopback(dovecot.imap),
            Service::Imap {
                tls: false,
                credentials: alice,
            },
        ),
    )
    .await;
    assert_down(&o, "", "dovecot stopped");
}

fn start_smtp(port: u16) -> Daemon {
    let mut command = Command::new("/usr/bin/python3");
    command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
    let mut daemon = Daemon::spawn("aiosmtpd (python3-aiosmtpd)", &mut command);
    wait_listening(
        loopback(port),
        "aiosmtpd (python3-aiosmtpd)",
        Some(&mut daemon.child),
    );
    daemon
}

fn simpletcp(addr: SocketAddr, request: &str, receive: &str) -> Probe {
    let receive = (!receive.is_empty()).then(|| Receive::new(receive).unwrap());
    negotiate(
        addr,
        Service::SimpleTcp(Exchange {
            request: request.into(),
            receive,
        }),
    )
}

#[tokio::test]
async fn smtp_and_simpletcp_against_aiosmtpd() {
    let port = free_port();
    let mut smtp = start_smtp(port);
    let p = Prober::new();
    let (o, _) = run(&p, &negotiate(loopback(port), Service::Smtp { tls: false })).await;
    assert_up(&o, "smtp");
    let (o, _) = run(&p, &negotiate(closed_port(), Service::Smtp { tls: false })).await;
    assert_down(&o, "refused", "smtp closed port");

    // simpletcp: "/EHLO x\nQUIT\n" as ldirectord stores it (leading '/').
    let (o, _) = run(
        &p,
        &simpletcp(loopback(port), "/EHLO x\\nQUIT\\n", r"^221 "),
    )
    .await;
    assert_up(&o, "simpletcp QUIT gets 221");
    let (o, _) = run(
        &p,
        &simpletcp(loopback(port), "/EHLO x\\nQUIT\\n", r"^(2)\1(?=1 )"),
    )
    .await;
    assert_up(&o, "simpletcp with a backreference and a lookahead (221)");
    let (o, _) = run(&p, &simpletcp(loopback(port), "/QUIT\\n", "^599 ")).await;
    assert_down(&o, "no line of", "simpletcp wrong receive");
    let (o, _) = run(&p, &simpletcp(closed_port(), "/QUIT\\n", "^221")).await;
    assert_down(&o, "refused", "simpletcp closed port");

    smtp.stop();
    let (o, _) = run(&p, &negotiate(loopback(port), Service::Smtp { tls: false })).await;
    assert_down(&o, "refused", "smtp stopped");
}

#[tokio::test]
async fn nntp_greeting() {
    let p = Prober::new();
    // A minimal NNTP peer: the greeting is all the check reads.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ready = listener.local_addr().unwrap();
    let refusing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refusing_addr = refusing.local_addr().unwrap();
    for (l, greeting) in [
        (
            listener,
            &b"200 news.example.test InterNetNews ready\r\n"[..],
        ),
        (refusing, b"502 no permission\r\n"),
    ] {
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(greeting).await;
            }
        });
    }
    let (o, _) = run(&p, &negotiate(ready, Service::Nntp)).await;
    assert_up(&o, "nntp 200");
    let (o, _) = run(&p, &negotiate(refusing_addr, Service::Nntp)).await;
    assert_down(&o, "502", "nntp 502");
    let (o, _) = run(&p, &negotiate(closed_port(), Service::Nntp)).await;
    assert_down(&o, "refused", "nntp closed port");
}

#[tokio::test]
async fn hostile_line_protocol_peers_end_down_within_the_deadline() {
    let p = Prober::new();
    let none = Credentials::default();
    let silent = hostile(Hostile::Silent).await;
    let trickle = hostile(Hostile::Trickle(b"220 slow")).await;
    let endless = hostile(Hostile::Endless(b"220-")).await;
    let garbage = hostile(Hostile::Garbage).await;
    let hole = BlackHole::new(30);
    let dark = SocketAddr::new(hole.v4.into(), 25);
    let services = [
        ("smtp", Service::Smtp { tls: false }),
        (
            "pop",
            Service::Pop {
                tls: false,
                credentials: none.clone(),
            },
        ),
        (
            "pops",
            Service::Pop {
                tls: true,
                credentials: none.clone(),
            },
        ),
        (
            "imap",
            Service::Imap {
                tls: false,
                credentials: none.clone(),
            },
        ),
        (
            "imaps",
            Service::Imap {
                tls: true,
                credentials: none.clone(),
            },
        ),
        ("nntp", Service::Nntp),
        (
            "simpletcp",
            Service::SimpleTcp(Exchange {
                request: "/x".into(),
                receive: Some(Receive::new("^OK").unwrap()),
            }),
        ),
        (
            "ftp",
            Service::Ftp {
                exchange: Exchange {
                    request: "/f".into(),
                    receive: None,
                },
                credentials: none.clone(),
            },
        ),
    ];
    // All at once: each case waits out its deadline, so in sequence this
    // would take minutes.
    let p = std::sync::Arc::new(p);
    let before = rss_kib();
    let mut cases = Vec::new();
    for (name, service) in services {
        for (kind, addr) in [
            ("silent", silent),
            ("one byte a second", trickle),
            ("endless", endless),
            ("garbage", garbage),
            ("black hole", dark),
        ] {
            // nntp calls anything starting with "2" up at once, as ldirectord.
            if name == "nntp" && (kind == "one byte a second" || kind == "endless") {
                continue;
            }
            let what = format!("{name} against a {kind} peer");
            cases.push((what, negotiate(addr, service.clone())));
        }
    }
    assert_all_down_within(p.clone(), cases, T).await;
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "RSS grew by {grown} KiB against hostile peers"
    );
}
