//! service=sip against Kamailio (Debian has no sipp; Kamailio answers
//! OPTIONS over UDP and TCP) and service=radius against FreeRADIUS, which is
//! set to require a Message-Authenticator, as current deployments do.

mod check_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::Protocol;
use lvsd::check::{CheckKind, Probe, Prober, Service};

const T: Duration = Duration::from_secs(3);

fn sip(addr: SocketAddr, login: &str, udp: bool) -> Probe {
    let mut p = probe(
        addr,
        CheckKind::Negotiate(Service::Sip {
            login: login.into(),
        }),
        T,
    );
    p.target.protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
    p
}

fn start_kamailio(dir: &std::path::Path, port: u16) -> Daemon {
    binary("/usr/sbin/kamailio", "kamailio");
    let conf = format!(
        r#"#!KAMAILIO
debug=0
log_stderror=yes
children=1
tcp_children=1
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
request_route {{
    if ($rU == "down") {{ sl_send_reply("503", "Service Unavailable"); exit; }}
    if (is_method("OPTIONS")) {{ sl_send_reply("200", "OK"); exit; }}
    sl_send_reply("405", "Method Not Allowed");
}}
"#
    );
    let cfg = write(dir, "kamailio.cfg", &conf);
    let mut command = Command::new("/usr/sbin/kamailio");
    command.args([
        "-f",
        &cfg.display().to_string(),
        "-DD",
        "-E",
        "-m",
        "16",
        "-M",
        "4",
    ]);
    command.args(["-Y", &dir.display().to_string()]);
    command
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let mut daemon = Daemon::spawn("kamailio", &mut command);
    wait_listening(loopback(port), "kamailio", Some(&mut daemon.child));
    daemon
}

#[tokio::test]
async fn sip_against_kamailio() {
    let dir = tempdir("lvsd-kamailio");
    let port = free_port();
    let mut server = start_kamailio(dir.path(), port);
    let p = Prober::new();
    for udp in [true, false] {
        let t = if udp { "udp" } else { "tcp" };
        let (o, _) = run(&p, &sip(loopback(port), "check@example.test", udp)).await;
        assert_up(&o, &format!("sip OPTIONS over {t}"));
        let (o, _) = run(&p, &sip(loopback(port), "down@example.test", udp)).await;
        assert_down(&o, "503", &format!("sip 503 over {t}"));
    }
    let (o, _) = run(&p, &sip(closed_port(), "check@example.test", false)).await;
    assert_down(&o, "refused", "sip tcp closed port");
    server.stop();
    let (o, took) = run(&p, &sip(loopback(port), "check@example.test", true)).await;
    assert_down(&o, "", "kamailio stopped (udp)");
    assert_within(took, T, "kamailio stopped (udp)");
}

fn radius(addr: SocketAddr, login: &str, password: &str, secret: &str) -> Probe {
    let credentials = creds(login, password, "");
    probe(
        addr,
        CheckKind::Negotiate(Service::Radius {
            credentials,
            secret: secret.into(),
        }),
        T,
    )
}

fn start_freeradius(dir: &std::path::Path, port: u16) -> Daemon {
    binary("/usr/sbin/freeradius", "freeradius");
    let conf = dir.join("raddb");
    must(
        "cp",
        &["-r", "/etc/freeradius/3.0", &conf.display().to_string()],
    );
    let clients = conf.join("clients.conf");
    let text = std::fs::read_to_string(&clients).unwrap();
    assert!(
        text.contains("require_message_authenticator = no"),
        "unexpected clients.conf layout"
    );
    std::fs::write(
        &clients,
        text.replace(
            "require_message_authenticator = no",
            "require_message_authenticator = yes",
        ),
    )
    .unwrap();
    let users = conf.join("mods-config/files/authorize");
    let text = std::fs::read_to_string(&users).unwrap();
    std::fs::write(
        &users,
        format!("alice Cleartext-Password := \"wonderland\"\n{text}"),
    )
    .unwrap();
    must("chmod", &["755", &dir.display().to_string()]);
    must(
        "chown",
        &["-R", "freerad:freerad", &conf.display().to_string()],
    );
    let mut command = Command::new("/usr/sbin/freeradius");
    command.args([
        "-f",
        "-d",
        &conf.display().to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    command.args(["-l", &dir.join("radius.log").display().to_string()]);
    let mut daemon = Daemon::spawn("freeradius", &mut command);
    // UDP only: wait for the log line instead of a TCP connect.
    let t0 = std::time::Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.join("radius.log")).unwrap_or_default();
        if log.contains("Ready to process requests") {
            break;
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("freeradius exited ({status}):\n{log}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "freeradius not ready after 30 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon
}

#[tokio::test]
async fn radius_against_freeradius() {
    let dir = tempdir("lvsd-radius");
    let port = free_port();
    let mut server = start_freeradius(dir.path(), port);
    let p = Prober::new();
    let a = loopback(port);
    let (o, _) = run(&p, &radius(a, "alice", "wonderland", "testing123")).await;
    assert_up(&o, "radius accept");
    // ldirectord calls any answer up, an Access-Reject included.
    let (o, _) = run(&p, &radius(a, "alice", "wrong", "testing123")).await;
    assert_up(&o, "radius reject is still an answer");
    // A wrong secret: FreeRADIUS cannot verify the Message-Authenticator and
    // drops the request, so the check hears nothing.
    let (o, took) = run(&p, &radius(a, "alice", "wonderland", "not-the-secret")).await;
    assert_down(&o, "no answer within", "radius wrong secret");
    assert_within(took, T, "radius wrong secret");
    server.stop();
    let (o, took) = run(&p, &radius(a, "alice", "wonderland", "testing123")).await;
    assert_down(&o, "", "freeradius stopped");
    assert_within(took, T, "freeradius stopped");
}

#[tokio::test]
async fn hostile_udp_peers_end_down_within_the_deadline() {
    let p = Prober::new();
    let mute = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (mute_addr, junk_addr) = (mute.local_addr().unwrap(), junk.local_addr().unwrap());
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = junk.recv_from(&mut buf).await {
            // Echo the RADIUS identifier so the reply is "ours" but forged.
            let mut forged = vec![2u8, buf[1], 0, 20];
            forged.extend_from_slice(&[0xab; 16]);
            let _ = junk.send_to(&forged, from).await;
        }
    });
    let (o, took) = run(&p, &radius(mute_addr, "a", "b", "s")).await;
    assert_down(&o, "no answer within", "radius silent peer");
    assert_within(took, T, "radius silent peer");
    let (o, _) = run(&p, &radius(junk_addr, "a", "b", "s")).await;
    assert_down(&o, "does not verify", "radius forged reply");
    let (o, _) = run(&p, &sip(junk_addr, "x", true)).await;
    assert_down(&o, "status", "sip garbage over udp");
    let (o, took) = run(&p, &sip(hostile(Hostile::Silent).await, "x", false)).await;
    assert_down(&o, "no answer within", "sip silent over tcp");
    assert_within(took, T, "sip silent over tcp");
    let (o, took) = run(
        &p,
        &sip(
            hostile(Hostile::Trickle(b"SIP/2.0 200 OK")).await,
            "x",
            false,
        ),
    )
    .await;
    assert_down(&o, "no answer within", "sip one byte a second");
    assert_within(took, T, "sip one byte a second");
    drop(mute);
}
