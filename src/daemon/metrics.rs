//! The daemon's side of the metrics endpoint: the counters it keeps as it
//! runs (with the sync threads as last listed), and each scrape assembled
//! from them, the check engine's state and
//! the kernel's counters of the owned services, read at scrape time on a
//! netlink socket of its own (on the blocking pool, never in the reconcile
//! path). One read (a service dump, then one destination dump per owned
//! service: IPVS dumps destinations per service only) serves every scrape
//! within [`KERNEL_CACHE`], so a flood of scrapes cannot turn into a flood
//! of dumps.
//!
//! On reload, a changed `metrics` address is rebound at once; if the new
//! address cannot be bound the old endpoint keeps serving (an error is
//! logged), so a typo never takes metrics away.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::{error, info};

use crate::check::engine::{Observed, Observer};
use crate::check::Health;
use crate::config::Config;
use crate::director::desired::RealKey;
use crate::director::reconcile::Report;
use crate::director::view::View;
use crate::ipvs::snapshot::{DestCounters, Stats};
use crate::ipvs::{Client, Dest, IpvsError, ServiceKey};
use crate::metrics::recent::Recent;
use crate::metrics::scrape::{self, KernelEntry, Scrape};
use crate::metrics::Endpoint;

use super::sync::{state_name, SyncView};

/// What the daemon records between scrapes.
#[derive(Default)]
struct Recorded {
    /// The director after the last pass (`None` before the first).
    view: Option<Arc<View>>,
    daemon: scrape::Daemon,
    /// The sync threads as last listed.
    sync: SyncView,
}

/// The kernel's counters of one owned service and its destinations.
pub type KernelService = (Stats, Vec<(SocketAddr, Dest, DestCounters)>);

/// How long one read of the kernel's counters is reused (Prometheus
/// scrapes every 15 s or so; a second is fresh enough).
pub const KERNEL_CACHE: Duration = Duration::from_secs(1);

type KernelRead = Result<BTreeMap<ServiceKey, KernelService>, String>;

/// The last read of the kernel's counters, by the services it covers.
type KernelCache = Recent<Vec<ServiceKey>, KernelRead>;

pub struct Metrics {
    recorded: Arc<Mutex<Recorded>>,
    observer: Observer<RealKey>,
    endpoint: Option<Endpoint>,
}

impl Metrics {
    pub fn new(observer: Observer<RealKey>) -> Metrics {
        Metrics {
            recorded: Arc::default(),
            observer,
            endpoint: None,
        }
    }

    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        // Plain counters: keep serving them after a panic elsewhere.
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The address being served, if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.as_ref().map(Endpoint::local_addr)
    }

    /// Takes a configuration (at start and after every good reload) and
    /// makes the endpoint match its `metrics` address. An error only when
    /// nothing was serving before (at start: the daemon refuses to run).
    pub fn configure(&mut self, config: &Config) -> io::Result<()> {
        let want = config.global.metrics;
        let have = self.endpoint.as_ref().map(Endpoint::local_addr);
        match (want, have) {
            (None, None) => Ok(()),
            (None, Some(old)) => {
                self.endpoint = None;
                info!(address = %old, "metrics endpoint stopped");
                Ok(())
            }
            (Some(new), Some(old)) if new == old => Ok(()),
            (Some(new), None) => {
                self.endpoint = Some(self.bind(new)?);
                info!(address = %new, "metrics endpoint listening");
                Ok(())
            }
            (Some(new), Some(old)) => {
                // Bind beside the old one first; if that fails on the same
                // port (the old socket may be what is in the way: 0.0.0.0 vs
                // 127.0.0.1), let go of the old one and retry.
                let bound = self.bind(new).or_else(|e| {
                    if new.port() != old.port() {
                        return Err(e);
                    }
                    self.endpoint = None;
                    self.bind(new)
                });
                match bound {
                    Ok(e) => {
                        self.endpoint = Some(e);
                        info!(from = %old, to = %new, "metrics endpoint moved");
                    }
                    Err(e) => {
                        error!(address = %new, error = %e, "cannot bind the metrics endpoint; keeping the old address");
                        if self.endpoint.is_none() {
                            self.endpoint = self.bind(old).ok();
                        }
                        if self.endpoint.is_none() {
                            error!(address = %old, "the old metrics address cannot be bound again either; metrics are off until the next reload");
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn bind(&self, addr: SocketAddr) -> io::Result<Endpoint> {
        let recorded = Arc::clone(&self.recorded);
        let observer = self.observer.clone();
        let cache = KernelCache::new(KERNEL_CACHE);
        Endpoint::bind(
            addr,
            Arc::new(move || scrape_now(&recorded, &observer, &cache, read_kernel)),
        )
    }

    pub fn reload(&self, ok: bool) {
        let mut v = self.recorded();
        if ok {
            v.daemon.reloads_ok += 1;
        } else {
            v.daemon.reloads_failed += 1;
        }
    }

    /// After a reconcile pass (`None`: the kernel could not be used at all).
    pub fn pass(&self, report: Option<&Report>, view: &Arc<View>) {
        let mut v = self.recorded();
        let d = &mut v.daemon;
        d.reconcile_passes += 1;
        match report {
            Some(r) => {
                d.changes_applied += r.applied.len() as u64;
                d.changes_refused += r.failed.len() as u64;
                d.last_reconcile_error = !r.failed.is_empty();
            }
            None => {
                d.reconcile_failures += 1;
                d.last_reconcile_error = true;
            }
        }
        if !v.view.as_ref().is_some_and(|w| Arc::ptr_eq(w, view)) {
            v.view = Some(Arc::clone(view));
        }
    }

    /// Reads the passes counted so far, from outside the loop (the loop
    /// tests count them while the loop holds the state).
    #[cfg(test)]
    pub(super) fn pass_counter(&self) -> impl Fn() -> u64 {
        let recorded = Arc::clone(&self.recorded);
        move || {
            let r = recorded.lock().unwrap_or_else(|p| p.into_inner());
            r.daemon.reconcile_passes
        }
    }

    /// After the sync threads were listed (start, reload, resync).
    pub fn sync(&self, view: &SyncView) {
        let mut v = self.recorded();
        if v.sync != *view {
            v.sync = view.clone();
        }
    }
}

/// One scrape: the recorded view, the checks now, the kernel now.
fn scrape_now(
    recorded: &Mutex<Recorded>,
    observer: &Observer<RealKey>,
    cache: &KernelCache,
    read: impl FnOnce(&[ServiceKey]) -> Result<BTreeMap<ServiceKey, KernelService>, IpvsError>,
) -> String {
    let (view, daemon, sync) = {
        let v = recorded.lock().unwrap_or_else(|p| p.into_inner());
        (v.view.clone(), v.daemon.clone(), v.sync.clone())
    };
    let Some(view) = view else {
        return String::new();
    };
    let keys: Vec<ServiceKey> = view.virtuals.iter().map(|v| v.key).collect();
    let kernel = cache.get(keys, Instant::now(), |keys| {
        read(keys).map_err(|e| {
            tracing::warn!(error = %e, "metrics: cannot read the IPVS counters");
            e.to_string()
        })
    });
    let checks = observer.observed();
    scrape::render(&build(&view, &checks, daemon, &sync, kernel))
}

/// Reads the counters of `owned` services (and their destinations) on a
/// socket of its own.
fn read_kernel(owned: &[ServiceKey]) -> Result<BTreeMap<ServiceKey, KernelService>, IpvsError> {
    let mut client = Client::connect()?;
    let mut out = BTreeMap::new();
    for (key, _, stats) in client.services()? {
        if owned.contains(&key) {
            let dests = client.dests(&key)?;
            out.insert(key, (stats, dests));
        }
    }
    Ok(out)
}

/// Puts a scrape together (pure): the view's rows, each real's checks as
/// the engine has them now, the kernel's counters.
pub fn build(
    view: &View,
    checks: &BTreeMap<RealKey, Observed>,
    daemon: scrape::Daemon,
    sync: &SyncView,
    kernel: Result<BTreeMap<ServiceKey, KernelService>, String>,
) -> Scrape {
    let reals = view
        .reals()
        .map(|(v, r)| {
            let check = checks.get(&r.key);
            scrape::Real {
                virtual_: v.key.to_string(),
                real: r.key.real.to_string(),
                health: check.map_or(Health::Unknown, |c| c.status.health),
                maintenance: r.maintenance,
                configured_weight: r.configured_weight,
                kernel_weight: r.kernel_weight,
                transitions: check
                    .map(|c| c.transitions.iter().collect())
                    .unwrap_or_default(),
                probe_durations: check.map(|c| c.durations.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let kernel = kernel.map(|k| {
        let mut entries = Vec::new();
        for v in &view.virtuals {
            let Some((stats, dests)) = k.get(&v.key) else {
                continue;
            };
            let service = v.key.to_string();
            entries.push(KernelEntry {
                virtual_: service.clone(),
                real: None,
                stats: *stats,
                conns_now: None,
            });
            for (addr, _, c) in dests {
                entries.push(KernelEntry {
                    virtual_: service.clone(),
                    real: Some(addr.to_string()),
                    stats: c.stats,
                    conns_now: Some((c.active_conns, c.inact_conns)),
                });
            }
        }
        entries
    });
    let sync = scrape::Sync {
        threads: sync
            .threads
            .iter()
            .map(|(state, interface, syncid, ours)| scrape::SyncThread {
                state: state_name(*state).to_string(),
                interface: interface.clone(),
                syncid: *syncid,
                ours: *ours,
            })
            .collect(),
        error: sync.error.is_some(),
        foreign: sync
            .foreign
            .iter()
            .map(|f| (f.interface.clone(), f.syncid, f.messages))
            .collect(),
    };
    Scrape {
        reals,
        daemon,
        sync,
        kernel,
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
