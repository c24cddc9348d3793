//! `ipvsadm -Lc`: the connection table, read from `/proc/net/ip_vs_conn`
//! (the kernel does not offer it over generic netlink). Pure: the file's text
//! in, ipvsadm's listing out.
//!
//! The kernel writes IPv4 addresses and all ports as hex (`%08X`, `%04X`) and
//! IPv6 addresses as text; an optional persistence engine name and data
//! follow the expiry time.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::names::{addrport, Names};
use crate::ipvs::table::Protocol;

/// One line of `/proc/net/ip_vs_conn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// As the kernel prints it: `TCP`, `UDP`, `SCTP`, ...
    pub protocol: String,
    pub client: SocketAddr,
    pub virtual_addr: SocketAddr,
    pub dest: SocketAddr,
    pub state: String,
    /// Seconds until the entry expires.
    pub expires: u32,
    /// Persistence engine name and data, when the entry has them.
    pub pe: Option<(String, String)>,
}

fn addr(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().or_else(|| {
        u32::from_str_radix(text, 16)
            .ok()
            .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
    })
}

fn port(text: &str) -> Option<u16> {
    u16::from_str_radix(text, 16).ok()
}

/// Parses one data line; `None` for the header or a line it cannot read.
pub fn parse_line(line: &str) -> Option<Conn> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 9 || f[0] == "Pro" {
        return None;
    }
    Some(Conn {
        protocol: f[0].to_string(),
        client: SocketAddr::new(addr(f[1])?, port(f[2])?),
        virtual_addr: SocketAddr::new(addr(f[3])?, port(f[4])?),
        dest: SocketAddr::new(addr(f[5])?, port(f[6])?),
        state: f[7].to_string(),
        expires: f[8].parse().ok()?,
        pe: match (f.get(9), f.get(10)) {
            (Some(n), Some(d)) => Some((n.to_string(), d.to_string())),
            _ => None,
        },
    })
}

/// Every connection in the file's text, in the file's order.
pub fn parse(text: &str) -> Vec<Conn> {
    text.lines().filter_map(parse_line).collect()
}

fn protocol_of(name: &str) -> Option<Protocol> {
    match name {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        "SCTP" => Some(Protocol::Sctp),
        _ => None,
    }
}

/// `ipvsadm -Lc [--persistent-conn]`.
pub fn render(conns: &[Conn], persistent: bool, names: &dyn Names) -> String {
    let mut out = String::from("IPVS connection entries\n");
    let _ = if persistent {
        writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        )
    } else {
        writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        )
    };
    for c in conns {
        let p = protocol_of(&c.protocol);
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        let (cn, vn, dn) = (
            addrport(&c.client, p, names),
            addrport(&c.virtual_addr, p, names),
            addrport(&c.dest, p, names),
        );
        let _ = match (&c.pe, persistent) {
            (Some((pe_name, pe_data)), true) => writeln!(
                out,
                "{:<3} {:<6} {:<11} {:<18} {:<18} {:<16} {:<18} {}",
                c.protocol, expire, c.state, cn, vn, dn, pe_name, pe_data
            ),
            _ => writeln!(
                out,
                "{:<3} {:<6} {:<11} {:<18} {:<18} {}",
                c.protocol, expire, c.state, cn, vn, dn
            ),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::render::names::Numeric;

    #[test]
    fn reads_hex_v4_and_text_v6_lines() {
        let text = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
                    TCP 0A140002 D2F4 0A140064 0050 0A1E000B 0050 TIME_WAIT       119\n\
                    UDP 2001:0db8:0000:0000:0000:0000:0000:0009 0035 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:0002 0035 UDP             299\n";
        let conns = parse(text);
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[0].client, "10.20.0.2:54004".parse().unwrap());
        assert_eq!(conns[1].dest, "[2001:db8::2]:53".parse().unwrap());
        assert_eq!(
            render(&conns[..1], false, &Numeric),
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n\
             TCP 01:59  TIME_WAIT   10.20.0.2:54004    10.20.0.100:80     10.30.0.11:80\n"
        );
    }
}
