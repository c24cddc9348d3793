//! An in-memory [`Kernel`] with the kernel's error rules, for unit tests of
//! code that drives IPVS. It proves nothing about the real kernel.

use super::change::{apply_to, Change, Refusal};
use super::error::{Errno, IpvsError, Op, Target};
use super::kernel::Kernel;
use super::table::Table;

#[derive(Debug, Default, Clone)]
pub struct MemoryKernel {
    pub table: Table,
    /// Fault injection: this many next reads of the table fail, as a
    /// netlink socket whose recv failed would.
    pub fail_dumps: usize,
    /// Fault injection: this many next `apply_all` calls fail as a whole
    /// (the transport failed; the outcome of the changes is unknown), after
    /// applying nothing.
    pub fail_applies: usize,
}

impl MemoryKernel {
    pub fn new(table: Table) -> MemoryKernel {
        MemoryKernel {
            table,
            ..MemoryKernel::default()
        }
    }
}

/// What an injected fault reports: the error a signal gave before the
/// socket retried it.
fn injected(op: Op) -> IpvsError {
    IpvsError::Socket {
        op,
        source: std::io::Error::from(std::io::ErrorKind::Interrupted),
    }
}

fn op_of(change: &Change) -> (Op, Target) {
    match change {
        Change::AddService(k, _) => (Op::AddService, Target::Service(*k)),
        Change::EditService(k, _) => (Op::EditService, Target::Service(*k)),
        Change::DelService(k) => (Op::DelService, Target::Service(*k)),
        Change::AddDest(k, a, _) => (Op::AddDest, Target::Dest(*k, *a)),
        Change::EditDest(k, a, _) => (Op::EditDest, Target::Dest(*k, *a)),
        Change::DelDest(k, a) => (Op::DelDest, Target::Dest(*k, *a)),
    }
}

impl Kernel for MemoryKernel {
    fn dump(&mut self) -> Result<Table, IpvsError> {
        if self.fail_dumps > 0 {
            self.fail_dumps -= 1;
            return Err(injected(Op::ListServices));
        }
        Ok(self.table.clone())
    }

    fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        if self.fail_applies > 0 {
            self.fail_applies -= 1;
            let op = changes.first().map_or(Op::ListServices, |c| op_of(c).0);
            return Err(injected(op));
        }
        Ok(changes.iter().map(|c| self.apply(c)).collect())
    }

    fn apply(&mut self, change: &Change) -> Result<(), IpvsError> {
        let service_known = self.table.services.contains_key(change.service());
        apply_to(&mut self.table, change).map_err(|r| {
            let (op, target) = op_of(change);
            // As the kernel: a missing service is ESRCH, a missing real
            // server of an existing service is ENOENT.
            let errno = match r {
                Refusal::Exists => Errno::Exists,
                Refusal::Missing if service_known => Errno::NotFound,
                Refusal::Missing => Errno::NoSuchService,
            };
            IpvsError::Kernel { op, target, errno }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::{Dest, Family, Forward, Protocol, Service, ServiceKey};

    #[test]
    fn refusals_carry_the_kernels_errnos() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        };
        let a = "10.0.0.2:80".parse().unwrap();
        let mut m = MemoryKernel::default();
        let e = m.apply(&Change::DelDest(k, a)).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NoSuchService));
        m.apply(&Change::AddService(k, Service::new("rr", Family::Inet)))
            .unwrap();
        let e = m.apply(&Change::DelDest(k, a)).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NotFound));
        let add = Change::AddDest(k, a, Dest::new(Forward::Masq, 1));
        let r = m.apply_all(&[add.clone(), add]).unwrap();
        assert!(r[0].is_ok());
        assert_eq!(r[1].as_ref().unwrap_err().errno(), Some(Errno::Exists));
        assert_eq!(m.dump().unwrap().services[&k].dests.len(), 1);
    }
}
