//! The IPVS table a configuration programs, given which real servers are up.
//!
//! Pure: the rules [`super::desired`] builds every table with. They are the
//! rules
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
//! Two config lines may name one kernel destination. ldirectord looks each
//! real up by its *configured* address: when that is already in the table
//! it edits it (so the later line wins), otherwise it adds it, which ipvsadm
//! refuses when the port mapping made it collide (so the earlier wins).
//! [`place`] replays exactly that.
//!
//! The kernel reports every tunnel destination with tunnel type ipip, so
//! ipip reals carry it here too; lvsd's `tuntype`/`tunport`/`tuncsum` of a
//! real replace it (GUE, GRE: ipvsadm's `--tun-*`), and `pe` gives a
//! persistent service its engine (`--pe`).

use std::net::SocketAddr;

use crate::config::model::{Netmask, Real, Virtual};
use crate::ipvs::table::{full_netmask, svc_flags, Tunnel, TunnelCsum, TunnelType};
use crate::ipvs::{Dest, Forward, Protocol, Service, ServiceEntry, ServiceKey};

/// The service attributes of a virtual (what `-A` carries).
pub fn service(v: &Virtual) -> Service {
    let family = v.family();
    let mut s = Service::new(v.scheduler.clone(), family);
    if let Some(timeout) = v.persistent {
        s.flags |= svc_flags::PERSISTENT;
        s.timeout = timeout;
        s.netmask = v
            .netmask
            .map_or(full_netmask(family), Netmask::kernel_value);
        // The kernel keeps an engine only with persistence (validation
        // refuses `pe` without it).
        s.pe_name = v.pe.map(|p| p.name().to_string());
    }
    if v.ops && v.protocol() == Some(Protocol::Udp) {
        s.flags |= svc_flags::ONEPACKET;
    }
    if let Some(f) = &v.schedflags {
        s.flags |= f.bits();
    }
    s
}

/// The kernel address of a destination (see [`ServiceKey::kernel_dest`]).
pub fn dest_addr(key: &ServiceKey, addr: SocketAddr, forward: Forward) -> SocketAddr {
    key.kernel_dest(addr, forward)
}

pub fn dest(forward: Forward, weight: u32) -> Dest {
    let mut d = Dest::new(forward, weight);
    if forward == Forward::Tunnel {
        d.tunnel = Some(Tunnel {
            kind: TunnelType::Ipip,
            csum: TunnelCsum::NoCsum,
        });
    }
    d
}

/// The destination of real `r` at `weight`, with its tunnel (lvsd's
/// `tuntype` and the rest). A quiesced real keeps its tunnel too: an edit
/// without one would make the kernel fall back to plain ipip.
pub fn real_dest(r: &Real, weight: u32) -> Dest {
    let mut d = dest(r.forward, weight);
    if let (Forward::Tunnel, Some(t)) = (r.forward, r.tunnel) {
        d.tunnel = Some(t);
    }
    d
}

/// ldirectord's add-or-edit by configured address (see the module docs).
/// Returns the kernel address when `d` went in, `None` when an earlier line
/// holds that destination.
pub fn place(
    e: &mut ServiceEntry,
    key: &ServiceKey,
    configured: SocketAddr,
    d: Dest,
) -> Option<SocketAddr> {
    let kernel = dest_addr(key, configured, d.forward);
    if e.dests.contains_key(&configured) {
        e.dests.insert(kernel, d);
    } else {
        match e.dests.entry(kernel) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(d);
            }
            std::collections::btree_map::Entry::Occupied(_) => return None,
        }
    }
    Some(kernel)
}
