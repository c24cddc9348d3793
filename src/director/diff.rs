//! The minimal, ordered list of changes that turns the kernel's table into the
//! desired one, touching only the services lvsd owns. Pure.
//!
//! Equality here is "would the kernel behave the same", not field equality:
//! the kernel rewrites some things on its own (a destination on a local
//! address becomes `Local`; timeout and netmask mean nothing without
//! persistence; a tunnel with no type is IP-in-IP), and a reconciler that
//! compared raw fields would edit the same entry on every pass.

use std::collections::BTreeSet;

use crate::ipvs::change::Change;
use crate::ipvs::table::{Dest, Forward, Service, ServiceKey, Table, TunnelCsum, TunnelType};

/// The services lvsd may change: those of its configuration and those it
/// recorded as its own earlier. Everything else in the kernel is someone
/// else's and is never touched.
pub type Owned = BTreeSet<ServiceKey>;

/// Changes that make `actual` equal to `desired` on the owned services.
///
/// Every service in `desired` counts as owned. Order: new services first
/// (so that their destinations can follow), then per service the removals of
/// destinations before additions and edits (a real moving between ports
/// never exists twice), and deletions of whole services last.
pub fn diff(actual: &Table, desired: &Table, owned: &Owned) -> Vec<Change> {
    let mut changes = Vec::new();

    for (key, want) in &desired.services {
        match actual.services.get(key) {
            None => {
                changes.push(Change::AddService(*key, want.service.clone()));
                for (addr, dest) in &want.dests {
                    changes.push(Change::AddDest(*key, *addr, dest.clone()));
                }
            }
            Some(have) => {
                if !same_service(&have.service, &want.service) {
                    changes.push(Change::EditService(*key, want.service.clone()));
                }
                for addr in have.dests.keys() {
                    if !want.dests.contains_key(addr) {
                        changes.push(Change::DelDest(*key, *addr));
                    }
                }
                for (addr, dest) in &want.dests {
                    match have.dests.get(addr) {
                        None => changes.push(Change::AddDest(*key, *addr, dest.clone())),
                        Some(cur) if !same_dest(cur, dest) => {
                            changes.push(Change::EditDest(*key, *addr, dest.clone()))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }

    for key in actual.services.keys() {
        if owned.contains(key) && !desired.services.contains_key(key) {
            changes.push(Change::DelService(*key));
        }
    }
    changes
}

/// Whether the kernel's service behaves as the wanted one.
pub fn same_service(have: &Service, want: &Service) -> bool {
    let persistent = want.is_persistent();
    have.scheduler == want.scheduler
        && have.flags == want.flags
        && have.pe_name == want.pe_name
        && (!persistent || (have.timeout == want.timeout && have.netmask == want.netmask))
}

/// Whether the kernel's destination behaves as the wanted one.
pub fn same_dest(have: &Dest, want: &Dest) -> bool {
    // The kernel turns any method into Local for an address of the director.
    let forward_ok = have.forward == want.forward || have.forward == Forward::Local;
    let tunnel_ok = want.forward != Forward::Tunnel || tunnel_kind(have) == tunnel_kind(want);
    forward_ok
        && tunnel_ok
        && have.weight == want.weight
        && have.upper_threshold == want.upper_threshold
        && have.lower_threshold == want.lower_threshold
}

fn tunnel_kind(d: &Dest) -> (TunnelType, TunnelCsum) {
    d.tunnel
        .map(|t| (t.kind, t.csum))
        .unwrap_or((TunnelType::Ipip, TunnelCsum::NoCsum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::change::apply_to;
    use crate::ipvs::table::{
        svc_flags, Family, Protocol, ServiceEntry, ServiceKey, Tunnel, TunnelType,
    };
    use std::net::SocketAddr;

    fn key(n: u8) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: SocketAddr::from(([10, 0, 0, n], 80)),
        }
    }

    fn real(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 1, n], 80))
    }

    fn table(spec: &[(u8, &[(u8, u32)])]) -> Table {
        let mut t = Table::new();
        for (s, dests) in spec {
            let mut e = ServiceEntry::new(Service::new("wlc", Family::Inet));
            for (d, w) in dests.iter() {
                e.dests.insert(real(*d), Dest::new(Forward::Route, *w));
            }
            t.services.insert(key(*s), e);
        }
        t
    }

    fn replay(actual: &Table, changes: &[Change]) -> Table {
        let mut t = actual.clone();
        for c in changes {
            apply_to(&mut t, c).unwrap_or_else(|r| panic!("{c} refused: {r:?}"));
        }
        t
    }

    #[test]
    fn identical_tables_need_nothing() {
        let t = table(&[(1, &[(1, 1), (2, 3)]), (2, &[])]);
        let owned: Owned = t.services.keys().copied().collect();
        assert!(diff(&t, &t, &owned).is_empty());
    }

    #[test]
    fn each_kind_of_change_is_emitted_once() {
        let actual = table(&[(1, &[(1, 1), (2, 1)]), (3, &[(1, 1)])]);
        let desired = table(&[(1, &[(1, 0), (3, 1)]), (2, &[(1, 1)])]);
        let owned: Owned = [key(1), key(2), key(3)].into();
        let c = diff(&actual, &desired, &owned);
        assert_eq!(
            c,
            vec![
                Change::DelDest(key(1), real(2)),
                Change::EditDest(key(1), real(1), Dest::new(Forward::Route, 0)),
                Change::AddDest(key(1), real(3), Dest::new(Forward::Route, 1)),
                Change::AddService(key(2), Service::new("wlc", Family::Inet)),
                Change::AddDest(key(2), real(1), Dest::new(Forward::Route, 1)),
                Change::DelService(key(3)),
            ]
        );
        assert_eq!(replay(&actual, &c), desired);
    }

    #[test]
    fn services_not_owned_are_never_touched() {
        let actual = table(&[(1, &[(1, 1)]), (9, &[(1, 1)])]);
        let desired = table(&[(1, &[(1, 1)])]);
        let owned: Owned = [key(1)].into();
        assert!(diff(&actual, &desired, &owned).is_empty());
        // Once recorded as ours, a service gone from the config is removed.
        let owned: Owned = [key(1), key(9)].into();
        assert_eq!(
            diff(&actual, &desired, &owned),
            vec![Change::DelService(key(9))]
        );
    }

    #[test]
    fn kernel_rewrites_do_not_cause_edits() {
        let mut actual = table(&[(1, &[(1, 1), (2, 1)])]);
        let mut desired = actual.clone();
        let e = actual.services.get_mut(&key(1)).unwrap();
        e.dests.get_mut(&real(1)).unwrap().forward = Forward::Local;
        // Timeout and netmask without persistence mean nothing.
        e.service.timeout = 300;
        e.service.netmask = 0xffff_ff00;
        // A tunnel reported as IP-in-IP equals a tunnel configured without a type.
        e.dests.get_mut(&real(2)).unwrap().forward = Forward::Tunnel;
        e.dests.get_mut(&real(2)).unwrap().tunnel = Some(Tunnel {
            kind: TunnelType::Ipip,
            csum: TunnelCsum::NoCsum,
        });
        let w = desired.services.get_mut(&key(1)).unwrap();
        w.dests.get_mut(&real(2)).unwrap().forward = Forward::Tunnel;
        let owned: Owned = [key(1)].into();
        assert!(diff(&actual, &desired, &owned).is_empty());

        // With persistence, timeout and netmask matter.
        let w = desired.services.get_mut(&key(1)).unwrap();
        w.service.flags = svc_flags::PERSISTENT;
        w.service.timeout = 600;
        let c = diff(&actual, &desired, &owned);
        assert!(matches!(c.as_slice(), [Change::EditService(..)]), "{c:?}");
    }

    /// xorshift: deterministic pseudo-random tables without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u8 {
            (self.next() % n) as u8
        }
    }

    fn random_table(rng: &mut Rng) -> Table {
        let mut t = Table::new();
        for s in 0..rng.below(6) {
            let mut svc = Service::new(["wlc", "rr", "sh"][rng.below(3) as usize], Family::Inet);
            if rng.below(2) == 0 {
                svc.flags = svc_flags::PERSISTENT;
                svc.timeout = 60 * u32::from(rng.below(3) + 1);
            }
            let mut e = ServiceEntry::new(svc);
            for _ in 0..rng.below(5) {
                let mut d = Dest::new(
                    [Forward::Route, Forward::Masq][rng.below(2) as usize],
                    u32::from(rng.below(3)),
                );
                d.upper_threshold = u32::from(rng.below(2)) * 100;
                e.dests.insert(real(rng.below(6)), d);
            }
            t.services.insert(key(s), e);
        }
        t
    }

    #[test]
    fn replaying_the_diff_gives_the_desired_table() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let actual = random_table(&mut rng);
            let desired = random_table(&mut rng);
            let owned: Owned = actual
                .services
                .keys()
                .chain(desired.services.keys())
                .copied()
                .collect();
            let c = diff(&actual, &desired, &owned);
            let got = replay(&actual, &c);
            assert_eq!(got, desired, "changes: {c:?}");
            assert!(diff(&got, &desired, &owned).is_empty());
            assert!(diff(&desired, &desired, &owned).is_empty());
        }
    }
}
