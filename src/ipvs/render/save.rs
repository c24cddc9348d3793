//! `ipvsadm -S [-n]` (save/rule) format of a table. Pure: table in, text out;
//! name lookups (without `-n`) come through [`Names`].
//!
//! Thresholds, sync daemons and timeouts are not part of this format, exactly
//! as with ipvsadm.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::names::{self, Names, Numeric};
use super::order::{cmp_dests, glibc_sort, sorted_services};
use crate::ipvs::snapshot::{ServiceDump, Snapshot};
use crate::ipvs::table::{
    svc_flags, Dest, Family, Forward, Protocol, Service, ServiceKey, Table, TunnelCsum, TunnelType,
};

/// `a.b.c.d:port` or `[v6]:port`, as ipvsadm prints addresses numerically.
pub fn addrport(addr: &SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
    }
}

/// The service part of a rule: `-t 10.0.0.1:80`, `-f 7 -6`, ...
pub fn rule_service_name(key: &ServiceKey, names: &dyn Names) -> String {
    match key {
        ServiceKey::Inet { protocol, addr } => {
            let opt = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
            };
            format!("{opt} {}", names::addrport(addr, Some(*protocol), names))
        }
        // Debian's ipvsadm 1.31 prints the mark with %d.
        ServiceKey::FwMark { family, mark } => match family {
            Family::Inet => format!("-f {}", *mark as i32),
            Family::Inet6 => format!("-f {} -6", *mark as i32),
        },
    }
}

/// Scheduler flag names as ipvsadm prints them (`sh-port`, `flag-1`, ...),
/// comma-joined; empty when no SCHED bit is set. For sh and mh ipvsadm 1.31
/// names only the two flags they define and drops SCHED3 (checked against
/// Debian's binary).
pub fn sched_flag_names(service: &Service) -> String {
    let names: [(u32, &str); 3] = match service.scheduler.as_str() {
        "sh" => [
            (svc_flags::SCHED1, "sh-fallback"),
            (svc_flags::SCHED2, "sh-port"),
            (0, ""),
        ],
        "mh" => [
            (svc_flags::SCHED1, "mh-fallback"),
            (svc_flags::SCHED2, "mh-port"),
            (0, ""),
        ],
        _ => [
            (svc_flags::SCHED1, "flag-1"),
            (svc_flags::SCHED2, "flag-2"),
            (svc_flags::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(bit, _)| *bit != 0 && service.flags & bit != 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// A persistent service's netmask as ipvsadm prints it (`-M` in rules,
/// `mask` in listings): dotted for IPv4, a prefix length (`%d`) for IPv6;
/// `None` for the full mask, which ipvsadm leaves out.
pub fn shown_netmask(key: &ServiceKey, svc: &Service) -> Option<String> {
    match key.family() {
        Family::Inet if svc.netmask != 0xffff_ffff => Some(Ipv4Addr::from(svc.netmask).to_string()),
        Family::Inet6 if svc.netmask != 128 => Some((svc.netmask as i32).to_string()),
        _ => None,
    }
}

fn fwd_switch(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "-m",
        Forward::Tunnel => "-i",
        // The kernel reports Local for local addresses; ipvsadm saves it as -g.
        Forward::Local | Forward::Route => "-g",
        // ipvsadm would print "(null)"; a bypass destination is never configured.
        Forward::Bypass => "(null)",
    }
}

/// Render the whole table as `ipvsadm -S -n` does.
pub fn render_save(table: &Table) -> String {
    render_save_with(table, &Numeric)
}

/// Render the whole table as `ipvsadm -S` does, names from `names`.
pub fn render_save_with(table: &Table, names: &dyn Names) -> String {
    render(
        table,
        table.services.keys().collect(),
        &|k| table.services[k].dests.keys().collect(),
        names,
    )
}

/// Render a kernel snapshot as `ipvsadm -S` does: sorted from the kernel's
/// order, as ipvsadm sorts what the kernel hands it.
pub fn render_snapshot_save(snap: &Snapshot, names: &dyn Names) -> String {
    render(
        &snap.table,
        snap.kernel_order(),
        &|k| snap.kernel_dest_order(k),
        names,
    )
}

/// The rules of one service as dumped (destinations in the kernel's
/// order), appended to `out`: `lvsd save` streams the table this way.
pub fn render_service_save(out: &mut String, one: &ServiceDump, names: &dyn Names) {
    let rows = one.dests.iter().map(|(a, d, _)| (a, d)).collect();
    render_service(out, &one.key, &one.service, rows, names);
}

fn render<'a>(
    table: &'a Table,
    services: Vec<&'a ServiceKey>,
    dests_of: &dyn Fn(&ServiceKey) -> Vec<&'a SocketAddr>,
    names: &dyn Names,
) -> String {
    let mut out = String::new();
    for key in sorted_services(services) {
        let entry = &table.services[key];
        let rows = dests_of(key)
            .into_iter()
            .filter_map(|a| Some((a, entry.dests.get(a)?)))
            .collect();
        render_service(&mut out, key, &entry.service, rows, names);
    }
    out
}

/// One service's rules; `rows` in the kernel's order, sorted here as
/// ipvsadm sorts them.
fn render_service(
    out: &mut String,
    key: &ServiceKey,
    svc: &Service,
    mut rows: Vec<(&SocketAddr, &Dest)>,
    names: &dyn Names,
) {
    let name = rule_service_name(key, names);
    let protocol = match key {
        ServiceKey::Inet { protocol, .. } => Some(*protocol),
        ServiceKey::FwMark { .. } => None,
    };
    let _ = write!(out, "-A {name} -s {}", svc.scheduler);
    if svc.is_persistent() {
        let _ = write!(out, " -p {}", svc.timeout);
        if let Some(mask) = shown_netmask(key, svc) {
            let _ = write!(out, " -M {mask}");
        }
    }
    if let Some(pe) = &svc.pe_name {
        let _ = write!(out, " --pe {pe}");
    }
    if svc.flags & svc_flags::ONEPACKET != 0 {
        out.push_str(" -o");
    }
    if svc.flags & (svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3) != 0 {
        let _ = write!(out, " -b {}", sched_flag_names(svc));
    }
    out.push('\n');
    glibc_sort(
        &mut rows,
        &|a: &(&SocketAddr, &Dest), b: &(&SocketAddr, &Dest)| cmp_dests(a.0, b.0),
    );
    for (addr, d) in rows {
        let _ = write!(
            out,
            "-a {name} -r {} {} -w {}",
            names::addrport(addr, protocol, names),
            fwd_switch(d.forward),
            d.weight as i32
        );
        // Kernels since 5.2 report a tunnel type for every tunnel
        // destination, IPIP by default (`tunnel: None` here).
        if d.forward == Forward::Tunnel {
            match d.tunnel.map(|t| (t.kind, t.csum)) {
                Some((TunnelType::Ipip, _)) | None => out.push_str(" --tun-type ipip"),
                Some((TunnelType::Gue { port }, csum)) => {
                    let _ = write!(out, " --tun-type gue --tun-port {port} {}", csum_opt(csum));
                }
                Some((TunnelType::Gre, csum)) => {
                    let _ = write!(out, " --tun-type gre {}", csum_opt(csum));
                }
            }
        }
        out.push('\n');
    }
}

fn csum_opt(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::{Dest, ServiceEntry};

    #[test]
    fn renders_persistent_service_with_mask_and_dests() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "192.168.6.240:80".parse().unwrap(),
        };
        let mut svc = Service::new("wlc", Family::Inet);
        svc.flags = svc_flags::PERSISTENT;
        svc.timeout = 600;
        svc.netmask = 0xffff_ff00;
        let mut e = ServiceEntry::new(svc);
        e.dests.insert(
            "192.168.6.3:80".parse().unwrap(),
            Dest::new(Forward::Route, 0),
        );
        e.dests.insert(
            "192.168.6.2:80".parse().unwrap(),
            Dest::new(Forward::Masq, 1),
        );
        let mut t = Table::new();
        t.services.insert(key, e);
        assert_eq!(
            render_save(&t),
            "-A -t 192.168.6.240:80 -s wlc -p 600 -M 255.255.255.0\n\
             -a -t 192.168.6.240:80 -r 192.168.6.2:80 -m -w 1\n\
             -a -t 192.168.6.240:80 -r 192.168.6.3:80 -g -w 0\n"
        );
    }

    #[test]
    fn renders_fwmark_v6_with_sched_flags_and_ops() {
        let key = ServiceKey::FwMark {
            family: Family::Inet6,
            mark: 7,
        };
        let mut svc = Service::new("sh", Family::Inet6);
        svc.flags = svc_flags::SCHED2 | svc_flags::ONEPACKET;
        let mut t = Table::new();
        t.services.insert(key, ServiceEntry::new(svc));
        assert_eq!(render_save(&t), "-A -f 7 -6 -s sh -o -b sh-port\n");
    }
}
