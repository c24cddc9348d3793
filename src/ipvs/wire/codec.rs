//! Requests of the IPVS family as bytes: each [`Change`] (and every other
//! command the client sends) becomes a command number plus its attributes.
//! Pure; the byte order of every attribute is written down here, once:
//!
//! | attribute | wire |
//! |---|---|
//! | `SVC_ATTR_AF`, `PROTOCOL`, `DEST_ATTR_ADDR_FAMILY`, `TUN_FLAGS` | u16, host order |
//! | `SVC_ATTR_ADDR`, `DEST_ATTR_ADDR` | 16 bytes (`union nf_inet_addr`), IPv4 in the first 4 |
//! | `SVC_ATTR_PORT`, `DEST_ATTR_PORT`, `TUN_PORT` | u16 holding a **network-order** value |
//! | `FWMARK`, `TIMEOUT`, `FWD_METHOD`, `WEIGHT`, `U/L_THRESH` | u32, host order |
//! | `SVC_ATTR_FLAGS` | `struct ip_vs_flags { u32 flags; u32 mask; }`, mask all ones |
//! | `SVC_ATTR_NETMASK` | IPv4: the mask in network order; IPv6: the prefix length, host order |
//! | `SCHED_NAME`, `PE_NAME` | NUL-terminated, at most 15 characters |
//! | `TUN_TYPE` | u8 |

use std::net::{IpAddr, SocketAddr};

use super::attr::AttrWriter;
use super::consts::{cmd, cmd_attr, daemon_attr, dest_attr, svc_attr, NAME_MAXLEN};
use crate::ipvs::change::Change;
use crate::ipvs::error::{IpvsError, Op, Target};
use crate::ipvs::snapshot::{Daemon, DaemonState, Timeouts};
use crate::ipvs::table::{Dest, Family, Forward, Service, ServiceKey, TunnelCsum, TunnelType};

/// One request: a generic netlink command and its first-level attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub cmd: u8,
    pub attrs: Vec<u8>,
    /// Sent with `NLM_F_DUMP`.
    pub dump: bool,
    /// What the request is about, for errors.
    pub op: Op,
    pub target: Target,
}

impl Request {
    fn new(cmd: u8, op: Op, target: Target, attrs: AttrWriter) -> Request {
        Request {
            cmd,
            attrs: attrs.finish(),
            dump: false,
            op,
            target,
        }
    }

    fn dump(mut self) -> Request {
        self.dump = true;
        self
    }
}

/// The identity attributes of a service (inside `IPVS_CMD_ATTR_SERVICE`).
fn put_service_key(w: &mut AttrWriter, key: &ServiceKey) {
    w.u16(svc_attr::AF, key.family().number());
    match key {
        ServiceKey::Inet { protocol, addr } => {
            w.u16(svc_attr::PROTOCOL, protocol.number())
                .inet_addr(svc_attr::ADDR, &addr.ip())
                .be16(svc_attr::PORT, addr.port());
        }
        ServiceKey::FwMark { mark, .. } => {
            w.u32(svc_attr::FWMARK, *mark);
        }
    }
}

fn check_name(op: Op, target: &Target, what: &str, name: &str) -> Result<(), IpvsError> {
    if name.len() >= NAME_MAXLEN || name.contains('\0') {
        return Err(IpvsError::Request {
            op,
            target: target.clone(),
            what: format!(
                "{what} name {name:?} is longer than {} bytes",
                NAME_MAXLEN - 1
            ),
        });
    }
    Ok(())
}

/// Key plus everything the kernel stores for a service.
fn put_service(
    w: &mut AttrWriter,
    key: &ServiceKey,
    svc: &Service,
    op: Op,
) -> Result<(), IpvsError> {
    let target = Target::Service(*key);
    check_name(op, &target, "scheduler", &svc.scheduler)?;
    put_service_key(w, key);
    w.string(svc_attr::SCHED_NAME, &svc.scheduler);
    if let Some(pe) = &svc.pe_name {
        check_name(op, &target, "persistence engine", pe)?;
        w.string(svc_attr::PE_NAME, pe);
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&svc.flags.to_ne_bytes());
    // The mask tells the kernel which bits to take from `flags`: all of them.
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    w.bytes(svc_attr::FLAGS, &flags);
    w.u32(svc_attr::TIMEOUT, svc.timeout);
    match key.family() {
        Family::Inet => w.be32(svc_attr::NETMASK, svc.netmask),
        Family::Inet6 => w.u32(svc_attr::NETMASK, svc.netmask),
    };
    Ok(())
}

/// Address, port and family of a destination. The family is always sent:
/// without it a kernel reads an IPv6 destination of an IPv4 service as IPv4.
fn put_dest_key(w: &mut AttrWriter, addr: &SocketAddr) {
    w.u16(dest_attr::ADDR_FAMILY, Family::of(&addr.ip()).number())
        .inet_addr(dest_attr::ADDR, &addr.ip())
        .be16(dest_attr::PORT, addr.port());
}

fn put_dest(w: &mut AttrWriter, addr: &SocketAddr, d: &Dest) {
    put_dest_key(w, addr);
    w.u32(dest_attr::FWD_METHOD, d.forward.number())
        .u32(dest_attr::WEIGHT, d.weight)
        .u32(dest_attr::U_THRESH, d.upper_threshold)
        .u32(dest_attr::L_THRESH, d.lower_threshold);
    if let (Forward::Tunnel, Some(t)) = (d.forward, d.tunnel) {
        let (kind, port) = match t.kind {
            TunnelType::Ipip => (0, None),
            TunnelType::Gue { port } => (1, Some(port)),
            TunnelType::Gre => (2, None),
        };
        w.u8(dest_attr::TUN_TYPE, kind);
        if let Some(port) = port {
            w.be16(dest_attr::TUN_PORT, port);
        }
        if t.kind != TunnelType::Ipip {
            w.u16(dest_attr::TUN_FLAGS, csum_number(t.csum));
        }
    }
}

/// `IP_VS_TUNNEL_ENCAP_FLAG_*`
pub fn csum_number(c: TunnelCsum) -> u16 {
    match c {
        TunnelCsum::NoCsum => 0,
        TunnelCsum::Csum => 1,
        TunnelCsum::RemCsum => 2,
    }
}

/// The request that performs `change`.
pub fn change_request(change: &Change) -> Result<Request, IpvsError> {
    let mut w = AttrWriter::new();
    let mut nest_result = Ok(());
    let (command, op, target) = match change {
        Change::AddService(k, s) | Change::EditService(k, s) => {
            let (command, op) = match change {
                Change::AddService(..) => (cmd::NEW_SERVICE, Op::AddService),
                _ => (cmd::SET_SERVICE, Op::EditService),
            };
            w.nest(cmd_attr::SERVICE, |n| {
                nest_result = put_service(n, k, s, op)
            });
            (command, op, Target::Service(*k))
        }
        Change::DelService(k) => {
            w.nest(cmd_attr::SERVICE, |n| put_service_key(n, k));
            (cmd::DEL_SERVICE, Op::DelService, Target::Service(*k))
        }
        Change::AddDest(k, a, d) | Change::EditDest(k, a, d) => {
            w.nest(cmd_attr::SERVICE, |n| put_service_key(n, k));
            w.nest(cmd_attr::DEST, |n| put_dest(n, a, d));
            let (command, op) = match change {
                Change::AddDest(..) => (cmd::NEW_DEST, Op::AddDest),
                _ => (cmd::SET_DEST, Op::EditDest),
            };
            (command, op, Target::Dest(*k, *a))
        }
        Change::DelDest(k, a) => {
            w.nest(cmd_attr::SERVICE, |n| put_service_key(n, k));
            w.nest(cmd_attr::DEST, |n| put_dest_key(n, a));
            (cmd::DEL_DEST, Op::DelDest, Target::Dest(*k, *a))
        }
    };
    nest_result?;
    Ok(Request::new(command, op, target, w))
}

/// `IPVS_CMD_GET_INFO`
pub fn get_info() -> Request {
    Request::new(cmd::GET_INFO, Op::GetInfo, Target::None, AttrWriter::new())
}

/// `IPVS_CMD_GET_SERVICE` with `NLM_F_DUMP`: every service.
pub fn dump_services() -> Request {
    Request::new(
        cmd::GET_SERVICE,
        Op::ListServices,
        Target::None,
        AttrWriter::new(),
    )
    .dump()
}

/// `IPVS_CMD_GET_SERVICE` for one service.
pub fn get_service(key: &ServiceKey) -> Request {
    let mut w = AttrWriter::new();
    w.nest(cmd_attr::SERVICE, |n| put_service_key(n, key));
    Request::new(cmd::GET_SERVICE, Op::GetService, Target::Service(*key), w)
}

/// `IPVS_CMD_GET_DEST` (dump only): the destinations of one service.
pub fn dump_dests(key: &ServiceKey) -> Request {
    let mut w = AttrWriter::new();
    w.nest(cmd_attr::SERVICE, |n| put_service_key(n, key));
    Request::new(cmd::GET_DEST, Op::ListDests, Target::Service(*key), w).dump()
}

/// `IPVS_CMD_ZERO`: the counters of one service, or of everything.
pub fn zero(key: Option<&ServiceKey>) -> Request {
    let mut w = AttrWriter::new();
    let target = match key {
        Some(k) => {
            w.nest(cmd_attr::SERVICE, |n| put_service_key(n, k));
            Target::Service(*k)
        }
        None => Target::None,
    };
    Request::new(cmd::ZERO, Op::Zero, target, w)
}

/// `IPVS_CMD_FLUSH`: deletes every service. lvsd itself never sends it.
pub fn flush() -> Request {
    Request::new(cmd::FLUSH, Op::Flush, Target::None, AttrWriter::new())
}

/// `IPVS_CMD_GET_CONFIG`
pub fn get_timeouts() -> Request {
    Request::new(
        cmd::GET_CONFIG,
        Op::GetTimeouts,
        Target::None,
        AttrWriter::new(),
    )
}

/// `IPVS_CMD_SET_CONFIG`. The kernel leaves a timeout unchanged when it is 0.
pub fn set_timeouts(t: &Timeouts) -> Request {
    let mut w = AttrWriter::new();
    w.u32(cmd_attr::TIMEOUT_TCP, t.tcp)
        .u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin)
        .u32(cmd_attr::TIMEOUT_UDP, t.udp);
    Request::new(cmd::SET_CONFIG, Op::SetTimeouts, Target::None, w)
}

fn state_number(s: DaemonState) -> u32 {
    match s {
        DaemonState::Master => super::consts::daemon_state::MASTER,
        DaemonState::Backup => super::consts::daemon_state::BACKUP,
    }
}

/// `IPVS_CMD_NEW_DAEMON`
pub fn start_daemon(d: &Daemon) -> Result<Request, IpvsError> {
    check_name(Op::StartDaemon, &Target::None, "interface", &d.mcast_ifn)?;
    let mut w = AttrWriter::new();
    w.nest(cmd_attr::DAEMON, |n| {
        n.u32(daemon_attr::STATE, state_number(d.state))
            .string(daemon_attr::MCAST_IFN, &d.mcast_ifn)
            .u32(daemon_attr::SYNC_ID, d.sync_id);
        if d.sync_maxlen != 0 {
            n.u16(daemon_attr::SYNC_MAXLEN, d.sync_maxlen);
        }
        match d.mcast_group {
            Some(IpAddr::V4(g)) => {
                n.bytes(daemon_attr::MCAST_GROUP, &g.octets());
            }
            Some(IpAddr::V6(g)) => {
                n.bytes(daemon_attr::MCAST_GROUP6, &g.octets());
            }
            None => {}
        }
        if d.mcast_port != 0 {
            // Host order, unlike the service and destination ports: the
            // kernel and ipvsadm both use nla_{get,put}_u16 here.
            n.u16(daemon_attr::MCAST_PORT, d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            n.u8(daemon_attr::MCAST_TTL, d.mcast_ttl);
        }
    });
    Ok(Request::new(
        cmd::NEW_DAEMON,
        Op::StartDaemon,
        Target::None,
        w,
    ))
}

/// `IPVS_CMD_DEL_DAEMON`
pub fn stop_daemon(state: DaemonState) -> Request {
    let mut w = AttrWriter::new();
    w.nest(cmd_attr::DAEMON, |n| {
        n.u32(daemon_attr::STATE, state_number(state));
    });
    Request::new(cmd::DEL_DAEMON, Op::StopDaemon, Target::None, w)
}

/// `IPVS_CMD_GET_DAEMON` (a dump: one nest per running daemon).
pub fn dump_daemons() -> Request {
    Request::new(
        cmd::GET_DAEMON,
        Op::ListDaemons,
        Target::None,
        AttrWriter::new(),
    )
    .dump()
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use crate::ipvs::table::{svc_flags, Protocol, Tunnel};

    #[test]
    fn new_service_bytes_follow_the_header() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.1.2.3:80".parse().unwrap(),
        };
        let mut svc = Service::new("wlc", Family::Inet);
        svc.flags = svc_flags::PERSISTENT;
        svc.timeout = 300;
        svc.netmask = 0xffff_ff00;
        let r = change_request(&Change::AddService(key, svc)).unwrap();
        assert_eq!(r.cmd, 1);
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            84, 0, 1, 0,                      // IPVS_CMD_ATTR_SERVICE, no NLA_F_NESTED
            6, 0, 1, 0, 2, 0, 0, 0,           // AF = AF_INET, u16 host order
            6, 0, 2, 0, 6, 0, 0, 0,           // PROTOCOL = 6 (tcp)
            20, 0, 3, 0, 10, 1, 2, 3,         // ADDR: 16 bytes, IPv4 first
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            6, 0, 4, 0, 0, 80, 0, 0,          // PORT = 80 in network order
            8, 0, 6, 0, b'w', b'l', b'c', 0,  // SCHED_NAME "wlc\0"
            12, 0, 7, 0, 1, 0, 0, 0,          // FLAGS: flags = PERSISTENT
            0xff, 0xff, 0xff, 0xff,           //        mask = ~0
            8, 0, 8, 0, 44, 1, 0, 0,          // TIMEOUT = 300
            8, 0, 9, 0, 255, 255, 255, 0,     // NETMASK 255.255.255.0 as be32
        ];
        assert_eq!(r.attrs, expected);
    }

    #[test]
    fn ipv6_netmask_is_a_prefix_length_and_fwmark_has_no_address() {
        let key = ServiceKey::FwMark {
            family: Family::Inet6,
            mark: 0x0102_0304,
        };
        let mut svc = Service::new("sh", Family::Inet6);
        svc.netmask = 64;
        let r = change_request(&Change::AddService(key, svc)).unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            56, 0, 1, 0,
            6, 0, 1, 0, 10, 0, 0, 0,          // AF = AF_INET6
            8, 0, 5, 0, 4, 3, 2, 1,           // FWMARK, u32 host order
            7, 0, 6, 0, b's', b'h', 0, 0,     // SCHED_NAME "sh\0", padded
            12, 0, 7, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
            8, 0, 8, 0, 0, 0, 0, 0,           // TIMEOUT 0
            8, 0, 9, 0, 64, 0, 0, 0,          // NETMASK: prefix 64, host order
        ];
        assert_eq!(r.attrs, expected);
    }

    #[test]
    fn dest_always_carries_its_family_and_a_network_order_port() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: "10.0.0.1:53".parse().unwrap(),
        };
        let mut d = Dest::new(Forward::Tunnel, 5);
        d.tunnel = Some(Tunnel {
            kind: TunnelType::Gue { port: 6080 },
            csum: TunnelCsum::Csum,
        });
        let a: SocketAddr = "[2001:db8::2]:5353".parse().unwrap();
        let r = change_request(&Change::AddDest(key, a, d)).unwrap();
        assert_eq!(r.cmd, 5);
        let dest = &r.attrs[48..]; // after the 48-byte SERVICE key nest
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            96, 0, 2, 0,                      // IPVS_CMD_ATTR_DEST
            6, 0, 11, 0, 10, 0, 0, 0,         // ADDR_FAMILY = AF_INET6, always sent
            20, 0, 1, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
            6, 0, 2, 0, 0x14, 0xe9, 0, 0,     // PORT 5353 in network order
            8, 0, 3, 0, 2, 0, 0, 0,           // FWD_METHOD = TUNNEL
            8, 0, 4, 0, 5, 0, 0, 0,           // WEIGHT
            8, 0, 5, 0, 0, 0, 0, 0,           // U_THRESH
            8, 0, 6, 0, 0, 0, 0, 0,           // L_THRESH
            5, 0, 13, 0, 1, 0, 0, 0,          // TUN_TYPE = GUE (u8)
            6, 0, 14, 0, 0x17, 0xc0, 0, 0,    // TUN_PORT 6080 in network order
            6, 0, 15, 0, 1, 0, 0, 0,          // TUN_FLAGS = CSUM
        ];
        assert_eq!(dest, &expected[..]);
    }

    #[test]
    fn overlong_scheduler_names_are_refused_before_the_kernel_sees_them() {
        let key = ServiceKey::FwMark {
            family: Family::Inet,
            mark: 1,
        };
        let svc = Service::new("a-very-long-scheduler", Family::Inet);
        let e = change_request(&Change::AddService(key, svc)).unwrap_err();
        assert!(e.to_string().contains("longer than 15 bytes"), "{e}");
    }
}
