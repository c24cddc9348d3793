//! The protocol matrix through the running daemon on the real kernel: IPv6
//! TCP (NAT and DR), fwmark services for both families, `quiescent=yes` with a connection
//! that outlives its real's failure, and every checktype on the daemon path.
//! Each test sends real traffic through the VIP and fails a real. UDP (DNS
//! and RADIUS) is in `matrix_udp.rs`.

use lvsd_integration::director::{weights, Lvsd};
use lvsd_integration::farm::{self, Held, Server, Six};
use lvsd_integration::matrix::{from, lap, up, wait_reals, GLOBAL};
use lvsd_integration::topology::{Mode, Topology};
use lvsd_integration::{require_vm, sh};

/// IPv6 TCP: both reals serve through the VIP, one dies, traffic moves.
fn ipv6_farm(prefix: &str, mode: Mode, net: u8) {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new(prefix, mode, 2, net);
    lap(t0, "topology");
    let six = Six::add(&t, net);
    let (flag, listen) = match mode {
        Mode::Nat => ("masq", None),
        Mode::Dr => ("gate", Some("::")),
    };
    let mut servers: Vec<Server> = t
        .reals
        .iter()
        .zip(&six.real_ips)
        .enumerate()
        .map(|(i, (rs, ip))| {
            Server::tcp(&rs.name, listen.unwrap_or(ip), 7, &format!("v6rs{}", i + 1))
        })
        .collect();
    let mut cfg = format!(
        "{GLOBAL}virtual6=[{}]:7\n\tchecktype=connect\n\tscheduler=rr\n",
        six.vip
    );
    for ip in &six.real_ips {
        cfg.push_str(&format!("\treal6=[{ip}]:7 {flag} 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, &format!("{prefix}-v6"), &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let svc = format!("-t [{}]:7", six.vip);
    let reals: Vec<String> = six.real_ips.iter().map(|ip| format!("[{ip}]:7")).collect();
    wait_reals(&lvsd, "both v6 reals in", &svc, &up(&reals));
    let save = lvsd.ipvsadm("-S -n");
    let fwd = if mode == Mode::Nat { "-m" } else { "-g" };
    assert!(
        save.contains(&format!("-a {svc} -r {} {fwd} -w 1", reals[0])),
        "{mode:?} forwarding in the kernel:\n{save}"
    );

    let got = farm::tcp_who(&t.client.name, &six.vip, 7, 6);
    assert!(
        got.iter().all(Option::is_some),
        "every v6 connection served: {got:?}"
    );
    assert_eq!(from(&got, "v6rs1"), 3, "rr over both reals: {got:?}");
    assert_eq!(from(&got, "v6rs2"), 3, "rr over both reals: {got:?}");

    servers[1].stop();
    wait_reals(&lvsd, "dead v6 real removed", &svc, &up(&reals[..1]));
    let got = farm::tcp_who(&t.client.name, &six.vip, 7, 4);
    assert_eq!(from(&got, "v6rs1"), 4, "all traffic moved to rs1: {got:?}");
    lap(t0, "done");
    lvsd.stop();
}

#[test]
fn ipv6_tcp_nat_serves_through_the_vip_and_fails_over() {
    ipv6_farm("m6n", Mode::Nat, 130);
}

#[test]
fn ipv6_tcp_dr_serves_through_the_vip_and_fails_over() {
    ipv6_farm("m6d", Mode::Dr, 134);
}

#[test]
fn fwmark_services_for_ipv4_and_ipv6() {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new("mfw", Mode::Nat, 2, 146);
    lap(t0, "topology");
    let six = Six::add(&t, 146);
    let vip = t.vip.clone();
    // Marks 1 (IPv4) and 2 (IPv6) group two ports each onto one service.
    t.director.sh(&format!(
        "nft add table inet lvs && nft add chain inet lvs pre \
         \"{{ type filter hook prerouting priority mangle; }}\" && \
         nft add rule inet lvs pre ip daddr {vip} tcp dport \"{{ 7, 8007 }}\" meta mark set 1 && \
         nft add rule inet lvs pre ip6 daddr {} tcp dport \"{{ 7, 8007 }}\" meta mark set 2",
        six.vip
    ));
    let mut v4: Vec<Server> = Vec::new();
    let mut v6: Vec<Server> = Vec::new();
    for (i, rs) in t.reals.iter().enumerate() {
        v4.push(Server::tcp(
            &rs.name,
            &t.real_ips[i],
            7,
            &format!("fw4rs{}", i + 1),
        ));
        v6.push(Server::tcp(
            &rs.name,
            &six.real_ips[i],
            7,
            &format!("fw6rs{}", i + 1),
        ));
    }
    let mut cfg = format!("{GLOBAL}virtual=1\n\tchecktype=connect\n\tscheduler=rr\n");
    for ip in &t.real_ips {
        cfg.push_str(&format!("\treal={ip}:7 masq 1\n"));
    }
    cfg.push_str("virtual6=2\n\tchecktype=connect\n\tscheduler=rr\n");
    for ip in &six.real_ips {
        cfg.push_str(&format!("\treal6=[{ip}]:7 masq 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, "mfw", &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let r4: Vec<String> = t.real_ips.iter().map(|ip| format!("{ip}:7")).collect();
    let r6: Vec<String> = six.real_ips.iter().map(|ip| format!("[{ip}]:7")).collect();
    wait_reals(&lvsd, "fwmark 1 reals in", "-f 1", &up(&r4));
    wait_reals(&lvsd, "fwmark 2 reals in", "-f 2", &up(&r6));

    for (ip, tag) in [(&vip, "fw4"), (&six.vip, "fw6")] {
        for port in [7, 8007] {
            let got = farm::tcp_who(&t.client.name, ip, port, 4);
            assert_eq!(from(&got, &format!("{tag}rs1")), 2, "{ip} {port}: {got:?}");
            assert_eq!(from(&got, &format!("{tag}rs2")), 2, "{ip} {port}: {got:?}");
        }
    }

    v4[0].stop();
    v6[1].stop();
    wait_reals(&lvsd, "fwmark 1 loses rs1", "-f 1", &up(&r4[1..]));
    wait_reals(&lvsd, "fwmark 2 loses rs2", "-f 2", &up(&r6[..1]));
    let got = farm::tcp_who(&t.client.name, &vip, 8007, 3);
    assert_eq!(from(&got, "fw4rs2"), 3, "{got:?}");
    let got = farm::tcp_who(&t.client.name, &six.vip, 8007, 3);
    assert_eq!(from(&got, "fw6rs1"), 3, "{got:?}");
    lap(t0, "done");
    lvsd.stop();
}

#[test]
fn quiescent_keeps_the_established_connection_and_steers_new_ones_away() {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new("mqu", Mode::Nat, 2, 150);
    lap(t0, "topology");
    let vip = t.vip.clone();
    let servers: Vec<Server> = t
        .reals
        .iter()
        .zip(&t.real_ips)
        .enumerate()
        .map(|(i, (rs, ip))| Server::tcp(&rs.name, ip, 7, &format!("mqurs{}", i + 1)))
        .collect();
    let mut cfg = format!(
        "{}virtual={vip}:7\n\tchecktype=connect\n\tscheduler=rr\n\tquiescent=yes\n",
        GLOBAL.replace("quiescent=no", "quiescent=yes")
    );
    for ip in &t.real_ips {
        cfg.push_str(&format!("\treal={ip}:7 masq 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, "mqu", &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let svc = format!("-t {vip}:7");
    let reals: Vec<String> = t.real_ips.iter().map(|ip| format!("{ip}:7")).collect();
    wait_reals(&lvsd, "both reals in", &svc, &up(&reals));

    let mut held = Held::open(&t.client.name, &vip, 7);
    let i = match held.greeting.as_str() {
        "mqurs1" => 0,
        "mqurs2" => 1,
        other => panic!("the held connection was not served: {other:?}"),
    };
    assert_eq!(held.echo("before"), "before");
    // Its real stops listening (the check fails); the connection stays.
    servers[i].signal("USR1");
    let mut want = up(&reals);
    want[i].1 = 0;
    wait_reals(&lvsd, "failed real quiesced to weight 0", &svc, &want);
    assert_eq!(
        held.echo("after"),
        "after",
        "the established connection still flows to {}",
        held.greeting
    );
    let conns = lvsd.ipvsadm("-Lnc");
    assert!(
        conns
            .lines()
            .any(|l| l.contains("ESTABLISHED") && l.contains(&reals[i])),
        "the kernel still has it:\n{conns}"
    );
    let other = format!("mqurs{}", 2 - i);
    let got = farm::tcp_who(&t.client.name, &vip, 7, 4);
    assert_eq!(
        from(&got, &other),
        4,
        "new connections avoid the quiesced real: {got:?}"
    );
    assert_eq!(held.echo("still"), "still");
    lap(t0, "done");
    lvsd.stop();
}

#[test]
fn every_checktype_on_the_daemon_path() {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new("mck", Mode::Nat, 2, 154);
    lap(t0, "topology");
    let vip = t.vip.clone();
    let (r1, r2) = (t.real_ips[0].clone(), t.real_ips[1].clone());
    let (n1, n2) = ("mckrs1", "mckrs2");
    let _tcp: Vec<Server> = t
        .reals
        .iter()
        .zip([&r1, &r2])
        .zip([n1, n2])
        .map(|((rs, ip), name)| Server::tcp(&rs.name, ip, 7, name))
        .collect();
    // rs2 serves TCP but drops pings: a ping check, not a connect, keeps it out.
    t.reals[1].sh(
        "nft add table inet f && nft add chain inet f in \"{ type filter hook input priority 0; }\" \
         && nft add rule inet f in icmp type echo-request drop",
    );
    // HTTPS on rs1; plain HTTP on rs2's port 443, with the same page.
    let tls = farm::tls_server(&t.reals[0].name, &r1, &format!("/tmp/www-{n1}"), "mcktls");
    let _plain = lvsd_integration::topology::Httpd::start(&t.reals[1].name, &r2, 443, n2);
    // external: up while /tmp/mck-up-RIP exists; every call is logged.
    std::fs::write(
        "/tmp/mck-ext.sh",
        "#!/bin/sh\necho \"$@\" >> /tmp/mck-ext.calls\n[ -e /tmp/mck-up-$3 ]\n",
    )
    .expect("write the external check");
    sh("chmod 755 /tmp/mck-ext.sh && rm -f /tmp/mck-ext.calls /tmp/mck-up-*");
    sh(&format!("touch /tmp/mck-up-{r1}"));

    let block = |port: u16, rport: u16, body: &str| {
        format!(
            "virtual={vip}:{port}\n\tscheduler=rr\n{body}\treal={r1}:{rport} masq 1\n\treal={r2}:{rport} masq 1\n"
        )
    };
    let cfg = [
        GLOBAL.to_string(),
        block(1, 7, "\tchecktype=ping\n"),
        block(2, 7, "\tchecktype=external\n\tcheckcommand=/tmp/mck-ext.sh\n"),
        // Nothing listens on port 9: on calls both up, off neither.
        block(3, 9, "\tchecktype=on\n"),
        block(4, 7, "\tchecktype=off\n"),
        // rs2's page does not match: a connect alone would call it up.
        block(
            80,
            80,
            "\tchecktype=3\n\tservice=http\n\trequest=\"/index.html\"\n\treceive=\"from mckrs1\"\n",
        ),
        block(
            443,
            443,
            "\tchecktype=negotiate\n\tservice=https\n\trequest=\"/index.html\"\n\treceive=\"hello from\"\n",
        ),
    ]
    .concat();
    let lvsd = Lvsd::new(&t.director.name, "mck", &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let svc = |p: u16| format!("-t {vip}:{p}");
    let one = |ip: &str, p: u16| vec![(format!("{ip}:{p}"), 1)];
    wait_reals(&lvsd, "ping: rs1 only", &svc(1), &one(&r1, 7));
    wait_reals(&lvsd, "external: rs1 only", &svc(2), &one(&r1, 7));
    wait_reals(
        &lvsd,
        "on: both",
        &svc(3),
        &up(&[format!("{r1}:9"), format!("{r2}:9")]),
    );
    wait_reals(&lvsd, "checktype=3: rs1 only", &svc(80), &one(&r1, 80));
    wait_reals(&lvsd, "https: rs1 only", &svc(443), &one(&r1, 443));
    let save = lvsd.ipvsadm("-S -n");
    assert!(save.contains(&format!("-A {} -s rr", svc(4))), "{save}");
    assert_eq!(weights(&save, &svc(4)), vec![], "off: no real in\n{save}");

    // Traffic through each checked service reaches the real that passed.
    let got = farm::tcp_who(&t.client.name, &vip, 1, 2);
    assert_eq!(from(&got, n1), 2, "ping service: {got:?}");
    let got = farm::https_get(&t.client.name, &vip, 2);
    assert_eq!(from(&got, "hello from mckrs1"), 2, "https service: {got:?}");
    let got = t.fetch(2, None);
    assert_eq!(from(&got, n1), 2, "checktype=3 service: {got:?}");

    // external follows the script: rs2 comes up, rs1 goes down.
    let calls = std::fs::read_to_string("/tmp/mck-ext.calls").unwrap_or_default();
    assert!(
        calls.lines().any(|l| l == format!("{vip} 2 {r1} 7")),
        "checkcommand VIP VPORT RIP RPORT:\n{calls}"
    );
    sh(&format!("touch /tmp/mck-up-{r2} && rm /tmp/mck-up-{r1}"));
    wait_reals(&lvsd, "external: rs2 only", &svc(2), &one(&r2, 7));
    let got = farm::tcp_who(&t.client.name, &vip, 2, 2);
    assert_eq!(from(&got, n2), 2, "external service: {got:?}");

    // The TLS server dies: https loses rs1.
    drop(tls);
    wait_reals(&lvsd, "https: dead TLS server removed", &svc(443), &[]);
    lap(t0, "done");
    lvsd.stop();
}
