//! What a listing shows beyond the table: counters, rates, connection counts
//! and the kernel's IPVS info. Kept beside [`Table`] so that table equality
//! never compares counters.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::table::{Dest, Service, ServiceEntry, ServiceKey, Table};

/// `IPVS_STATS_ATTR_*`, widened to 64 bits (STATS64 when the kernel has it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// Connection counts and counters of one destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestCounters {
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// `IPVS_CMD_GET_INFO`: the IPVS version code and the connection hash size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    /// `(major, minor, patch)` as ipvsadm's `NVERSION` splits the code.
    pub fn version_triple(&self) -> (u32, u32, u32) {
        let v = self.version;
        ((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
}

/// The whole table as the kernel reported it, with its counters.
///
/// The kernel's dump order is kept: ipvsadm sorts with a comparator that is
/// not a total order (see [`super::render::order`]), so its output depends on the
/// order the kernel gave, and so must ours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub info: Info,
    pub table: Table,
    pub service_stats: BTreeMap<ServiceKey, Stats>,
    pub dest_counters: BTreeMap<(ServiceKey, SocketAddr), DestCounters>,
    /// Services in the kernel's (hash table) order.
    pub order: Vec<ServiceKey>,
    /// Each service's destinations in the kernel's order.
    pub dest_order: BTreeMap<ServiceKey, Vec<SocketAddr>>,
}

/// One service as dumped, with its destinations in the kernel's order:
/// what a listing handles one at a time (see
/// [`Client::for_each_service`](super::wire::Client::for_each_service)), without
/// building a [`Snapshot`]'s maps for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceDump {
    pub key: ServiceKey,
    pub service: Service,
    pub stats: Stats,
    pub dests: Vec<(SocketAddr, Dest, DestCounters)>,
}

/// A service or real server appeared twice in a dump: the table changed
/// while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate;

impl Snapshot {
    /// Adds one service as dumped, with its destinations. A key seen twice
    /// is refused rather than silently merged.
    pub fn insert(
        &mut self,
        key: ServiceKey,
        service: Service,
        stats: Stats,
        dests: Vec<(SocketAddr, Dest, DestCounters)>,
    ) -> Result<(), Duplicate> {
        if self.table.services.contains_key(&key) {
            return Err(Duplicate);
        }
        let mut entry = ServiceEntry::new(service);
        let mut order = Vec::with_capacity(dests.len());
        for (addr, d, c) in dests {
            if entry.dests.insert(addr, d).is_some() {
                return Err(Duplicate);
            }
            self.dest_counters.insert((key, addr), c);
            order.push(addr);
        }
        self.table.services.insert(key, entry);
        self.service_stats.insert(key, stats);
        self.order.push(key);
        self.dest_order.insert(key, order);
        Ok(())
    }

    /// Services in the kernel's order (key order if the snapshot was not
    /// built by [`Snapshot::insert`]).
    pub fn kernel_order(&self) -> Vec<&ServiceKey> {
        if self.order.len() == self.table.len() {
            self.order.iter().collect()
        } else {
            self.table.services.keys().collect()
        }
    }

    /// The destinations of `key` in the kernel's order.
    pub fn kernel_dest_order(&self, key: &ServiceKey) -> Vec<&SocketAddr> {
        let dests = self.table.services.get(key).map(|e| &e.dests);
        match (self.dest_order.get(key), dests) {
            (Some(o), Some(d)) if o.len() == d.len() => o.iter().collect(),
            (_, Some(d)) => d.keys().collect(),
            (_, None) => Vec::new(),
        }
    }

    pub fn service_stats(&self, key: &ServiceKey) -> Stats {
        self.service_stats.get(key).copied().unwrap_or_default()
    }

    pub fn dest_counters(&self, key: &ServiceKey, addr: &SocketAddr) -> DestCounters {
        self.dest_counters
            .get(&(*key, *addr))
            .copied()
            .unwrap_or_default()
    }
}

/// `IPVS_CMD_GET_CONFIG` / `SET_CONFIG`: connection timeouts in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonState {
    Master,
    Backup,
}

/// One running sync daemon (`IPVS_CMD_ATTR_DAEMON`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
    pub state: DaemonState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// The optional attributes of kernels ≥ 4.3; 0 / `None` when absent.
    pub sync_maxlen: u16,
    pub mcast_group: Option<std::net::IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::{Family, Forward, Protocol};

    #[test]
    fn an_entry_seen_twice_is_refused_not_merged() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        };
        let a: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let d = (a, Dest::new(Forward::Masq, 1), DestCounters::default());
        let mut s = Snapshot::default();
        let svc = Service::new("rr", Family::Inet);
        assert_eq!(
            s.insert(k, svc.clone(), Stats::default(), vec![d.clone(), d.clone()]),
            Err(Duplicate)
        );
        let mut s = Snapshot::default();
        s.insert(k, svc.clone(), Stats::default(), vec![d.clone()])
            .unwrap();
        assert_eq!(s.insert(k, svc, Stats::default(), vec![]), Err(Duplicate));
        assert_eq!(s.kernel_order(), vec![&k]);
        assert_eq!(s.kernel_dest_order(&k), vec![&a]);
    }
}
