//! The kernel's IPVS table as the harness reads it: `/proc/PID/net/ip_vs`
//! of a process sitting in the director's namespace. A file read costs far
//! less than an `ipvsadm` exec in the emulated VM (about 0.1 s each), which
//! is what lets the invariants be checked every 200 ms.

use std::collections::BTreeMap;

/// One virtual service: everything the kernel prints for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Service {
    /// Scheduler and flags, as printed (`wlc`, `rr persistent 300 FFFFFFFF`).
    pub head: String,
    /// Real address -> (forwarding, weight, active, inactive).
    pub reals: BTreeMap<String, (String, u32, u64, u64)>,
}

impl Service {
    pub fn weight(&self, real: &str) -> Option<u32> {
        self.reals.get(real).map(|r| r.1)
    }
}

/// Key `TCP 10.90.0.100:80` -> service.
pub type Table = BTreeMap<String, Service>;

fn addr(hex: &str) -> Option<String> {
    let (ip, port) = hex.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(format!("{}:{port}", std::net::Ipv4Addr::from(ip)))
}

/// Parses the IPv4 part of `/proc/net/ip_vs` (the soak uses no IPv6).
pub fn parse(text: &str) -> Option<Table> {
    let mut t = Table::new();
    let mut cur: Option<String> = None;
    for line in text.lines().skip(3) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("  ->") {
            let (Some(k), [_, a, fwd, wt, act, inact]) = (&cur, w.as_slice()) else {
                return None;
            };
            let real = (
                fwd.to_string(),
                wt.parse().ok()?,
                act.parse().ok()?,
                inact.parse().ok()?,
            );
            t.get_mut(k)?.reals.insert(addr(a)?, real);
        } else if let [proto, a, rest @ ..] = w.as_slice() {
            let k = format!("{proto} {}", addr(a)?);
            t.insert(
                k.clone(),
                Service {
                    head: rest.join(" "),
                    ..Default::default()
                },
            );
            cur = Some(k);
        }
    }
    Some(t)
}

/// Reads the table of the namespace `pid` lives in.
pub fn read(pid: u32) -> Option<Table> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/net/ip_vs")).ok()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_services_and_reals() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)\n\
            Prot LocalAddress:Port Scheduler Flags\n\
            \x20 -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
            TCP  0A5A0064:0050 wlc \n\
            \x20 -> 0A5B000B:0050      Masq    3      1          2         \n\
            UDP  0A5A0064:0035 rr persistent 300 FFFFFFFF\n";
        let t = super::parse(text).unwrap();
        let http = &t["TCP 10.90.0.100:80"];
        assert_eq!(http.head, "wlc");
        assert_eq!(http.reals["10.91.0.11:80"], ("Masq".into(), 3, 1, 2));
        assert_eq!(t["UDP 10.90.0.100:53"].head, "rr persistent 300 FFFFFFFF");
    }
}
