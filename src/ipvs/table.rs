//! The IPVS table as plain data: what the kernel holds, or what the director
//! wants it to hold. No wire encoding and no I/O here; counters and statistics
//! live beside the table (see `Snapshot`), so two tables compare equal when
//! they would program the kernel the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Transport protocol of a non-fwmark virtual service (`IPVS_SVC_ATTR_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number the kernel uses (IPPROTO_*).
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// Address family of a service or destination (`AF_INET` / `AF_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// `AF_INET` = 2, `AF_INET6` = 10.
    pub fn number(self) -> u16 {
        match self {
            Family::Inet => libc::AF_INET as u16,
            Family::Inet6 => libc::AF_INET6 as u16,
        }
    }

    pub fn from_number(n: u16) -> Option<Family> {
        match i32::from(n) {
            libc::AF_INET => Some(Family::Inet),
            libc::AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// Identity of a virtual service: what `ipvsadm -t/-u/--sctp-service/-f` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    Inet {
        protocol: Protocol,
        addr: SocketAddr,
    },
    FwMark {
        family: Family,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Inet { addr, .. } => Family::of(&addr.ip()),
            ServiceKey::FwMark { family, .. } => *family,
        }
    }

    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceKey::FwMark { .. })
    }
}

impl fmt::Display for ServiceKey {
    /// The numeric form ipvsadm accepts after `-t`, `-u`, `--sctp-service` or `-f`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet { protocol, addr } => {
                let p = match protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                    Protocol::Sctp => "sctp",
                };
                write!(f, "{p} {addr}")
            }
            ServiceKey::FwMark { family, mark } => match family {
                Family::Inet => write!(f, "fwmark {mark}"),
                Family::Inet6 => write!(f, "fwmark {mark} ipv6"),
            },
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`). The kernel-internal `HASHED` bit is never
/// stored here: the decoder masks it off so that comparisons do not flap.
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
}

/// What a virtual service is, apart from its key and its destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Scheduler name as the kernel knows it (`wlc`, `rr`, `mh`, ...). Not an
    /// enum: a kernel may offer schedulers this build has never heard of.
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` bits without `HASHED`.
    pub flags: u32,
    /// Persistence timeout in seconds; meaningful when `flags` has PERSISTENT.
    pub timeout: u32,
    /// IPv4: the persistence netmask as a host-order u32 (`0xffff_ff00` = /24).
    /// IPv6: the prefix length (128 = one client address).
    pub netmask: u32,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A non-persistent service with the given scheduler and the kernel's
    /// default netmask for the family.
    pub fn new(scheduler: impl Into<String>, family: Family) -> Service {
        Service {
            scheduler: scheduler.into(),
            flags: 0,
            timeout: 0,
            netmask: full_netmask(family),
            pe_name: None,
        }
    }

    pub fn is_persistent(&self) -> bool {
        self.flags & svc_flags::PERSISTENT != 0
    }
}

/// The netmask that means "one client address": /32 for IPv4, /128 for IPv6.
pub fn full_netmask(family: Family) -> u32 {
    match family {
        Family::Inet => 0xffff_ffff,
        Family::Inet6 => 128,
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forward {
    /// NAT, `-m`, ldirectord `masq`.
    Masq,
    /// Set by the kernel when the destination is a local address.
    Local,
    /// IP-in-IP (or GUE/GRE), `-i`, ldirectord `ipip`.
    Tunnel,
    /// Direct routing, `-g`, ldirectord `gate`.
    Route,
    /// Never configured; kept so that a kernel reply is represented faithfully.
    Bypass,
}

impl Forward {
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
        }
    }

    pub fn from_number(n: u32) -> Option<Forward> {
        match n {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::Route),
            4 => Some(Forward::Bypass),
            _ => None,
        }
    }
}

/// Tunnel encapsulation of a `Tunnel` destination (kernel ≥ 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelType {
    Ipip,
    /// GUE with its UDP destination port.
    Gue {
        port: u16,
    },
    Gre,
}

/// Checksum options of a GUE/GRE tunnel (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TunnelCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelType,
    pub csum: TunnelCsum,
}

/// A real server as programmed into a service; keyed by its address and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    pub forward: Forward,
    pub weight: u32,
    /// Upper connection threshold; 0 = none.
    pub upper_threshold: u32,
    /// Lower connection threshold; 0 = none.
    pub lower_threshold: u32,
    /// Tunnel details, for `Forward::Tunnel` on kernels that report them.
    pub tunnel: Option<Tunnel>,
}

impl Dest {
    pub fn new(forward: Forward, weight: u32) -> Dest {
        Dest {
            forward,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: None,
        }
    }
}

/// One virtual service with its destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub dests: BTreeMap<SocketAddr, Dest>,
}

impl ServiceEntry {
    pub fn new(service: Service) -> ServiceEntry {
        ServiceEntry {
            service,
            dests: BTreeMap::new(),
        }
    }
}

/// A whole IPVS table (or the part of it one owner cares about).
/// `BTreeMap` keeps iteration, diffs and logs deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, ServiceEntry>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel_headers() {
        assert_eq!(Protocol::Tcp.number(), 6);
        assert_eq!(Protocol::Udp.number(), 17);
        assert_eq!(Protocol::Sctp.number(), 132);
        assert_eq!(Family::Inet.number(), 2);
        assert_eq!(Family::Inet6.number(), 10);
        for n in 0..5 {
            assert_eq!(Forward::from_number(n).map(Forward::number), Some(n));
        }
        assert_eq!(Forward::from_number(5), None);
        assert_eq!(Protocol::from_number(1), None);
    }

    #[test]
    fn service_key_displays_like_ipvsadm_arguments() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "[2001:db8::1]:80".parse().unwrap(),
        };
        assert_eq!(k.to_string(), "tcp [2001:db8::1]:80");
        let f = ServiceKey::FwMark {
            family: Family::Inet6,
            mark: 7,
        };
        assert_eq!(f.to_string(), "fwmark 7 ipv6");
        assert_eq!(f.family(), Family::Inet6);
    }
}
