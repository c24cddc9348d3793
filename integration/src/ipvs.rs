//! Helpers for the IPVS kernel tests: a namespace whose routes make real
//! server addresses acceptable to the kernel, running `lvsd` and `ipvsadm`
//! in it, byte-for-byte comparison of their outputs, and the rule sets the
//! tests program.

use std::fmt::Write as _;
use std::process::Output;

use crate::{lvsd_bin, Netns};

/// A namespace for one IPVS table. The kernel refuses an IPv4 real server
/// whose address is not unicast from the director's point of view, so a
/// dummy interface carries default routes (and 10.250.0.1, a local address
/// that turns a `-g` real server into `Local`).
pub struct Lab {
    pub ns: Netns,
}

impl Lab {
    pub fn new(name: &str) -> Lab {
        let ns = Netns::new(name);
        ns.sh("ip link add d0 type dummy && ip link set d0 up && \
             ip addr add 10.250.0.1/24 dev d0 && ip -6 addr add fd00:250::1/64 dev d0 nodad && \
             ip route add default dev d0 && ip -6 route add default dev d0");
        Lab { ns }
    }

    /// `lvsd ARGS` in the namespace; panics unless it succeeds.
    pub fn lvsd(&self, args: &str) -> String {
        self.ns.sh(&format!("{} {args}", lvsd_bin().display()))
    }

    /// `lvsd ARGS < FILE` in the namespace, whatever its status.
    pub fn lvsd_with_input(&self, args: &str, file: &str) -> Output {
        self.ns
            .sh_output(&format!("{} {args} < {file}", lvsd_bin().display()))
    }

    pub fn ipvsadm(&self, args: &str) -> String {
        self.ns.sh(&format!("ipvsadm {args}"))
    }

    /// `ipvsadm ARGS` and `lvsd LVSD_ARGS` print the same bytes.
    pub fn assert_same(&self, ipvsadm_args: &str, lvsd_args: &str) {
        let want = self.ipvsadm(ipvsadm_args);
        let got = self.lvsd(lvsd_args);
        assert_same_text(
            &want,
            &got,
            &format!("ipvsadm {ipvsadm_args} vs lvsd {lvsd_args}"),
        );
    }

    /// Writes `rules` to a file and loads it with `lvsd restore`.
    pub fn restore(&self, rules: &str) {
        let file = format!("/tmp/{}.rules", self.ns.name);
        std::fs::write(&file, rules).unwrap_or_else(|e| panic!("cannot write {file}: {e}"));
        let out = self.lvsd_with_input("restore", &file);
        assert!(
            out.status.success(),
            "lvsd restore failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Panics with the first differing line (and both lengths) unless equal.
pub fn assert_same_text(want: &str, got: &str, what: &str) {
    if want == got {
        return;
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    panic!(
        "{what}: outputs differ at line {} ({} vs {} lines)\nexpected: {:?}\n     got: {:?}\n--- expected (ipvsadm) ---\n{}\n--- got (lvsd) ---\n{}",
        at + 1,
        w.len(),
        g.len(),
        w.get(at),
        g.get(at),
        head(want),
        head(got)
    );
}

fn head(s: &str) -> String {
    s.lines().take(40).collect::<Vec<_>>().join("\n")
}

pub const SCHEDULERS: [&str; 13] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// Every service kind × IPv4/IPv6 × every scheduler of the 6.1 kernel, with
/// persistence, netmasks, PE, one-packet and scheduler flags, and real
/// servers with every forwarding method, thresholds and tunnel types.
/// Addresses are spread over the whole address space so that ipvsadm's
/// wrapped comparison matters. `with_local` adds a real server on a local
/// address (the kernel reports it as `Local`).
pub fn matrix_rules(with_local: bool) -> String {
    let mut out = String::new();
    let kinds = ["-t", "-u", "--sctp-service", "-f"];
    let bases4 = ["10.1", "192.168", "172.16", "203.0"];
    let mut i = 0usize;
    for kind in kinds {
        for v6 in [false, true] {
            for sched in SCHEDULERS {
                i += 1;
                let port = 1000 + i;
                let svc = match (kind, v6) {
                    ("-f", false) => format!("-f {}", if i == 80 { 2_147_483_649 } else { i }),
                    ("-f", true) => format!("-f {i} -6"),
                    (_, false) => format!("{kind} {}.{}.{}:{port}", bases4[i % 4], i % 7, i),
                    (_, true) => {
                        format!("{kind} [2001:db8:{:x}::{:x}]:{port}", (i % 4) * 0x4000, i)
                    }
                };
                let mut opts = String::new();
                let udpish = kind == "-u" || kind == "-f";
                match i % 6 {
                    1 => opts.push_str(" -p 300"),
                    2 if v6 => opts.push_str(" -p 600 -M 64"),
                    2 => opts.push_str(" -p 600 -M 255.255.255.0"),
                    3 if udpish => opts.push_str(" -o"),
                    4 => opts.push_str(" -p"),
                    5 if kind == "-u" => opts.push_str(" -p 120 --pe sip"),
                    5 => opts.push_str(" -p 120"),
                    _ => {}
                }
                match sched {
                    "sh" if i.is_multiple_of(2) => opts.push_str(" -b sh-fallback,sh-port"),
                    "sh" => opts.push_str(" -b sh-port"),
                    "mh" => opts.push_str(" -b mh-fallback"),
                    "wrr" => opts.push_str(" -b flag-2"),
                    _ => {}
                }
                let _ = writeln!(out, "-A {svc} -s {sched}{opts}");
                for j in 0..4usize {
                    let masq_port = 8000 + j;
                    let dport = if kind == "-f" { 0 } else { port };
                    let addr = |p: usize| {
                        if v6 {
                            format!("[fd00:{:x}::{:x}]:{p}", i, j + 1)
                        } else {
                            format!("10.{}.{}.{}:{p}", 200 + (i % 50), i, j + 1)
                        }
                    };
                    let weight = if i == 7 && j == 0 {
                        65535
                    } else {
                        (i * 7 + j) % 5
                    };
                    let rest = match (i + j) % 6 {
                        0 => format!("-r {} -m -w {weight}", addr(masq_port)),
                        1 => format!("-r {} -g -w {weight}", addr(dport)),
                        2 => format!("-r {} -i -w {weight}", addr(dport)),
                        3 => format!(
                            "-r {} -i -w {weight} --tun-type gue --tun-port {} {}",
                            addr(dport),
                            6080 + j,
                            ["--tun-nocsum", "--tun-csum", "--tun-remcsum"][i % 3]
                        ),
                        // ipvsadm refuses --tun-remcsum with GRE.
                        4 => format!(
                            "-r {} -i -w {weight} --tun-type gre {}",
                            addr(dport),
                            ["--tun-nocsum", "--tun-csum"][i % 2]
                        ),
                        _ => format!(
                            "-r {} -m -w {weight} -x {} -y {}",
                            addr(masq_port),
                            100 + i,
                            i
                        ),
                    };
                    let _ = writeln!(out, "-a {svc} {rest}");
                }
                // A heterogeneous pool: an IPv6 tunnel real server of an IPv4 service.
                if kind == "-t" && !v6 && i.is_multiple_of(5) {
                    let _ = writeln!(out, "-a {svc} -r [fd00:ffff::{i:x}]:{port} -i -w 1");
                }
                if with_local && i == 1 {
                    let _ = writeln!(out, "-a {svc} -r 10.250.0.1:{port} -g -w 1");
                }
            }
        }
    }
    out
}

/// `services` TCP services with `dests` masquerading real servers each.
pub fn big_rules(services: usize, dests: usize) -> String {
    let mut out = String::new();
    for s in 0..services {
        let vip = format!(
            "{}.{}.{}.1:80",
            [10, 192, 172, 100][s % 4],
            s / 250,
            s % 250
        );
        let _ = writeln!(out, "-A -t {vip} -s wlc");
        for d in 0..dests {
            let _ = writeln!(
                out,
                "-a -t {vip} -r 10.{}.{}.{}:8080 -m -w {}",
                100 + s / 250,
                s % 250,
                d + 1,
                d % 3
            );
        }
    }
    out
}
