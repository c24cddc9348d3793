//! The vocabulary that the configuration and the kernel layer share: what a
//! virtual service is called (protocol, family, key), how a real is reached
//! (forwarding method and tunnel, see [`tunnel`]), persistence netmasks,
//! engines and scheduler flags; and the compiled `receive` pattern the
//! configuration hands to the checks. A leaf: it imports nothing of the
//! crate, so `config` and `ipvs` can both use it without knowing each other.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub mod tunnel;

pub use tunnel::{PersistenceEngine, Tunnel, TunnelCsum, TunnelType};

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

    /// The kernel address of a destination configured as `addr`: ipvsadm
    /// forces the virtual's port on gate and ipip destinations of
    /// non-fwmark services.
    pub fn kernel_dest(&self, addr: SocketAddr, forward: Forward) -> SocketAddr {
        match self {
            ServiceKey::Inet { addr: vaddr, .. } if forward != Forward::Masq => {
                SocketAddr::new(addr.ip(), vaddr.port())
            }
            _ => addr,
        }
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

/// A persistence netmask as configured: a dotted quad for IPv4 services, a
/// prefix length for IPv6 ones (what ipvsadm's `-M` takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6Prefix(u8),
}

impl Netmask {
    /// The value of `IPVS_SVC_ATTR_NETMASK`: the IPv4 mask as a host-order
    /// u32, or the IPv6 prefix length.
    pub fn kernel_value(self) -> u32 {
        match self {
            Netmask::V4(m) => u32::from(m),
            Netmask::V6Prefix(p) => u32::from(p),
        }
    }

    pub fn family(self) -> Family {
        match self {
            Netmask::V4(_) => Family::Inet,
            Netmask::V6Prefix(_) => Family::Inet6,
        }
    }
}

/// One scheduler flag as ipvsadm's `-b` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SchedFlag {
    Flag1,
    Flag2,
    Flag3,
    ShFallback,
    ShPort,
    MhFallback,
    MhPort,
}

impl SchedFlag {
    const ALL: [SchedFlag; 7] = [
        SchedFlag::Flag1,
        SchedFlag::Flag2,
        SchedFlag::Flag3,
        SchedFlag::ShFallback,
        SchedFlag::ShPort,
        SchedFlag::MhFallback,
        SchedFlag::MhPort,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SchedFlag::Flag1 => "flag-1",
            SchedFlag::Flag2 => "flag-2",
            SchedFlag::Flag3 => "flag-3",
            SchedFlag::ShFallback => "sh-fallback",
            SchedFlag::ShPort => "sh-port",
            SchedFlag::MhFallback => "mh-fallback",
            SchedFlag::MhPort => "mh-port",
        }
    }

    /// The `IP_VS_SVC_F_SCHED*` bit.
    pub fn bit(self) -> u32 {
        match self {
            SchedFlag::Flag1 | SchedFlag::ShFallback | SchedFlag::MhFallback => svc_flags::SCHED1,
            SchedFlag::Flag2 | SchedFlag::ShPort | SchedFlag::MhPort => svc_flags::SCHED2,
            SchedFlag::Flag3 => svc_flags::SCHED3,
        }
    }

    /// The scheduler a named flag belongs to (`sh-*` only with sh, `mh-*`
    /// only with mh, as ipvsadm checks).
    pub fn scheduler(self) -> Option<&'static str> {
        match self {
            SchedFlag::ShFallback | SchedFlag::ShPort => Some("sh"),
            SchedFlag::MhFallback | SchedFlag::MhPort => Some("mh"),
            _ => None,
        }
    }
}

/// A `schedflags` value, parsed once: the flags in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedFlags(Vec<SchedFlag>);

impl SchedFlags {
    /// Parses ipvsadm's `-b` list (`sh-fallback,sh-port`). At least one
    /// flag; empty items are skipped as ipvsadm does.
    pub fn parse(s: &str) -> Result<SchedFlags, String> {
        let mut flags = Vec::new();
        for item in s.split(',').filter(|f| !f.is_empty()) {
            let flag = SchedFlag::ALL
                .into_iter()
                .find(|f| f.name() == item)
                .ok_or_else(|| format!("invalid scheduler flag `{item}'"))?;
            flags.push(flag);
        }
        if flags.is_empty() {
            return Err(format!("invalid scheduler flag `{s}'"));
        }
        Ok(SchedFlags(flags))
    }

    pub fn flags(&self) -> &[SchedFlag] {
        &self.0
    }

    /// The service flag bits these add.
    pub fn bits(&self) -> u32 {
        self.0.iter().fold(0, |b, f| b | f.bit())
    }

    /// The first flag that needs a scheduler other than `scheduler`, and the
    /// scheduler it needs.
    pub fn mismatch(&self, scheduler: &str) -> Option<(SchedFlag, &'static str)> {
        self.0.iter().find_map(|f| match f.scheduler() {
            Some(s) if s != scheduler => Some((*f, s)),
            _ => None,
        })
    }
}

impl fmt::Display for SchedFlags {
    /// The list as written, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, flag) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(flag.name())?;
        }
        Ok(())
    }
}

/// A compiled `receive=` pattern (Perl syntax, so backreferences and
/// lookaround work). Compared and hashed by its source text.
#[derive(Clone)]
pub struct Receive {
    source: String,
    regex: Arc<fancy_regex::Regex>,
}

impl Receive {
    pub fn new(source: &str) -> Result<Receive, fancy_regex::Error> {
        let regex = fancy_regex::Regex::new(source)?;
        Ok(Receive {
            source: source.to_owned(),
            regex: Arc::new(regex),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches. A match that exhausts the backtracking limit
    /// counts as no match: a hostile body must not make a server look up.
    /// Perl's `$` also matches before a final newline, so a text ending in
    /// one is tried without it too (`^ok$` matches "ok\n" in ldirectord).
    pub fn is_match(&self, text: &str) -> bool {
        let matches = |t: &str| self.regex.is_match(t).unwrap_or(false);
        matches(text) || text.strip_suffix('\n').is_some_and(matches)
    }
}

impl PartialEq for Receive {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Receive {}

impl Hash for Receive {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

impl fmt::Debug for Receive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Receive({:?})", self.source)
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

    #[test]
    fn sched_flags_parse_like_ipvsadm() {
        let f = SchedFlags::parse("sh-fallback,,sh-port").unwrap();
        assert_eq!(f.bits(), svc_flags::SCHED1 | svc_flags::SCHED2);
        assert_eq!(f.to_string(), "sh-fallback,sh-port");
        assert_eq!(f.mismatch("sh"), None);
        assert_eq!(f.mismatch("wrr"), Some((SchedFlag::ShFallback, "sh")));
        assert_eq!(
            SchedFlags::parse("flag-3").unwrap().bits(),
            svc_flags::SCHED3
        );
        assert!(SchedFlags::parse("sh-bogus").is_err());
        assert!(SchedFlags::parse(",").is_err());
    }

    #[test]
    fn netmask_kernel_values() {
        assert_eq!(
            Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)).kernel_value(),
            0xffff_ff00
        );
        assert_eq!(Netmask::V6Prefix(64).kernel_value(), 64);
    }
}
