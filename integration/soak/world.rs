//! The soak's network and its moving parts: namespaces (NAT: client
//! 10.90.0.2 -> director VIP 10.90.0.100 -> reals 10.91.0.11-14 behind the
//! director's bridge), the real server processes, the nft rules that hang
//! a real, lvsd itself, and the configuration file it reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvsd_integration::director::Lvsd;
use lvsd_integration::{sh, sh_output, Netns};

use crate::model::{real_ip, Cfg, DIRECTOR_BACK, N_REALS, VIP};

pub const DIR: &str = "/tmp/soak";
pub const LB: &str = "soaklb";
pub const CL: &str = "soakcl";

pub struct World {
    /// Held so the namespaces live as long as the world (deleted on drop).
    pub _ns: Vec<Netns>,
    pub servers: Vec<Option<Child>>,
    /// `sleep` in the director namespace: its /proc/PID/net is the table.
    pub ns_holder: Child,
    pub lvsd: Lvsd,
}

fn veth(a_ns: &str, a: &str, b_ns: &str, b: &str) {
    sh(&format!(
        "ip link add {a} netns {a_ns} type veth peer name {b} netns {b_ns} && \
         ip -n {a_ns} link set {a} up && ip -n {b_ns} link set {b} up"
    ));
}

pub fn rs_ns(i: usize) -> String {
    format!("soakrs{}", i + 1)
}

impl World {
    pub fn new(cfg: &Cfg) -> World {
        let _ = std::fs::remove_dir_all(DIR);
        std::fs::create_dir_all(format!("{DIR}/maint")).expect("soak dir");
        let mut ns = vec![Netns::new(CL), Netns::new(LB)];
        veth(CL, "eth0", LB, "eth0");
        sh(&format!("ip -n {CL} addr add 10.90.0.2/24 dev eth0 && ip -n {CL} route add default via 10.90.0.1"));
        sh(&format!(
            "ip -n {LB} addr add 10.90.0.1/24 dev eth0 && ip -n {LB} addr add {VIP}/32 dev eth0 && \
             ip -n {LB} link add br0 type bridge && ip -n {LB} addr add {DIRECTOR_BACK}/24 dev br0 && \
             ip -n {LB} link set br0 up && ip netns exec {LB} sysctl -qw net.ipv4.ip_forward=1"
        ));
        for i in 0..N_REALS {
            let n = Netns::new(&rs_ns(i));
            veth(&n.name, "eth0", LB, &format!("p{i}"));
            sh(&format!("ip -n {LB} link set p{i} master br0"));
            sh(&format!(
                "ip -n {0} addr add {1}/24 dev eth0 && ip -n {0} route add default via {DIRECTOR_BACK}",
                n.name,
                real_ip(i)
            ));
            ns.push(n);
        }
        let ns_holder = Command::new("ip")
            .args(["netns", "exec", LB, "sleep", "1000000"])
            .spawn()
            .expect("sleep in the director namespace");
        let lvsd = Lvsd::new(LB, "soak", &config_text(cfg, false));
        let mut w = World {
            _ns: ns,
            servers: (0..N_REALS).map(|_| None).collect(),
            ns_holder,
            lvsd,
        };
        for i in 0..N_REALS {
            w.serve(i);
        }
        w
    }

    /// Starts real i's server and waits until it listens.
    pub fn serve(&mut self, i: usize) {
        let name = format!("rs{}", i + 1);
        let ready = PathBuf::from(format!("{DIR}/ready-{name}"));
        let _ = std::fs::remove_file(&ready);
        let me = std::env::current_exe().expect("own path");
        let child = Command::new("ip")
            .args(["netns", "exec", &rs_ns(i)])
            .arg(me)
            .args(["serve", &name, &real_ip(i), DIRECTOR_BACK, DIR])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn a real server");
        self.servers[i] = Some(child);
        // An exec took up to 26 s in a loaded VM (README): 60 s, then the
        // run stops loudly rather than judge lvsd against a server that
        // the model calls healthy and that never came up.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            assert!(
                Instant::now() < deadline,
                "real server {name} did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9 of real i's server.
    pub fn kill_server(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Drops new TCP connections (SYN without ACK) and DNS queries in the
    /// real's namespace; established connections keep flowing.
    pub fn hang(&self, i: usize, on: bool) {
        let ns = rs_ns(i);
        if on {
            let rules = "table inet soak {\n chain in {\n  type filter hook input priority 0;\n  \
                         tcp flags & (syn | ack) == syn drop\n  udp dport 53 drop\n }\n}\n";
            let f = format!("{DIR}/nft-{ns}");
            std::fs::write(&f, rules).expect("nft rules");
            sh(&format!("ip netns exec {ns} nft -f {f}"));
        } else {
            sh(&format!("ip netns exec {ns} nft delete table inet soak"));
        }
    }

    pub fn set_mode(&self, i: usize, mode: &str) {
        std::fs::write(format!("{DIR}/mode-rs{}", i + 1), mode).expect("mode file");
    }

    /// `ipvsadm ARGS` in the director's namespace; Err with its stderr.
    pub fn ipvsadm(&self, args: &str) -> Result<(), String> {
        let out = sh_output(&format!("ip netns exec {LB} ipvsadm {args}"));
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn client(&self, long: usize) -> Child {
        Command::new("ip")
            .args(["netns", "exec", CL])
            .arg(std::env::current_exe().expect("own path"))
            .args(["client", VIP, &long.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the client")
    }

    pub fn ns_pid(&self) -> u32 {
        self.ns_holder.id()
    }

    pub fn config_path(&self) -> &Path {
        &self.lvsd.config
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for i in 0..N_REALS {
            self.kill_server(i);
        }
        let _ = self.ns_holder.kill();
        let _ = self.ns_holder.wait();
    }
}

/// The configuration: three virtuals, quiescent (a failed real keeps its
/// entry at weight 0, so established connections to it are not dropped),
/// cleanstop=no (a stopped lvsd leaves the table serving), autoreload.
/// `broken` appends a line lvsd must refuse with its line number.
pub fn config_text(cfg: &Cfg, broken: bool) -> String {
    let mut s = format!(
        "checkinterval=1\nchecktimeout=2\nnegotiatetimeout=2\nquiescent=yes\ncleanstop=no\n\
         autoreload=yes\nmaintenancedir={DIR}/maint\n\
         virtual={VIP}:80\n\tservice=http\n\tchecktype=negotiate\n\trequest=\"/index.html\"\n\
         \treceive=\"hello from\"\n\tscheduler={}\n",
        cfg.http_sched
    );
    for (i, w) in cfg.http.iter().enumerate() {
        if let Some(w) = w {
            s.push_str(&format!("\treal={}:80 masq {w}\n", real_ip(i)));
        }
    }
    s.push_str(&format!(
        "virtual={VIP}:7000\n\tchecktype=connect\n\tscheduler=wlc\n"
    ));
    for i in 0..3 {
        s.push_str(&format!("\treal={}:7000 masq 1\n", real_ip(i)));
    }
    s.push_str(&format!(
        "virtual={VIP}:53\n\tprotocol=udp\n\tservice=dns\n\tchecktype=negotiate\n\
         \trequest=\"soak.test\"\n\treceive=\"^10\\.91\\.\"\n\tscheduler=rr\n"
    ));
    for i in 0..3 {
        s.push_str(&format!("\treal={}:53 masq 1\n", real_ip(i)));
    }
    if broken {
        s.push_str("\tbogus=soak\n");
    }
    s
}
