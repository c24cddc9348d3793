//! What the client reads and sets beyond single changes: the whole table
//! (with counters), one service, info, timeouts, sync daemons, zero and
//! flush; and the [`Kernel`] seam over the client.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::codec::{self, Request};
use super::decode;
use super::socket::Client;
use crate::ipvs::change::Change;
use crate::ipvs::error::{DecodeError, Errno, IpvsError, Op, Target};
use crate::ipvs::kernel::Kernel;
use crate::ipvs::snapshot::{
    Daemon, DaemonState, DestCounters, Duplicate, Info, ServiceDump, Snapshot, Stats, Timeouts,
};
use crate::ipvs::table::{Dest, Service, ServiceKey, Table};

fn duplicate(_: Duplicate) -> IpvsError {
    IpvsError::Decode {
        op: Op::ListServices,
        source: DecodeError::Message {
            what: "an entry appeared twice: the table changed during the dump",
        },
    }
}

/// Whether a destination dump holds an address twice (the table changed
/// while it was read). Pairwise for the usual handful, hashed beyond.
fn has_duplicate_dest(dests: &[(SocketAddr, Dest, DestCounters)]) -> bool {
    if dests.len() <= 32 {
        dests
            .iter()
            .enumerate()
            .any(|(i, (a, ..))| dests[..i].iter().any(|(b, ..)| a == b))
    } else {
        let mut seen = HashSet::with_capacity(dests.len());
        !dests.iter().all(|(a, ..)| seen.insert(*a))
    }
}

impl Client {
    /// The attributes of every data reply to `req`, exactly as the kernel
    /// sent them (after the generic netlink header). For golden fixtures
    /// and diagnostics; everything else decodes as it reads.
    pub fn raw_replies(&mut self, req: &Request) -> Result<Vec<Vec<u8>>, IpvsError> {
        let mut v = Vec::new();
        self.transact(req, |_, a| {
            v.push(a.to_vec());
            Ok(())
        })?;
        Ok(v)
    }

    /// `IPVS_CMD_GET_INFO`
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let mut info = None;
        self.transact(&codec::get_info(), |_, a| {
            info = Some(decode::decode_info(a)?);
            Ok(())
        })?;
        info.ok_or(IpvsError::Decode {
            op: Op::GetInfo,
            source: DecodeError::Missing {
                attr: "IPVS_INFO_ATTR_VERSION",
            },
        })
    }

    /// Every service, with its counters, in the kernel's order.
    pub fn services(&mut self) -> Result<Vec<(ServiceKey, Service, Stats)>, IpvsError> {
        let mut v = Vec::new();
        self.transact(&codec::dump_services(), |_, a| {
            v.push(decode::decode_service(a)?);
            Ok(())
        })?;
        Ok(v)
    }

    /// One service (`ipvsadm -L -t ...`).
    pub fn service(&mut self, key: &ServiceKey) -> Result<(Service, Stats), IpvsError> {
        let mut found = None;
        self.transact(&codec::get_service(key), |_, a| {
            let (_, s, st) = decode::decode_service(a)?;
            found = Some((s, st));
            Ok(())
        })?;
        found.ok_or(IpvsError::Kernel {
            op: Op::GetService,
            target: Target::Service(*key),
            errno: Errno::NoSuchService,
        })
    }

    /// The destinations of one service, with their counters; ESRCH if the
    /// service does not exist.
    pub fn dests(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<(SocketAddr, Dest, DestCounters)>, IpvsError> {
        let mut v = Vec::new();
        let fam = key.family();
        self.transact(&codec::dump_dests(key), |_, a| {
            v.push(decode::decode_dest(a, fam)?);
            Ok(())
        })?;
        // The kernel answers a destination dump of a missing service with
        // an empty dump, not ESRCH. An empty answer is only believed once
        // the service is confirmed to exist: a service deleted while the
        // table is read is an error, not a service without real servers.
        if v.is_empty() {
            self.service(key)?;
        }
        Ok(v)
    }

    /// The whole table with counters: one service dump, then one destination
    /// dump per service. Complete, or an error.
    pub fn snapshot(&mut self) -> Result<Snapshot, IpvsError> {
        let mut snap = Snapshot {
            info: self.info()?,
            ..Snapshot::default()
        };
        for (key, svc, stats) in self.services()? {
            let dests = self.dests(&key)?;
            snap.insert(key, svc, stats, dests).map_err(duplicate)?;
        }
        Ok(snap)
    }

    /// The whole table one service at a time: one service dump, then each
    /// service's destinations, handed to `each` in the order `order` picks
    /// from the kernel's. Only one service's destinations are held at once
    /// (a listing of 10,000 reals need not build the whole table first).
    /// `each` also learns how many services there are, to size its output.
    /// Complete, or an error.
    pub fn for_each_service(
        &mut self,
        order: impl FnOnce(&[ServiceKey]) -> Vec<usize>,
        mut each: impl FnMut(&ServiceDump, usize),
    ) -> Result<Info, IpvsError> {
        let info = self.info()?;
        let services = self.services()?;
        let count = services.len();
        let kernel_order: Vec<ServiceKey> = services.iter().map(|(k, ..)| *k).collect();
        let mut seen = HashSet::with_capacity(count);
        if !kernel_order.iter().all(|k| seen.insert(*k)) {
            return Err(duplicate(Duplicate));
        }
        let mut services: Vec<Option<(ServiceKey, Service, Stats)>> =
            services.into_iter().map(Some).collect();
        for i in order(&kernel_order) {
            let Some((key, service, stats)) = services.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let dests = self.dests(&key)?;
            if has_duplicate_dest(&dests) {
                return Err(duplicate(Duplicate));
            }
            let one = ServiceDump {
                key,
                service,
                stats,
                dests,
            };
            each(&one, count);
        }
        Ok(info)
    }

    /// A snapshot of one service only.
    pub fn snapshot_of(&mut self, key: &ServiceKey) -> Result<Snapshot, IpvsError> {
        let mut snap = Snapshot {
            info: self.info()?,
            ..Snapshot::default()
        };
        let (svc, stats) = self.service(key)?;
        let dests = self.dests(key)?;
        snap.insert(*key, svc, stats, dests).map_err(duplicate)?;
        Ok(snap)
    }

    /// `IPVS_CMD_ZERO` for one service or all.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        self.ack(&codec::zero(key))
    }

    /// `IPVS_CMD_FLUSH`. For tests and tools; the director never flushes.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.ack(&codec::flush())
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let mut t = Timeouts::default();
        self.transact(&codec::get_timeouts(), |_, a| {
            t = decode::decode_timeouts(a)?;
            Ok(())
        })?;
        Ok(t)
    }

    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        self.ack(&codec::set_timeouts(t))
    }

    pub fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        let mut v = Vec::new();
        self.transact(&codec::dump_daemons(), |_, a| {
            v.push(decode::decode_daemon(a)?);
            Ok(())
        })?;
        Ok(v)
    }

    pub fn start_daemon(&mut self, d: &Daemon) -> Result<(), IpvsError> {
        self.ack(&codec::start_daemon(d)?)
    }

    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        self.ack(&codec::stop_daemon(state))
    }
}

impl Kernel for Client {
    fn dump(&mut self) -> Result<Table, IpvsError> {
        Ok(self.snapshot()?.table)
    }

    fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
        Client::apply(self, change)
    }

    fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        Client::apply_all(self, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::Forward;

    fn dests(n: u16, twice: Option<u16>) -> Vec<(SocketAddr, Dest, DestCounters)> {
        (0..n)
            .chain(twice)
            .map(|i| {
                let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 80));
                (addr, Dest::new(Forward::Masq, 1), DestCounters::default())
            })
            .collect()
    }

    #[test]
    fn a_destination_dumped_twice_is_found_in_short_and_long_lists() {
        for n in [1, 10, 32, 33, 500] {
            assert!(!has_duplicate_dest(&dests(n, None)), "{n} distinct");
            assert!(has_duplicate_dest(&dests(n, Some(0))), "{n} + first again");
            assert!(
                has_duplicate_dest(&dests(n, Some(n - 1))),
                "{n} + last again"
            );
        }
        assert!(!has_duplicate_dest(&[]));
    }
}
