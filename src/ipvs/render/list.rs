//! `ipvsadm -L` and its variants, byte for byte (ipvsadm 1.31): the default
//! listing, `--stats`, `--rate`, `--thresholds`, `--persistent-conn`,
//! `--tun-info`, `--exact` (`--timeout` and `--daemon` live in `settings`
//! and are re-exported here). Pure: a [`Snapshot`] in, text out; name
//! lookups come through [`Names`].

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::columns::{five, left, left_num, line_end, line_start};
// Part of this module's public face since before the columns moved out.
pub use super::columns::largenum;
use super::names::{addrport, truncate, Names};
use super::order::{cmp_dests, cmp_services, glibc_sort, sorted_services};
use super::save::{sched_flag_names, shown_netmask};
pub use super::settings::{render_daemons, render_timeouts};
use crate::ipvs::snapshot::{DestCounters, Info, ServiceDump, Snapshot, Stats};
use crate::ipvs::table::{
    svc_flags, Dest, Family, Forward, Protocol, Service, ServiceKey, TunnelCsum, TunnelType,
};

/// Which columns a listing shows (ipvsadm's `FMT_*` choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Columns {
    #[default]
    Default,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    TunInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListOptions {
    pub columns: Columns,
    /// `--exact`: full numbers instead of K/M/G/T.
    pub exact: bool,
    /// The "IP Virtual Server version" line: a full listing has it, the
    /// listing of one service (`-t/-u/-f`) does not.
    pub header: bool,
    /// Sorted as ipvsadm sorts (its default); `false`: the kernel's order
    /// (`--nosort`).
    pub sort: bool,
}

fn protocol_of(key: &ServiceKey) -> Option<Protocol> {
    match key {
        ServiceKey::Inet { protocol, .. } => Some(*protocol),
        ServiceKey::FwMark { .. } => None,
    }
}

/// `svc_name` of a listing: `TCP  addr:port` (IPv4 cut to 33 bytes) or
/// `FWM  mark[ IPv6]` (Debian's 1.31 prints the mark signed).
pub fn service_name(key: &ServiceKey, names: &dyn Names) -> String {
    match key {
        ServiceKey::Inet { protocol, addr } => {
            let p = match protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            };
            let s = format!("{p:<4} {}", addrport(addr, Some(*protocol), names));
            match addr.ip() {
                IpAddr::V4(_) => truncate(s, 33),
                IpAddr::V6(_) => s,
            }
        }
        ServiceKey::FwMark { family, mark } => match family {
            Family::Inet => format!("FWM  {}", *mark as i32),
            Family::Inet6 => format!("FWM  {} IPv6", *mark as i32),
        },
    }
}

fn dest_name(key: &ServiceKey, addr: &SocketAddr, names: &dyn Names) -> String {
    let s = addrport(addr, protocol_of(key), names);
    match addr.ip() {
        IpAddr::V4(_) => truncate(s, 28),
        IpAddr::V6(_) => s,
    }
}

fn title(out: &mut String, columns: Columns) {
    let _ = match columns {
        Columns::Stats => writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        Columns::Rate => writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        Columns::Thresholds => writeln!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        Columns::PersistentConn => writeln!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
        Columns::TunInfo => writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn"
        ),
        Columns::Default => writeln!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
        ),
    };
}

fn counts(s: &Stats) -> [u64; 5] {
    [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
}

fn rates(s: &Stats) -> [u64; 5] {
    [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
}

/// `fwd_name`. A bypass destination is never configured; ipvsadm would
/// print "(null)" for it.
pub fn forward_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel => "Tunnel",
        Forward::Route => "Route",
        Forward::Bypass => "(null)",
    }
}

fn csum_short(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    }
}

/// `fwd_tun_info`: the TunnelInfo column.
fn tunnel_info(d: &Dest) -> String {
    if d.forward != Forward::Tunnel {
        return "n/a".into();
    }
    match d.tunnel {
        None => "ipip".into(),
        Some(t) => match t.kind {
            TunnelType::Ipip => "ipip".into(),
            TunnelType::Gue { port } => format!("gue:{port}:{}", csum_short(t.csum)),
            TunnelType::Gre => format!("gre:{}", csum_short(t.csum)),
        },
    }
}

fn service_line(
    out: &mut String,
    key: &ServiceKey,
    svc: &Service,
    stats: &Stats,
    o: &ListOptions,
    n: &dyn Names,
) {
    let name = service_name(key, n);
    match o.columns {
        Columns::Stats => {
            let _ = write!(out, "{name:<33}");
            five(out, counts(stats), o.exact);
        }
        Columns::Rate => {
            let _ = write!(out, "{name:<33}");
            five(out, rates(stats), o.exact);
        }
        _ => {
            let _ = write!(out, "{name} {}", svc.scheduler);
            let flags = sched_flag_names(svc);
            if !flags.is_empty() {
                let _ = write!(out, " ({flags})");
            }
            if svc.is_persistent() {
                let _ = write!(out, " persistent {}", svc.timeout);
                if let Some(mask) = shown_netmask(key, svc) {
                    let _ = write!(out, " mask {mask}");
                }
                // ipvsadm prints the PE only for persistent services.
                if let Some(pe) = &svc.pe_name {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if svc.flags & svc_flags::ONEPACKET != 0 {
                out.push_str(" ops");
            }
        }
    }
    out.push('\n');
}

/// One destination as dumped.
type DestRow = (SocketAddr, Dest, DestCounters);

fn dest_line(
    out: &mut String,
    key: &ServiceKey,
    (addr, d, c): &DestRow,
    o: &ListOptions,
    n: &dyn Names,
) {
    let name = dest_name(key, addr, n);
    let weight = d.weight as i32;
    let _ = match o.columns {
        Columns::Stats => {
            let _ = write!(out, "  -> {name:<28}");
            five(out, counts(&c.stats), o.exact);
            writeln!(out)
        }
        Columns::Rate => {
            // ipvsadm prints the first three rates as plain %8llu.
            let s = &c.stats;
            let _ = write!(
                out,
                "  -> {name:<28} {:>8} {:>8} {:>8}",
                s.cps, s.inpps, s.outpps
            );
            largenum(out, s.inbps, o.exact);
            largenum(out, s.outbps, o.exact);
            writeln!(out)
        }
        Columns::Thresholds => {
            line_start(out, &name);
            left_num(out, d.upper_threshold, 10);
            left_num(out, d.lower_threshold, 10);
            left_num(out, c.active_conns, 10);
            left_num(out, c.inact_conns, 10);
            line_end(out)
        }
        Columns::PersistentConn => {
            line_start(out, &name);
            left_num(out, d.weight, 9);
            left_num(out, c.persist_conns, 11);
            left_num(out, c.active_conns, 10);
            left_num(out, c.inact_conns, 10);
            line_end(out)
        }
        Columns::TunInfo => {
            line_start(out, &name);
            left(out, forward_name(d.forward), 7);
            left(out, &tunnel_info(d), 13);
            left_num(out, weight, 6);
            left_num(out, c.active_conns, 10);
            left_num(out, c.inact_conns, 10);
            line_end(out)
        }
        Columns::Default => {
            line_start(out, &name);
            left(out, forward_name(d.forward), 7);
            left_num(out, weight, 6);
            left_num(out, c.active_conns, 10);
            left_num(out, c.inact_conns, 10);
            line_end(out)
        }
    };
}

/// The whole listing.
pub fn render_list(snap: &Snapshot, o: &ListOptions, names: &dyn Names) -> String {
    let mut out = String::new();
    render_head(&mut out, &snap.info, o);
    let keys = if o.sort {
        sorted_services(snap.kernel_order())
    } else {
        snap.kernel_order().into_iter().collect()
    };
    for key in keys {
        let Some(entry) = snap.table.services.get(key) else {
            continue;
        };
        let rows: Vec<DestRow> = snap
            .kernel_dest_order(key)
            .into_iter()
            .filter_map(|a| Some((*a, entry.dests.get(a)?.clone(), snap.dest_counters(key, a))))
            .collect();
        let stats = snap.service_stats(key);
        render_rows(&mut out, key, &entry.service, &stats, &rows, o, names);
    }
    out
}

/// The lines before the first service: the version line (full listings
/// only) and the column titles.
pub fn render_head(out: &mut String, info: &Info, o: &ListOptions) {
    if o.header {
        let (a, b, c) = info.version_triple();
        let _ = writeln!(
            out,
            "IP Virtual Server version {a}.{b}.{c} (size={})",
            info.conn_tab_size as i32
        );
    }
    title(out, o.columns);
}

/// One service as dumped and its destinations. With [`render_head`] and
/// [`listing_order`], a listing can be produced one service at a time
/// (`lvsd list` does, so that it never holds the whole table).
pub fn render_service(out: &mut String, one: &ServiceDump, o: &ListOptions, names: &dyn Names) {
    render_rows(
        out,
        &one.key,
        &one.service,
        &one.stats,
        &one.dests,
        o,
        names,
    );
}

/// A service line, then its destinations (given in the kernel's order)
/// sorted as ipvsadm sorts them.
fn render_rows(
    out: &mut String,
    key: &ServiceKey,
    svc: &Service,
    stats: &Stats,
    rows: &[DestRow],
    o: &ListOptions,
    names: &dyn Names,
) {
    service_line(out, key, svc, stats, o, names);
    let mut rows: Vec<&DestRow> = rows.iter().collect();
    if o.sort {
        glibc_sort(&mut rows, &|a: &&DestRow, b: &&DestRow| {
            cmp_dests(&a.0, &b.0)
        });
    }
    for row in rows {
        dest_line(out, key, row, o, names);
    }
}

/// The order ipvsadm lists services in, as positions in the kernel's order.
pub fn listing_order(kernel_order: &[ServiceKey]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..kernel_order.len()).collect();
    glibc_sort(&mut v, &|a: &usize, b: &usize| {
        cmp_services(&kernel_order[*a], &kernel_order[*b])
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_service_names_are_cut_at_33_bytes() {
        struct Long;
        impl Names for Long {
            fn host(&self, _: &IpAddr) -> Option<String> {
                Some("a-very-long-virtual-host-name.example.org".into())
            }
            fn service(&self, _: u16, _: Option<Protocol>) -> Option<String> {
                Some("http".into())
            }
        }
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        };
        assert_eq!(service_name(&k, &Long), "TCP  a-very-long-virtual-host-nam");
    }
}
