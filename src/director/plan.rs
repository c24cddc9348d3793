//! The IPVS table a configuration programs, given which real servers are up.
//!
//! Pure: config (and health) in, [`Table`] out. It applies the rules
//! ipvsadm and ldirectord apply on the way to the kernel, so that the table
//! equals what `ipvsadm -S -n` shows after ldirectord has started:
//!
//! - gate and ipip reals of a non-fwmark virtual take the virtual's port
//!   (ipvsadm forces it); a real without a port has port 0;
//! - `persistent` → `-p`, with `netmask` → `-M`; `ops` → ONEPACKET, for
//!   udp only (ldirectord passes `-o` for nothing else); `schedflags` → the
//!   SCHED bits, as ipvsadm's `-b` parses them;
//! - a down real is removed, or kept at weight 0 when quiescent;
//! - `checktype=off` brings no real up; `on` brings every real up;
//! - the fallback server (weight 1) is present only while no real is up.
//!
//! When two config lines name the same kernel destination, the first wins,
//! as ipvsadm refuses the second.

use std::net::SocketAddr;

use crate::config::model::{CheckType, Config, Netmask, Real, Virtual};
use crate::config::validate::sched_flag_bits;
use crate::ipvs::table::{full_netmask, svc_flags};
use crate::ipvs::{Dest, Forward, Protocol, Service, ServiceEntry, ServiceKey, Table};

/// The table when every real server is up.
pub fn all_up(config: &Config) -> Table {
    desired(config, &|_, _| true)
}

/// The table for the given health: `is_up(virtual, real)` says whether a
/// real server passes its checks. `checktype=on`/`off` override it.
pub fn desired(config: &Config, is_up: &dyn Fn(&Virtual, &Real) -> bool) -> Table {
    let mut table = Table::new();
    for v in &config.virtuals {
        if table.services.contains_key(&v.key) {
            continue;
        }
        table.services.insert(v.key, entry(v, is_up));
    }
    table
}

/// The service attributes of a virtual (what `-A` carries).
pub fn service(v: &Virtual) -> Service {
    let family = v.family();
    let mut s = Service::new(v.scheduler.clone(), family);
    if let Some(timeout) = v.persistent {
        s.flags |= svc_flags::PERSISTENT;
        s.timeout = timeout;
        s.netmask = match v.netmask {
            Some(Netmask::V4(m)) => u32::from(m),
            Some(Netmask::V6Prefix(p)) => u32::from(p),
            None => full_netmask(family),
        };
    }
    if v.ops && v.protocol() == Some(Protocol::Udp) {
        s.flags |= svc_flags::ONEPACKET;
    }
    if let Some(f) = &v.schedflags {
        // Invalid flags are a config error; a valid config never hits 0 here.
        s.flags |= sched_flag_bits(&v.scheduler, f).unwrap_or(0);
    }
    s
}

/// The kernel address of a destination: ipvsadm forces the virtual's port
/// on gate and ipip destinations of non-fwmark services.
pub fn dest_addr(key: &ServiceKey, addr: SocketAddr, forward: Forward) -> SocketAddr {
    match key {
        ServiceKey::Inet { addr: vaddr, .. } if forward != Forward::Masq => {
            SocketAddr::new(addr.ip(), vaddr.port())
        }
        _ => addr,
    }
}

fn entry(v: &Virtual, is_up: &dyn Fn(&Virtual, &Real) -> bool) -> ServiceEntry {
    let mut e = ServiceEntry::new(service(v));
    let mut any_up = false;
    for r in &v.reals {
        let up = match v.checktype {
            CheckType::Off => false,
            CheckType::On => true,
            _ => is_up(v, r),
        };
        let dest = if up {
            any_up = true;
            let mut d = Dest::new(r.forward, r.weight);
            d.lower_threshold = r.lower_threshold;
            d.upper_threshold = r.upper_threshold;
            d
        } else if v.quiescent {
            Dest::new(r.forward, 0)
        } else {
            continue;
        };
        let addr = dest_addr(&v.key, r.addr, r.forward);
        e.dests.entry(addr).or_insert(dest);
    }
    if !any_up {
        if let Some(f) = &v.fallback {
            let addr = dest_addr(&v.key, f.addr, f.forward);
            e.dests
                .entry(addr)
                .or_insert_with(|| Dest::new(f.forward, 1));
        }
    }
    e
}
