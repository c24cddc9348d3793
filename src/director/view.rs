//! What the director shows after a pass: one row per configured real
//! server, joining the configuration, the health the checks report,
//! maintenance and the kernel's table. Status, metrics and alerts read
//! this instead of redoing the join. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::check::engine::Status;
use crate::check::Health;
use crate::config::model::Config;
use crate::ipvs::table::{ServiceKey, Table};

use super::desired::{fallback_active, RealKey};
use super::plan::dest_addr;

/// The director after a pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Whether the table below is known to match the kernel (false before
    /// the first good pass and after a failed one).
    pub synced: bool,
    pub virtuals: Vec<VirtualView>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualView {
    pub key: ServiceKey,
    pub scheduler: String,
    /// Whether the kernel holds the service.
    pub present: bool,
    /// The fallback's kernel address, unless it is also a configured real.
    pub fallback: Option<SocketAddr>,
    /// Whether that fallback is in the table.
    pub fallback_active: bool,
    pub reals: Vec<RealView>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealView {
    pub key: RealKey,
    /// The address the kernel knows it by (see [`dest_addr`]).
    pub kernel_addr: SocketAddr,
    pub health: Health,
    /// Failed probes in a row, and the last probe's result.
    pub failures: u32,
    pub last: Option<String>,
    pub maintenance: bool,
    pub configured_weight: u32,
    /// The weight the kernel holds; `None` when it is not in the table.
    pub kernel_weight: Option<u32>,
}

impl View {
    pub fn virtual_(&self, key: &ServiceKey) -> Option<&VirtualView> {
        self.virtuals.iter().find(|v| v.key == *key)
    }

    /// Every real row, with its virtual.
    pub fn reals(&self) -> impl Iterator<Item = (&VirtualView, &RealView)> {
        self.virtuals
            .iter()
            .flat_map(|v| v.reals.iter().map(move |r| (v, r)))
    }

    /// Whether `addr` is the fallback (not a real) of virtual `key`.
    pub fn is_fallback(&self, key: &ServiceKey, addr: SocketAddr) -> bool {
        self.virtual_(key).is_some_and(|v| v.fallback == Some(addr))
    }
}

/// The view of `table` for `config`, the health the checks report and the
/// reals in maintenance.
pub fn build(
    config: &Config,
    table: &Table,
    synced: bool,
    health: &BTreeMap<RealKey, Status>,
    maintenance: &BTreeSet<RealKey>,
) -> View {
    let virtuals = config
        .virtuals
        .iter()
        .map(|v| {
            let entry = table.services.get(&v.key);
            let reals = v
                .reals
                .iter()
                .map(|r| {
                    let key = RealKey {
                        service: v.key,
                        real: r.addr,
                    };
                    let st = health.get(&key);
                    let kernel_addr = dest_addr(&v.key, r.addr, r.forward);
                    RealView {
                        key,
                        kernel_addr,
                        health: st.map_or(Health::Unknown, |s| s.health),
                        failures: st.map_or(0, |s| s.failures),
                        last: st.and_then(|s| s.last.clone()),
                        maintenance: maintenance.contains(&key),
                        configured_weight: r.weight,
                        kernel_weight: entry
                            .and_then(|e| e.dests.get(&kernel_addr))
                            .map(|d| d.weight),
                    }
                })
                .collect::<Vec<_>>();
            let fallback = v
                .fallback
                .as_ref()
                .map(|f| dest_addr(&v.key, f.addr, f.forward))
                .filter(|a| !reals.iter().any(|r| r.kernel_addr == *a));
            VirtualView {
                key: v.key,
                scheduler: v.scheduler.clone(),
                present: entry.is_some(),
                fallback,
                fallback_active: fallback_active(v, table),
                reals,
            }
        })
        .collect();
    View { synced, virtuals }
}
