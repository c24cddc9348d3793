//! What the kernel's table should hold, given the configuration, the health
//! of every real server and what the kernel holds now. Pure.
//!
//! ldirectord's rules (anchors §1.10, §1.11), with one deliberate change: a
//! real server that was never checked never gets weight (ldirectord briefly
//! adds unchecked servers at full weight at start).
//! - Up: in the table at its configured weight.
//! - Down: weight 0 if `quiescent=yes` and it is in the table (or re-added at
//!   weight 0 with `readdquiescent=yes`); otherwise removed.
//! - Not checked yet: left exactly as the kernel has it, so a restart of lvsd
//!   disturbs nothing that serves; absent ones stay absent.
//! - In maintenance (`maintenancedir`): treated as Down.
//! - The fallback server (weight 1, never quiescent) when no real server
//!   serves; `checktype=off` counts every real as down, as ldirectord does.
//!
//! The per-entry rules (port mapping, add-or-edit, tunnel type) are in
//! [`super::plan`], shared with `lvsd plan`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::check::Health;
use crate::config::model::{CheckType, Config, Virtual};
use crate::ipvs::table::{Dest, Forward, ServiceEntry, ServiceKey, Table};

use super::plan::{dest, dest_addr, place, real_dest, service};

/// Identifies one real server of one virtual service: the health the
/// director tracks, and the key of the check that feeds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RealKey {
    pub service: ServiceKey,
    /// The address as configured (port 0 when none was given); the kernel's
    /// destination may carry another port, see [`dest_addr`].
    pub real: SocketAddr,
}

/// What the checks and the operator say about the reals at one pass, as
/// data: the controller fills it, tests and `lvsd plan` build it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The checks' verdicts. A real not listed is not checked yet.
    pub health: BTreeMap<RealKey, Health>,
    /// Forced down by a file in `maintenancedir` (or `lvsd drain`).
    pub maintenance: BTreeSet<RealKey>,
}

impl Facts {
    /// Every real of `config` up, nothing in maintenance: what
    /// `lvsd plan --all-up` shows.
    pub fn all_up(config: &Config) -> Facts {
        let health = config
            .virtuals
            .iter()
            .flat_map(|v| {
                v.reals.iter().map(|r| {
                    let key = RealKey {
                        service: v.key,
                        real: r.addr,
                    };
                    (key, Health::Up)
                })
            })
            .collect();
        Facts {
            health,
            maintenance: BTreeSet::new(),
        }
    }

    fn health(&self, key: &RealKey) -> Health {
        self.health.get(key).copied().unwrap_or(Health::Unknown)
    }
}

/// The table when every real server is up: `lvsd plan --all-up`.
pub fn all_up(config: &Config) -> Table {
    desired(
        config,
        &Facts::all_up(config),
        &BTreeSet::new(),
        &Table::new(),
    )
}

/// The table the configuration asks for, given what is known of the reals,
/// what the kernel holds (`actual`) and the reals this director has seen in
/// the kernel at the end of an earlier pass (`placed`, the director's own
/// record): a quiescent real that is down goes in at weight 0 the first
/// time (as ldirectord's start does); once it has been in the table and
/// was taken out by someone else, only `readdquiescent=yes` puts it back.
pub fn desired(
    config: &Config,
    facts: &Facts,
    placed: &BTreeSet<RealKey>,
    actual: &Table,
) -> Table {
    let mut table = Table::new();
    for v in &config.virtuals {
        // Two virtuals with one key: the first wins, as ipvsadm refuses the second.
        if table.services.contains_key(&v.key) {
            continue;
        }
        let entry = virtual_entry(config, v, facts, placed, actual.services.get(&v.key));
        table.services.insert(v.key, entry);
    }
    table
}

fn virtual_entry(
    config: &Config,
    v: &Virtual,
    facts: &Facts,
    placed: &BTreeSet<RealKey>,
    have: Option<&ServiceEntry>,
) -> ServiceEntry {
    let mut entry = ServiceEntry::new(service(v));
    // Per kernel destination, whether the line that holds it serves: a line
    // that lost its destination to an earlier one (two lines, one kernel
    // address) must not keep the fallback out.
    let mut serving: BTreeMap<SocketAddr, bool> = BTreeMap::new();
    for r in &v.reals {
        let key = RealKey {
            service: v.key,
            real: r.addr,
        };
        let current = have.and_then(|e| e.dests.get(&dest_addr(&v.key, r.addr, r.forward)));
        let health = match v.checktype {
            // ldirectord activates nothing for `off`: every real counts as down.
            CheckType::Off => Health::Down,
            _ if facts.maintenance.contains(&key) => Health::Down,
            CheckType::On => Health::Up,
            _ => facts.health(&key),
        };
        let d = match health {
            Health::Up => {
                let mut d = real_dest(r, r.weight);
                d.lower_threshold = r.lower_threshold;
                d.upper_threshold = r.upper_threshold;
                d
            }
            Health::Down => {
                let readd = config.global.readdquiescent || !placed.contains(&key);
                if !(v.quiescent && (current.is_some() || readd)) {
                    continue;
                }
                // ldirectord quiesces with `ipvsadm -e -w 0`, which also
                // clears the thresholds.
                real_dest(r, 0)
            }
            // Adopted as it is, if it is this line's destination: one with
            // another forwarding method belongs to another line (or to an
            // operator's edit), and re-placing it under this line's rules
            // would put weight on an address nobody checked. The kernel
            // shows any method as Local for an address of the director; the
            // line's own method places it where it is.
            Health::Unknown => match current {
                Some(cur) if cur.forward == r.forward || cur.forward == Forward::Local => Dest {
                    forward: r.forward,
                    ..cur.clone()
                },
                _ => continue,
            },
        };
        // An up real serves even at weight 0, as in ldirectord; an unchecked
        // one only if it already carried traffic.
        let serves = health == Health::Up || d.weight > 0 && health == Health::Unknown;
        if let Some(kernel) = place(&mut entry, &v.key, r.addr, d) {
            serving.insert(kernel, serves);
        }
    }
    if !serving.values().any(|s| *s) {
        if let Some(fb) = &v.fallback {
            let _ = place(&mut entry, &v.key, fb.addr, dest(fb.forward, 1));
        }
    }
    entry
}

/// Whether the fallback of `v` is in use in `table` (for fallbackcommand and
/// status). A fallback that is also a configured real does not count.
pub fn fallback_active(v: &Virtual, table: &Table) -> bool {
    let Some(fb) = &v.fallback else {
        return false;
    };
    let addr = dest_addr(&v.key, fb.addr, fb.forward);
    let is_real = v
        .reals
        .iter()
        .any(|r| dest_addr(&v.key, r.addr, r.forward) == addr);
    !is_real
        && table
            .services
            .get(&v.key)
            .is_some_and(|e| e.dests.contains_key(&addr))
}

/// Whether some configured real server of `v` takes traffic in `table`
/// (weight above 0). ldirectord's "a real server is up" for fallbackcommand.
pub fn real_serving(v: &Virtual, table: &Table) -> bool {
    let Some(e) = table.services.get(&v.key) else {
        return false;
    };
    v.reals.iter().any(|r| {
        e.dests
            .get(&dest_addr(&v.key, r.addr, r.forward))
            .is_some_and(|d| d.weight > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::test_config(text)
    }

    /// The facts, and the director's record of placed reals, by address.
    #[derive(Default)]
    struct Know {
        health: BTreeMap<SocketAddr, Health>,
        maint: BTreeSet<SocketAddr>,
        placed: BTreeSet<SocketAddr>,
    }

    impl Know {
        fn keys(c: &Config, set: impl Fn(&SocketAddr) -> bool) -> BTreeSet<RealKey> {
            c.virtuals
                .iter()
                .flat_map(|v| {
                    v.reals.iter().map(|r| RealKey {
                        service: v.key,
                        real: r.addr,
                    })
                })
                .filter(|k| set(&k.real))
                .collect()
        }
    }

    fn desired(c: &Config, k: &Know, actual: &Table) -> Table {
        let facts = Facts {
            health: Know::keys(c, |a| k.health.contains_key(a))
                .into_iter()
                .map(|key| (key, k.health[&key.real]))
                .collect(),
            maintenance: Know::keys(c, |a| k.maint.contains(a)),
        };
        super::desired(c, &facts, &Know::keys(c, |a| k.placed.contains(a)), actual)
    }

    const CF: &str = "\
virtual=10.0.0.1:80
\treal=10.0.1.1:80 masq 5
\treal=10.0.1.2:8080 masq 1 u:100
\tfallback=127.0.0.1:80 gate
\tquiescent=yes
\tchecktype=connect
";

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn dests(t: &Table) -> Vec<(SocketAddr, u32)> {
        t.services
            .values()
            .flat_map(|e| e.dests.iter().map(|(a, d)| (*a, d.weight)))
            .collect()
    }

    #[test]
    fn unchecked_reals_get_no_weight_and_the_fallback_serves() {
        let c = config(CF);
        let t = desired(&c, &Know::default(), &Table::new());
        assert_eq!(dests(&t), vec![(a("127.0.0.1:80"), 1)]);
        let fb = &t.services.values().next().unwrap().dests[&a("127.0.0.1:80")];
        assert_eq!(fb.forward, Forward::Route);
        assert!(fallback_active(&c.virtuals[0], &t));
    }

    #[test]
    fn up_reals_replace_the_fallback_and_down_ones_are_quiesced() {
        let c = config(CF);
        let mut k = Know::default();
        k.health.insert(a("10.0.1.1:80"), Health::Up);
        k.health.insert(a("10.0.1.2:8080"), Health::Down);
        let t = desired(&c, &k, &Table::new());
        assert_eq!(
            dests(&t),
            vec![(a("10.0.1.1:80"), 5), (a("10.0.1.2:8080"), 0)]
        );
        // The quiesced real loses its threshold, as `ipvsadm -e -w 0` does.
        let e = t.services.values().next().unwrap();
        assert_eq!(e.dests[&a("10.0.1.2:8080")].upper_threshold, 0);
        assert!(!fallback_active(&c.virtuals[0], &t));
    }

    #[test]
    fn a_quiesced_real_someone_removed_stays_out_unless_readdquiescent() {
        let mut k = Know::default();
        k.health.insert(a("10.0.1.1:80"), Health::Up);
        k.health.insert(a("10.0.1.2:8080"), Health::Down);
        k.placed.insert(a("10.0.1.2:8080"));
        let t = desired(&config(CF), &k, &Table::new());
        assert_eq!(dests(&t), vec![(a("10.0.1.1:80"), 5)]);
        let t = desired(
            &config(&format!("readdquiescent=yes\n{CF}")),
            &k,
            &Table::new(),
        );
        assert_eq!(
            dests(&t),
            vec![(a("10.0.1.1:80"), 5), (a("10.0.1.2:8080"), 0)]
        );
    }

    #[test]
    fn without_quiescent_down_reals_are_removed() {
        let c = config(&CF.replace("quiescent=yes", "quiescent=no"));
        let mut k = Know::default();
        k.health.insert(a("10.0.1.1:80"), Health::Up);
        k.health.insert(a("10.0.1.2:8080"), Health::Down);
        assert_eq!(
            dests(&desired(&c, &k, &Table::new())),
            vec![(a("10.0.1.1:80"), 5)]
        );
    }

    #[test]
    fn a_serving_real_keeps_its_kernel_state_until_checked() {
        let c = config(CF);
        let mut actual = Table::new();
        let mut e = ServiceEntry::new(service(&c.virtuals[0]));
        e.dests
            .insert(a("10.0.1.1:80"), Dest::new(Forward::Masq, 7));
        actual.services.insert(c.virtuals[0].key, e);
        let t = desired(&c, &Know::default(), &actual);
        // Adopted as is (weight 7, not the configured 5), and it serves, so
        // no fallback.
        assert_eq!(dests(&t), vec![(a("10.0.1.1:80"), 7)]);
    }

    #[test]
    fn maintenance_forces_a_real_down() {
        let c = config(CF);
        let mut k = Know::default();
        k.health.insert(a("10.0.1.1:80"), Health::Up);
        k.health.insert(a("10.0.1.2:8080"), Health::Up);
        k.maint.insert(a("10.0.1.1:80"));
        assert_eq!(
            dests(&desired(&c, &k, &Table::new())),
            vec![(a("10.0.1.1:80"), 0), (a("10.0.1.2:8080"), 1)]
        );
    }

    #[test]
    fn checktype_on_needs_no_checks_and_gate_reals_take_the_virtual_port() {
        let c = config("virtual=10.0.0.1:80\n\treal=10.0.1.1:8080 gate 2\n\tchecktype=on\n");
        let t = desired(&c, &Know::default(), &Table::new());
        assert_eq!(dests(&t), vec![(a("10.0.1.1:80"), 2)]);
    }

    /// Found by tests/reconcile_prop.rs: an ipip line adopted the masq
    /// destination of another line and re-placed it at its own port, so an
    /// address nobody had checked got weight.
    #[test]
    fn an_unchecked_line_adopts_only_its_own_destination() {
        let c = config(
            "virtual=10.0.0.1:80\n\treal=10.0.1.1:8080 ipip 3\n\treal=10.0.1.1:80 masq 3\n\
             \tchecktype=connect\n\tquiescent=no\n",
        );
        let mut actual = Table::new();
        let mut e = ServiceEntry::new(crate::director::plan::service(&c.virtuals[0]));
        e.dests.insert(a("10.0.1.1:80"), dest(Forward::Masq, 1));
        actual.services.insert(c.virtuals[0].key, e);
        let t = desired(&c, &Know::default(), &actual);
        assert_eq!(dests(&t), vec![(a("10.0.1.1:80"), 1)]);
    }

    /// Found by tests/reconcile_prop.rs: a line that lost its kernel
    /// destination to an earlier, quiesced line still kept the fallback out,
    /// so the service had no weight anywhere for one pass.
    #[test]
    fn a_line_that_lost_its_destination_does_not_keep_the_fallback_out() {
        let c = config(
            "virtual=10.0.0.1:80\n\treal=10.0.1.5 ipip 1\n\treal=10.0.1.5:8080 ipip 2\n\
             \tfallback=127.0.0.1:80 gate\n\tchecktype=connect\n\tquiescent=yes\n",
        );
        let mut k = Know::default();
        k.health.insert(a("10.0.1.5:0"), Health::Down);
        k.health.insert(a("10.0.1.5:8080"), Health::Up);
        let mut actual = Table::new();
        let mut e = ServiceEntry::new(crate::director::plan::service(&c.virtuals[0]));
        e.dests.insert(a("10.0.1.5:80"), dest(Forward::Tunnel, 2));
        actual.services.insert(c.virtuals[0].key, e);
        let t = desired(&c, &k, &actual);
        assert_eq!(
            dests(&t),
            vec![(a("10.0.1.5:80"), 0), (a("127.0.0.1:80"), 1)]
        );
    }

    /// A local real (the kernel reports it as Local) is adopted where it
    /// is, even when its port differs from the virtual's (masq).
    #[test]
    fn a_local_real_is_adopted_at_its_own_address() {
        let c = config(
            "virtual=10.0.0.1:80\n\treal=127.0.0.1:8080 masq 3\n\tchecktype=connect\n\tquiescent=no\n",
        );
        let mut actual = Table::new();
        let mut e = ServiceEntry::new(crate::director::plan::service(&c.virtuals[0]));
        e.dests.insert(a("127.0.0.1:8080"), dest(Forward::Local, 3));
        actual.services.insert(c.virtuals[0].key, e);
        let t = desired(&c, &Know::default(), &actual);
        assert_eq!(dests(&t), vec![(a("127.0.0.1:8080"), 3)]);
        let changes = crate::director::diff::diff(&actual, &t, &Default::default());
        assert!(changes.is_empty(), "{changes:?}");
    }
}
