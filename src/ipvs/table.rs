//! The IPVS table as plain data: what the kernel holds, or what the director
//! wants it to hold. No wire encoding and no I/O here; counters and statistics
//! live beside the table (see `Snapshot`), so two tables compare equal when
//! they would program the kernel the same way.

use std::collections::BTreeMap;
use std::net::SocketAddr;

pub use crate::lvs::{
    full_netmask, svc_flags, Family, Forward, Protocol, ServiceKey, Tunnel, TunnelCsum, TunnelType,
};

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
