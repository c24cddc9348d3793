//! Host tests of the simple checkers against real sockets and processes:
//! connect, ping (IPv4 and IPv6), external and external-perl, and the engine
//! driving the real prober through a server that goes away.

mod check_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{External, Protocol};
use lvsd::check::{CheckKind, CheckSpec, Engine, Health, Prober};

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn connect_up_closed_and_black_hole() {
    let prober = Prober::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap();
    let (o, _) = run(&prober, &probe(up, CheckKind::Connect, T)).await;
    assert_up(&o, "connect to a listening port");

    let listener6 = std::net::TcpListener::bind("[::1]:0").unwrap();
    let (o, _) = run(
        &prober,
        &probe(listener6.local_addr().unwrap(), CheckKind::Connect, T),
    )
    .await;
    assert_up(&o, "connect to [::1]");

    let (o, _) = run(&prober, &probe(closed_port(), CheckKind::Connect, T)).await;
    assert_down(&o, "refused", "connect to a closed port");

    let hole = BlackHole::new(1);
    let addr = SocketAddr::new(IpAddr::V4(hole.v4), 80);
    let (o, took) = run(&prober, &probe(addr, CheckKind::Connect, T)).await;
    assert_down(&o, "no answer within 2s", "connect into a black hole");
    assert_within(took, T, "connect into a black hole");
}

#[tokio::test]
async fn ping_v4_v6_and_black_hole_with_checkcount() {
    let prober = Prober::new();
    let lo4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let (o, _) = run(&prober, &probe(lo4, CheckKind::Ping, T)).await;
    assert_up(&o, "ping 127.0.0.1");
    let lo6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0);
    let (o, _) = run(&prober, &probe(lo6, CheckKind::Ping, T)).await;
    assert_up(&o, "ping ::1");

    let hole = BlackHole::new(2);
    for ip in [IpAddr::V4(hole.v4), IpAddr::V6(hole.v6)] {
        let mut p = probe(
            SocketAddr::new(ip, 0),
            CheckKind::Ping,
            Duration::from_secs(1),
        );
        p.check_count = 3;
        let (o, took) = run(&prober, &p).await;
        assert_down(&o, "", &format!("ping {ip} in a black hole"));
        // checkcount attempts of checktimeout each: about 3 s, not 1 s.
        assert!(
            took >= Duration::from_millis(2_900),
            "ping {ip}: gave up after {took:?}"
        );
        assert_within(took, Duration::from_secs(3), &format!("ping {ip}"));
    }
}

#[tokio::test]
async fn connect_on_a_udp_virtual_pings() {
    let prober = Prober::new();
    let hole = BlackHole::new(3);
    // A UDP "connect" would succeed at once; ldirectord pings instead.
    let mut p = probe(
        SocketAddr::new(IpAddr::V4(hole.v4), 53),
        CheckKind::Connect,
        T,
    );
    p.target.protocol = Protocol::Udp;
    let (o, _) = run(&prober, &p).await;
    assert_down(&o, "ICMP echo", "connect on udp to a black hole");
    p.target.addr = "127.0.0.1:53".parse().unwrap();
    let (o, _) = run(&prober, &p).await;
    assert_up(&o, "connect on udp to loopback");
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = write(dir, name, body);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test]
async fn external_gets_vip_vport_rip_rport_and_exit_status_decides() {
    let prober = Prober::new();
    let dir = tempdir("lvsd-ext");
    let args = dir.path().join("args");
    let ok = script(
        dir.path(),
        "ok.sh",
        &format!("#!/bin/sh\necho \"$@\" > {}\nexit 0\n", args.display()),
    );
    let fail = script(dir.path(), "fail.sh", "#!/bin/sh\nexit 3\n");
    let rip: SocketAddr = "10.1.2.3:8080".parse().unwrap();
    let ext = |command: &std::path::Path, perl| {
        let mut p = probe(
            rip,
            CheckKind::External(External {
                command: command.into(),
                perl,
            }),
            T,
        );
        p.target.real_port = 80;
        p
    };
    let (o, _) = run(&prober, &ext(&ok, false)).await;
    assert_up(&o, "external exit 0");
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "192.0.2.10 80 10.1.2.3 80\n"
    );

    let (o, _) = run(&prober, &ext(&fail, false)).await;
    assert_down(&o, "exit status 3", "external exit 3");

    let (o, _) = run(&prober, &ext(&dir.path().join("missing"), false)).await;
    assert_down(&o, "cannot run", "missing external command");

    let perl = write(
        dir.path(),
        "check.pl",
        "exit($ARGV[2] eq '10.1.2.3' ? 0 : 1);\n",
    );
    let (o, _) = run(&prober, &ext(&perl, true)).await;
    assert_up(&o, "external-perl sees @ARGV");
    let perl_fail = write(dir.path(), "fail.pl", "exit 1;\n");
    let (o, _) = run(&prober, &ext(&perl_fail, true)).await;
    assert_down(&o, "exit status 1", "external-perl exit 1");
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purpose; so is a missing entry.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn external_timeout_kills_the_whole_process_group() {
    let prober = Prober::new();
    let dir = tempdir("lvsd-ext");
    let pids = dir.path().join("pids");
    let hang = script(
        dir.path(),
        "hang.sh",
        &format!(
            "#!/bin/sh\nsleep 1000 &\necho $$ $! > {}\nsleep 1000\n",
            pids.display()
        ),
    );
    let p = probe(
        "127.0.0.1:80".parse().unwrap(),
        CheckKind::External(External {
            command: hang,
            perl: false,
        }),
        Duration::from_secs(1),
    );
    let (o, took) = run(&prober, &p).await;
    assert_down(&o, "no answer within 1s", "hanging external check");
    assert_within(took, Duration::from_secs(1), "hanging external check");
    let text = std::fs::read_to_string(&pids).expect("the script wrote its pids");
    let pids: Vec<u32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let t0 = std::time::Instant::now();
    while pids.iter().any(|&p| alive(p)) && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in pids {
        assert!(!alive(pid), "process {pid} of the timed-out check survived");
    }
}

#[tokio::test]
async fn engine_with_the_real_prober_sees_a_server_stop_and_return() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut engine, mut rx) = Engine::new(Prober::new());
    let spec = CheckSpec {
        key: "v/r".to_owned(),
        probe: probe(addr, CheckKind::Connect, T),
        interval: Duration::from_millis(200),
        failure_count: 2,
    };
    engine.apply([spec]);
    let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.from, e.to), (Health::Unknown, Health::Up));
    drop(listener);
    let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.from, e.to), (Health::Up, Health::Down));
    assert!(e.reason.contains("refused"), "{}", e.reason);
    assert_eq!(engine.snapshot()["v/r"].failures, 2);
    let _listener = std::net::TcpListener::bind(addr).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.from, e.to), (Health::Down, Health::Up));
    engine.shutdown().await;
}
