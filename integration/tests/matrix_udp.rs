//! UDP through the running daemon on the real kernel: DNS (`service=dns`,
//! IPv4 and IPv6) against dnsmasq and RADIUS against freeradius, with
//! negotiate checks that read the answers. Each test sends real queries
//! through the VIP and fails a real.

use lvsd_integration::director::Lvsd;
use lvsd_integration::farm::{self, Server, Six};
use lvsd_integration::matrix::{from, lap, up, wait_reals, GLOBAL};
use lvsd_integration::require_vm;
use lvsd_integration::topology::{Mode, Topology};

/// UDP DNS, `service=dns` negotiate: two dnsmasq answer inside
/// `receive=`, a third answers wrongly; queries through the VIP go to the
/// two, then to the one left when a dnsmasq dies. IPv4, or IPv6 (NAT both).
fn dns_farm(prefix: &str, net: u8, v6: bool) {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new(prefix, Mode::Nat, 3, net);
    let six = v6.then(|| Six::add(&t, net));
    lap(t0, "topology");
    let (vip, ips) = match &six {
        Some(s) => (s.vip.clone(), s.real_ips.clone()),
        None => (t.vip.clone(), t.real_ips.clone()),
    };
    // `[addr]` in the file and in ipvsadm's listing for IPv6.
    let bracket = |ip: &str| {
        if v6 {
            format!("[{ip}]")
        } else {
            ip.to_string()
        }
    };
    let (virt, real) = if v6 {
        ("virtual6", "real6")
    } else {
        ("virtual", "real")
    };
    // rs1 and rs2 answer inside receive=; rs3 answers, but with the wrong
    // address: only a check that reads the answer keeps it out.
    let answers = ["192.0.2.1", "192.0.2.2", "198.51.100.3"];
    let mut dns: Vec<Server> = t
        .reals
        .iter()
        .zip(&ips)
        .zip(answers)
        .enumerate()
        .map(|(i, ((rs, ip), a))| farm::dnsmasq(&rs.name, ip, a, &format!("{prefix}rs{}", i + 1)))
        .collect();
    let mut cfg = format!(
        "{GLOBAL}{virt}={}:53\n\tprotocol=udp\n\tservice=dns\n\tchecktype=negotiate\n\
         \trequest=\"www.test\"\n\treceive=\"^192\\.0\\.2\\.\"\n\tscheduler=rr\n",
        bracket(&vip)
    );
    for ip in &ips {
        cfg.push_str(&format!("\t{real}={}:53 masq 1\n", bracket(ip)));
    }
    let lvsd = Lvsd::new(&t.director.name, prefix, &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let svc = format!("-u {}:53", bracket(&vip));
    let reals: Vec<String> = ips.iter().map(|ip| format!("{}:53", bracket(ip))).collect();
    wait_reals(&lvsd, "the two right answers in", &svc, &up(&reals[..2]));
    let (_, status) = lvsd.action("status");
    assert!(
        status
            .lines()
            .any(|l| l.contains(&reals[2]) && l.contains("198.51.100.3")),
        "rs3 is down for its answer:\n{status}"
    );

    let got = farm::dns_query(&t.client.name, &vip, 6);
    assert!(
        got.iter().all(Option::is_some),
        "every query answered: {got:?}"
    );
    assert_eq!(from(&got, "192.0.2.1"), 3, "{got:?}");
    assert_eq!(from(&got, "192.0.2.2"), 3, "{got:?}");

    dns[0].stop();
    wait_reals(&lvsd, "dead dnsmasq removed", &svc, &up(&reals[1..2]));
    let got = farm::dns_query(&t.client.name, &vip, 4);
    assert_eq!(from(&got, "192.0.2.2"), 4, "all queries to rs2: {got:?}");
    lap(t0, "done");
    lvsd.stop();
}

#[test]
fn udp_dns_negotiate_against_dnsmasq() {
    dns_farm("mdn", 138, false);
}

#[test]
fn udp_dns_over_ipv6_negotiate_against_dnsmasq() {
    dns_farm("mdn6", 160, true);
}

#[test]
fn udp_radius_negotiate_against_freeradius() {
    require_vm();
    let t0 = std::time::Instant::now();
    let t = Topology::new("mra", Mode::Nat, 3, 142);
    lap(t0, "topology");
    let vip = t.vip.clone();
    // rs3 shares another secret: its answers do not verify, so it is down.
    let mut rad: Vec<Server> = ["testing123", "testing123", "othersecret"]
        .iter()
        .zip(&t.reals)
        .enumerate()
        .map(|(i, (secret, rs))| farm::freeradius(&rs.name, secret, &format!("mrars{}", i + 1)))
        .collect();
    let mut cfg = format!(
        "{GLOBAL}virtual={vip}:1812\n\tprotocol=udp\n\tservice=radius\n\tchecktype=negotiate\n\
         \tlogin=\"probe\"\n\tpasswd=\"pw\"\n\tsecret=\"testing123\"\n\tscheduler=rr\n"
    );
    for ip in &t.real_ips {
        cfg.push_str(&format!("\treal={ip}:1812 masq 1\n"));
    }
    let lvsd = Lvsd::new(&t.director.name, "mra", &cfg);
    lvsd.start();
    lap(t0, "servers and daemon up");
    let svc = format!("-u {vip}:1812");
    let reals: Vec<String> = t.real_ips.iter().map(|ip| format!("{ip}:1812")).collect();
    wait_reals(&lvsd, "the two with our secret in", &svc, &up(&reals[..2]));

    let got = farm::radius_auth(&t.client.name, &vip, "testing123", 6);
    assert!(
        got.iter().all(Option::is_some),
        "every request accepted: {got:?}"
    );
    assert_eq!(from(&got, "mrars1"), 3, "{got:?}");
    assert_eq!(from(&got, "mrars2"), 3, "{got:?}");

    rad[0].stop();
    wait_reals(&lvsd, "dead freeradius removed", &svc, &up(&reals[1..2]));
    let got = farm::radius_auth(&t.client.name, &vip, "testing123", 4);
    assert_eq!(from(&got, "mrars2"), 4, "all requests to rs2: {got:?}");
    lap(t0, "done");
    lvsd.stop();
}
