//! service=dns against a real dnsmasq (Debian's dnsmasq-base) on loopback,
//! over UDP and TCP, IPv4 and IPv6, and against silent and garbage peers.

mod check_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Dns, Exchange, Receive};
use lvsd::check::{CheckKind, Probe, Prober, Service};

const T: Duration = Duration::from_secs(2);

fn dns(addr: SocketAddr, request: &str, receive: &str, tcp: bool) -> Probe {
    let receive = (!receive.is_empty()).then(|| Receive::new(receive).expect("valid regex"));
    let exchange = Exchange {
        request: request.to_owned(),
        receive,
    };
    probe(
        addr,
        CheckKind::Negotiate(Service::Dns(Dns { exchange, tcp })),
        T,
    )
}

fn start_dnsmasq(port: u16) -> Daemon {
    let dnsmasq = binary("/usr/sbin/dnsmasq", "dnsmasq-base");
    let mut command = Command::new(dnsmasq);
    command.args([
        "--keep-in-foreground",
        "--user=root",
        "--pid-file",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--listen-address=::1",
        &format!("--port={port}"),
        "--host-record=www.example.test,192.0.2.55",
        "--ptr-record=66.2.0.192.in-addr.arpa,mail.example.test",
    ]);
    let mut daemon = Daemon::spawn("dnsmasq", &mut command);
    wait_listening(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "dnsmasq",
        Some(&mut daemon.child),
    );
    daemon
}

#[tokio::test]
async fn dns_against_dnsmasq() {
    let port = free_port();
    let mut server = start_dnsmasq(port);
    let p = Prober::new();
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    for tcp in [false, true] {
        let t = if tcp { "tcp" } else { "udp" };
        let (o, _) = run(&p, &dns(v4, "www.example.test", r"^192\.0\.2\.55$", tcp)).await;
        assert_up(&o, &format!("A over {t}"));
        let (o, _) = run(&p, &dns(v6, "/www.example.test", r"192\.0\.2\.5(?=5)", tcp)).await;
        assert_up(&o, &format!("A over {t} to [::1]"));
        let (o, _) = run(&p, &dns(v4, "192.0.2.66", "^mail.example.test$", tcp)).await;
        assert_up(&o, &format!("PTR over {t}"));
        let (o, _) = run(&p, &dns(v4, "www.example.test", "10.0.0.1", tcp)).await;
        assert_down(&o, "does not match", &format!("wrong receive over {t}"));
        let (o, _) = run(&p, &dns(v4, "missing.example.test", ".", tcp)).await;
        assert_down(&o, "", &format!("unknown name over {t}"));
    }
    let (o, _) = run(&p, &dns(v4, "www.example.test", "", false)).await;
    assert_down(&o, "receive is empty", "empty receive");
    let (o, _) = run(&p, &dns(closed_port(), "www.example.test", ".", true)).await;
    assert_down(&o, "", "tcp to a closed port");

    // Server stopped mid-run: UDP to a port nobody serves.
    server.stop();
    let (o, took) = run(&p, &dns(v4, "www.example.test", ".", false)).await;
    assert_down(&o, "", "dnsmasq stopped");
    assert_within(took, T, "dnsmasq stopped");
}

#[tokio::test]
async fn hostile_dns_peers_end_down_within_the_deadline() {
    let p = Prober::new();
    // UDP: a socket that reads and never answers, and one that answers junk.
    let mute = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mute_addr = mute.local_addr().unwrap();
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let junk_addr = junk.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((_, from)) = junk.recv_from(&mut buf).await {
            let _ = junk.send_to(b"\xff\xfe garbage, not DNS", from).await;
        }
    });
    for (name, addr, tcp) in [
        ("udp silent", mute_addr, false),
        ("udp garbage", junk_addr, false),
        ("tcp silent", hostile(Hostile::Silent).await, true),
        ("tcp garbage", hostile(Hostile::Garbage).await, true),
        (
            "tcp endless",
            hostile(Hostile::Endless(b"\xff\xff")).await,
            true,
        ),
        (
            "tcp one byte a second",
            hostile(Hostile::Trickle(b"\x00\x30abc")).await,
            true,
        ),
    ] {
        let (o, took) = run(&p, &dns(addr, "www.example.test", ".", tcp)).await;
        assert_down(&o, "", name);
        assert_within(took, T, name);
    }
    let hole = BlackHole::new(20);
    let (o, took) = run(
        &p,
        &dns(
            SocketAddr::new(hole.v4.into(), 53),
            "www.example.test",
            ".",
            true,
        ),
    )
    .await;
    assert_down(&o, "", "tcp black hole");
    assert_within(took, T, "tcp black hole");
    drop(mute);
}
