//! One change to an IPVS table, as data: what the director asks the kernel to
//! do, and what tests replay on an in-memory table.

use std::fmt;
use std::net::SocketAddr;

use super::table::{Dest, Service, ServiceEntry, ServiceKey, Table};

/// One IPVS operation. Each maps to one generic netlink command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `IPVS_CMD_NEW_SERVICE`
    AddService(ServiceKey, Service),
    /// `IPVS_CMD_SET_SERVICE`
    EditService(ServiceKey, Service),
    /// `IPVS_CMD_DEL_SERVICE` (the kernel drops its destinations with it)
    DelService(ServiceKey),
    /// `IPVS_CMD_NEW_DEST`
    AddDest(ServiceKey, SocketAddr, Dest),
    /// `IPVS_CMD_SET_DEST`
    EditDest(ServiceKey, SocketAddr, Dest),
    /// `IPVS_CMD_DEL_DEST`
    DelDest(ServiceKey, SocketAddr),
}

impl Change {
    pub fn service(&self) -> &ServiceKey {
        match self {
            Change::AddService(k, _)
            | Change::EditService(k, _)
            | Change::DelService(k)
            | Change::AddDest(k, _, _)
            | Change::EditDest(k, _, _)
            | Change::DelDest(k, _) => k,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService(k, s) => write!(f, "add service {k} ({})", s.scheduler),
            Change::EditService(k, s) => write!(f, "edit service {k} ({})", s.scheduler),
            Change::DelService(k) => write!(f, "delete service {k}"),
            Change::AddDest(k, a, d) => write!(f, "add real {a} to {k} (weight {})", d.weight),
            Change::EditDest(k, a, d) => write!(f, "edit real {a} of {k} (weight {})", d.weight),
            Change::DelDest(k, a) => write!(f, "delete real {a} from {k}"),
        }
    }
}

/// Why an in-memory change was refused; mirrors the kernel's errno rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// EEXIST
    Exists,
    /// ESRCH (service) / ENOENT (destination)
    Missing,
}

/// Applies `change` to an in-memory table with the kernel's rules: adding
/// what exists or touching what does not is refused and changes nothing.
pub fn apply_to(table: &mut Table, change: &Change) -> Result<(), Refusal> {
    match change {
        Change::AddService(k, s) => {
            if table.services.contains_key(k) {
                return Err(Refusal::Exists);
            }
            table.services.insert(*k, ServiceEntry::new(s.clone()));
        }
        Change::EditService(k, s) => {
            table.services.get_mut(k).ok_or(Refusal::Missing)?.service = s.clone();
        }
        Change::DelService(k) => {
            table.services.remove(k).ok_or(Refusal::Missing)?;
        }
        Change::AddDest(k, a, d) => {
            let e = table.services.get_mut(k).ok_or(Refusal::Missing)?;
            if e.dests.contains_key(a) {
                return Err(Refusal::Exists);
            }
            e.dests.insert(*a, d.clone());
        }
        Change::EditDest(k, a, d) => {
            let e = table.services.get_mut(k).ok_or(Refusal::Missing)?;
            *e.dests.get_mut(a).ok_or(Refusal::Missing)? = d.clone();
        }
        Change::DelDest(k, a) => {
            let e = table.services.get_mut(k).ok_or(Refusal::Missing)?;
            e.dests.remove(a).ok_or(Refusal::Missing)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::table::{Family, Forward, Protocol};

    #[test]
    fn kernel_rules_hold_in_memory() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1:80".parse().unwrap(),
        };
        let a: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let mut t = Table::new();
        let svc = Service::new("wlc", Family::Inet);
        let d = Dest::new(Forward::Route, 1);
        assert_eq!(
            apply_to(&mut t, &Change::AddDest(k, a, d.clone())),
            Err(Refusal::Missing)
        );
        apply_to(&mut t, &Change::AddService(k, svc.clone())).unwrap();
        assert_eq!(
            apply_to(&mut t, &Change::AddService(k, svc)),
            Err(Refusal::Exists)
        );
        apply_to(&mut t, &Change::AddDest(k, a, d.clone())).unwrap();
        assert_eq!(
            apply_to(&mut t, &Change::AddDest(k, a, d)),
            Err(Refusal::Exists)
        );
        apply_to(&mut t, &Change::DelService(k)).unwrap();
        assert!(t.is_empty());
        assert_eq!(
            apply_to(&mut t, &Change::DelDest(k, a)),
            Err(Refusal::Missing)
        );
    }
}
