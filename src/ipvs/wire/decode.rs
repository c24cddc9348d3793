//! Replies of the IPVS family, bytes to values. Total: any input gives a value
//! or a [`DecodeError`] naming the attribute, never a panic. Unknown
//! attributes are skipped (a newer kernel may add some), nests are found by
//! number (the kernel does not set `NLA_F_NESTED`), and a destination without
//! `ADDR_FAMILY` (kernels before 3.18) takes its service's family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::attr::{Attr, Attrs};
use super::consts::{
    cmd_attr, daemon_attr, daemon_state, dest_attr, info_attr, stats_attr, svc_attr,
    CONN_F_FWD_MASK,
};
use crate::ipvs::error::DecodeError;
use crate::ipvs::snapshot::{Daemon, DaemonState, DestCounters, Info, Stats, Timeouts};
use crate::ipvs::table::{
    svc_flags, Dest, Family, Forward, Protocol, Service, ServiceKey, Tunnel, TunnelCsum, TunnelType,
};

/// The attributes of one nest by number, read in a single pass (every IPVS
/// attribute set numbers its attributes below 16). The first of a number
/// wins; numbers beyond the table are skipped as unknown.
struct Index<'a> {
    slots: [Option<Attr<'a>>; 16],
}

impl<'a> Index<'a> {
    fn new(buf: &'a [u8]) -> Result<Index<'a>, DecodeError> {
        let mut slots = [None; 16];
        for a in Attrs::new(buf) {
            let a = a?;
            if let Some(slot) = slots.get_mut(usize::from(a.kind)) {
                if slot.is_none() {
                    *slot = Some(a);
                }
            }
        }
        Ok(Index { slots })
    }

    fn find(&self, kind: u16) -> Result<Option<Attr<'a>>, DecodeError> {
        Ok(self.slots.get(usize::from(kind)).copied().flatten())
    }

    fn require(&self, kind: u16, name: &'static str) -> Result<Attr<'a>, DecodeError> {
        self.find(kind)?.ok_or(DecodeError::Missing { attr: name })
    }
}

fn family(n: u16, name: &'static str) -> Result<Family, DecodeError> {
    Family::from_number(n).ok_or(DecodeError::Invalid {
        attr: name,
        value: u64::from(n),
    })
}

/// A counter in either layout: `IPVS_*_ATTR_STATS` mixes u32 and u64,
/// `STATS64` is all u64.
fn counter(a: &Attr<'_>) -> Result<u64, DecodeError> {
    match a.payload.len() {
        4 => a.u32("IPVS_STATS_ATTR_*").map(u64::from),
        _ => a.u64("IPVS_STATS_ATTR_*"),
    }
}

/// The contents of a `STATS` or `STATS64` nest.
pub fn decode_stats(nest: &[u8]) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for a in Attrs::new(nest) {
        let a = a?;
        let field = match a.kind {
            stats_attr::CONNS => &mut s.conns,
            stats_attr::INPKTS => &mut s.inpkts,
            stats_attr::OUTPKTS => &mut s.outpkts,
            stats_attr::INBYTES => &mut s.inbytes,
            stats_attr::OUTBYTES => &mut s.outbytes,
            stats_attr::CPS => &mut s.cps,
            stats_attr::INPPS => &mut s.inpps,
            stats_attr::OUTPPS => &mut s.outpps,
            stats_attr::INBPS => &mut s.inbps,
            stats_attr::OUTBPS => &mut s.outbps,
            _ => continue, // PAD, or newer
        };
        *field = counter(&a)?;
    }
    Ok(s)
}

/// STATS64 when present, else STATS, else zeros.
fn stats_of(ix: &Index<'_>, stats: u16, stats64: u16) -> Result<Stats, DecodeError> {
    match (ix.find(stats64)?, ix.find(stats)?) {
        (Some(a), _) | (None, Some(a)) => decode_stats(a.payload),
        (None, None) => Ok(Stats::default()),
    }
}

/// The contents of an `IPVS_CMD_ATTR_SERVICE` nest.
pub fn decode_service_nest(nest: &[u8]) -> Result<(ServiceKey, Service, Stats), DecodeError> {
    let ix = Index::new(nest)?;
    let af = ix
        .require(svc_attr::AF, "IPVS_SVC_ATTR_AF")?
        .u16("IPVS_SVC_ATTR_AF")?;
    let fam = family(af, "IPVS_SVC_ATTR_AF")?;
    let mark = match ix.find(svc_attr::FWMARK)? {
        Some(a) => a.u32("IPVS_SVC_ATTR_FWMARK")?,
        None => 0,
    };
    let key = if mark != 0 {
        ServiceKey::FwMark { family: fam, mark }
    } else {
        let p = ix
            .require(svc_attr::PROTOCOL, "IPVS_SVC_ATTR_PROTOCOL")?
            .u16("IPVS_SVC_ATTR_PROTOCOL")?;
        let protocol = Protocol::from_number(p).ok_or(DecodeError::Invalid {
            attr: "IPVS_SVC_ATTR_PROTOCOL",
            value: u64::from(p),
        })?;
        let ip = ix
            .require(svc_attr::ADDR, "IPVS_SVC_ATTR_ADDR")?
            .inet_addr("IPVS_SVC_ATTR_ADDR", fam == Family::Inet6)?;
        let port = ix
            .require(svc_attr::PORT, "IPVS_SVC_ATTR_PORT")?
            .be16("IPVS_SVC_ATTR_PORT")?;
        ServiceKey::Inet {
            protocol,
            addr: SocketAddr::new(ip, port),
        }
    };
    let scheduler = ix
        .require(svc_attr::SCHED_NAME, "IPVS_SVC_ATTR_SCHED_NAME")?
        .string("IPVS_SVC_ATTR_SCHED_NAME")?;
    let flags = match ix.find(svc_attr::FLAGS)? {
        // struct ip_vs_flags { flags, mask }: only `flags` means anything here.
        Some(a) => {
            let b = a.payload.get(..4).ok_or(DecodeError::Length {
                attr: "IPVS_SVC_ATTR_FLAGS",
                expected: 8,
                got: a.payload.len(),
            })?;
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) & !svc_flags::HASHED
        }
        None => 0,
    };
    let timeout = match ix.find(svc_attr::TIMEOUT)? {
        Some(a) => a.u32("IPVS_SVC_ATTR_TIMEOUT")?,
        None => 0,
    };
    let netmask = match (ix.find(svc_attr::NETMASK)?, fam) {
        (Some(a), Family::Inet) => a.be32("IPVS_SVC_ATTR_NETMASK")?,
        (Some(a), Family::Inet6) => a.u32("IPVS_SVC_ATTR_NETMASK")?,
        (None, f) => crate::ipvs::table::full_netmask(f),
    };
    let pe_name = match ix.find(svc_attr::PE_NAME)? {
        Some(a) => Some(a.string("IPVS_SVC_ATTR_PE_NAME")?).filter(|s| !s.is_empty()),
        None => None,
    };
    let stats = stats_of(&ix, svc_attr::STATS, svc_attr::STATS64)?;
    let svc = Service {
        scheduler,
        flags,
        timeout,
        netmask,
        pe_name,
    };
    Ok((key, svc, stats))
}

/// One `GET_SERVICE` reply (the genl payload after its 4-byte header).
pub fn decode_service(attrs: &[u8]) -> Result<(ServiceKey, Service, Stats), DecodeError> {
    let ix = Index::new(attrs)?;
    let nest = ix.require(cmd_attr::SERVICE, "IPVS_CMD_ATTR_SERVICE")?;
    decode_service_nest(nest.payload)
}

fn opt_u32(ix: &Index<'_>, kind: u16, name: &'static str) -> Result<u32, DecodeError> {
    ix.find(kind)?.map_or(Ok(0), |a| a.u32(name))
}

/// One `GET_DEST` reply, for a service of family `svc_family`.
pub fn decode_dest(
    attrs: &[u8],
    svc_family: Family,
) -> Result<(SocketAddr, Dest, DestCounters), DecodeError> {
    let nest = Index::new(attrs)?
        .require(cmd_attr::DEST, "IPVS_CMD_ATTR_DEST")?
        .payload;
    let ix = Index::new(nest)?;
    let fam = match ix.find(dest_attr::ADDR_FAMILY)? {
        Some(a) => family(
            a.u16("IPVS_DEST_ATTR_ADDR_FAMILY")?,
            "IPVS_DEST_ATTR_ADDR_FAMILY",
        )?,
        None => svc_family,
    };
    let ip = ix
        .require(dest_attr::ADDR, "IPVS_DEST_ATTR_ADDR")?
        .inet_addr("IPVS_DEST_ATTR_ADDR", fam == Family::Inet6)?;
    let port = ix
        .require(dest_attr::PORT, "IPVS_DEST_ATTR_PORT")?
        .be16("IPVS_DEST_ATTR_PORT")?;
    let fwd = opt_u32(&ix, dest_attr::FWD_METHOD, "IPVS_DEST_ATTR_FWD_METHOD")? & CONN_F_FWD_MASK;
    let forward = Forward::from_number(fwd).ok_or(DecodeError::Invalid {
        attr: "IPVS_DEST_ATTR_FWD_METHOD",
        value: u64::from(fwd),
    })?;
    let tunnel = if forward == Forward::Tunnel {
        decode_tunnel(&ix)?
    } else {
        None
    };
    let dest = Dest {
        forward,
        weight: opt_u32(&ix, dest_attr::WEIGHT, "IPVS_DEST_ATTR_WEIGHT")?,
        upper_threshold: opt_u32(&ix, dest_attr::U_THRESH, "IPVS_DEST_ATTR_U_THRESH")?,
        lower_threshold: opt_u32(&ix, dest_attr::L_THRESH, "IPVS_DEST_ATTR_L_THRESH")?,
        tunnel,
    };
    let counters = DestCounters {
        active_conns: opt_u32(&ix, dest_attr::ACTIVE_CONNS, "IPVS_DEST_ATTR_ACTIVE_CONNS")?,
        inact_conns: opt_u32(&ix, dest_attr::INACT_CONNS, "IPVS_DEST_ATTR_INACT_CONNS")?,
        persist_conns: opt_u32(
            &ix,
            dest_attr::PERSIST_CONNS,
            "IPVS_DEST_ATTR_PERSIST_CONNS",
        )?,
        stats: stats_of(&ix, dest_attr::STATS, dest_attr::STATS64)?,
    };
    Ok((SocketAddr::new(ip, port), dest, counters))
}

/// The tunnel attributes of a tunnel destination. The kernel's default
/// (IPIP, no checksum options) is `None`, so a table read back equals the
/// table that was programmed without tunnel options.
fn decode_tunnel(ix: &Index<'_>) -> Result<Option<Tunnel>, DecodeError> {
    let Some(t) = ix.find(dest_attr::TUN_TYPE)? else {
        return Ok(None);
    };
    let kind = t.u8("IPVS_DEST_ATTR_TUN_TYPE")?;
    let port = match ix.find(dest_attr::TUN_PORT)? {
        Some(a) => a.be16("IPVS_DEST_ATTR_TUN_PORT")?,
        None => 0,
    };
    let flags = match ix.find(dest_attr::TUN_FLAGS)? {
        Some(a) => a.u16("IPVS_DEST_ATTR_TUN_FLAGS")?,
        None => 0,
    };
    let csum = match flags {
        0 => TunnelCsum::NoCsum,
        1 => TunnelCsum::Csum,
        2 => TunnelCsum::RemCsum,
        n => {
            return Err(DecodeError::Invalid {
                attr: "IPVS_DEST_ATTR_TUN_FLAGS",
                value: u64::from(n),
            })
        }
    };
    let kind = match kind {
        0 if csum == TunnelCsum::NoCsum => return Ok(None),
        0 => TunnelType::Ipip,
        1 => TunnelType::Gue { port },
        2 => TunnelType::Gre,
        n => {
            return Err(DecodeError::Invalid {
                attr: "IPVS_DEST_ATTR_TUN_TYPE",
                value: u64::from(n),
            })
        }
    };
    Ok(Some(Tunnel { kind, csum }))
}

/// A `GET_INFO` reply.
pub fn decode_info(attrs: &[u8]) -> Result<Info, DecodeError> {
    let ix = Index::new(attrs)?;
    Ok(Info {
        version: ix
            .require(info_attr::VERSION, "IPVS_INFO_ATTR_VERSION")?
            .u32("IPVS_INFO_ATTR_VERSION")?,
        conn_tab_size: ix
            .require(info_attr::CONN_TAB_SIZE, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?
            .u32("IPVS_INFO_ATTR_CONN_TAB_SIZE")?,
    })
}

/// A `GET_CONFIG` reply.
pub fn decode_timeouts(attrs: &[u8]) -> Result<Timeouts, DecodeError> {
    let ix = Index::new(attrs)?;
    Ok(Timeouts {
        tcp: opt_u32(&ix, cmd_attr::TIMEOUT_TCP, "IPVS_CMD_ATTR_TIMEOUT_TCP")?,
        tcp_fin: opt_u32(
            &ix,
            cmd_attr::TIMEOUT_TCP_FIN,
            "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN",
        )?,
        udp: opt_u32(&ix, cmd_attr::TIMEOUT_UDP, "IPVS_CMD_ATTR_TIMEOUT_UDP")?,
    })
}

/// One `GET_DAEMON` reply.
pub fn decode_daemon(attrs: &[u8]) -> Result<Daemon, DecodeError> {
    let nest = Index::new(attrs)?
        .require(cmd_attr::DAEMON, "IPVS_CMD_ATTR_DAEMON")?
        .payload;
    let ix = Index::new(nest)?;
    let st = ix
        .require(daemon_attr::STATE, "IPVS_DAEMON_ATTR_STATE")?
        .u32("IPVS_DAEMON_ATTR_STATE")?;
    let state = match st {
        daemon_state::MASTER => DaemonState::Master,
        daemon_state::BACKUP => DaemonState::Backup,
        n => {
            return Err(DecodeError::Invalid {
                attr: "IPVS_DAEMON_ATTR_STATE",
                value: u64::from(n),
            })
        }
    };
    let group4 = match ix.find(daemon_attr::MCAST_GROUP)? {
        Some(a) => Some(IpAddr::V4(Ipv4Addr::from(
            a.be32("IPVS_DAEMON_ATTR_MCAST_GROUP")?,
        ))),
        None => None,
    };
    let group6 = match ix.find(daemon_attr::MCAST_GROUP6)? {
        Some(a) => {
            let b: [u8; 16] = a.payload.try_into().map_err(|_| DecodeError::Length {
                attr: "IPVS_DAEMON_ATTR_MCAST_GROUP6",
                expected: 16,
                got: a.payload.len(),
            })?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        None => None,
    };
    Ok(Daemon {
        state,
        mcast_ifn: ix
            .require(daemon_attr::MCAST_IFN, "IPVS_DAEMON_ATTR_MCAST_IFN")?
            .string("IPVS_DAEMON_ATTR_MCAST_IFN")?,
        sync_id: opt_u32(&ix, daemon_attr::SYNC_ID, "IPVS_DAEMON_ATTR_SYNC_ID")?,
        sync_maxlen: match ix.find(daemon_attr::SYNC_MAXLEN)? {
            Some(a) => a.u16("IPVS_DAEMON_ATTR_SYNC_MAXLEN")?,
            None => 0,
        },
        mcast_group: group6.or(group4),
        mcast_port: match ix.find(daemon_attr::MCAST_PORT)? {
            Some(a) => a.u16("IPVS_DAEMON_ATTR_MCAST_PORT")?,
            None => 0,
        },
        mcast_ttl: match ix.find(daemon_attr::MCAST_TTL)? {
            Some(a) => a.u8("IPVS_DAEMON_ATTR_MCAST_TTL")?,
            None => 0,
        },
    })
}
