//! The reconcile path under random inputs: a random configuration (parsed
//! from ldirectord.cf text), random health, random maintenance, and a
//! random kernel table holding foreign services and stale pieces of lvsd's
//! own, go through `desired` → `diff` → apply on the in-memory kernel.
//!
//! Properties, for every case:
//! - one pass converges: a second pass changes nothing, and the kernel
//!   holds `desired` on every configured service (when two lines of a
//!   virtual name one kernel destination, which `lvsd check` warns about,
//!   which line is programmed depends on the table: then within three);
//! - foreign services (neither configured nor recorded) are untouched;
//! - no destination has weight unless something justifies it: its real is
//!   up (or `checktype=on`), or it was unchecked and already serving at
//!   that weight (adopted), or it is the fallback of a virtual with no
//!   real serving;
//! - after someone edits lvsd's services behind its back, a full pass
//!   converges again and still leaves foreign services alone.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use lvsd::check::Health;
use lvsd::config::model::{CheckType, Config};
use lvsd::config::resolve::Static;
use lvsd::config::{self, Format};
use lvsd::director::desired::{desired, Facts, RealKey};
use lvsd::director::plan::{self, dest_addr};
use lvsd::director::reconcile::Director;
use lvsd::ipvs::{Dest, Family, Forward, MemoryKernel, Service, ServiceEntry, ServiceKey, Table};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct RealSpec {
    host: u8,
    port: u16,
    forward: usize,
    weight: u32,
}

#[derive(Clone, Debug)]
struct VirtualSpec {
    fwmark: bool,
    reals: Vec<RealSpec>,
    checktype: usize,
    quiescent: bool,
    fallback: bool,
}

#[derive(Clone, Debug)]
struct Scenario {
    virtuals: Vec<VirtualSpec>,
    readdquiescent: bool,
    /// Per (virtual, real) index: health 0 unknown, 1 up, 2 down.
    health: Vec<u8>,
    maintenance: Vec<bool>,
    placed: Vec<bool>,
    /// The kernel before the pass: per virtual, whether it exists and
    /// which reals are in it at which weight.
    kernel: Vec<Option<Vec<Option<u32>>>>,
    foreign: Vec<(u8, Vec<(u8, u32)>)>,
    /// Edits behind lvsd's back after the first pass: (virtual, real, op).
    edits: Vec<(usize, usize, u8)>,
}

const FORWARDS: [&str; 3] = ["gate", "masq", "ipip"];
const CHECKTYPES: [&str; 4] = ["negotiate", "connect", "on", "off"];

fn real_spec() -> impl Strategy<Value = RealSpec> {
    (
        1u8..6,
        prop_oneof![Just(0u16), Just(80u16), Just(8080u16)],
        0usize..3,
        0u32..4,
    )
        .prop_map(|(host, port, forward, weight)| RealSpec {
            host,
            port,
            forward,
            weight,
        })
}

fn virtual_spec() -> impl Strategy<Value = VirtualSpec> {
    (
        any::<bool>(),
        prop::collection::vec(real_spec(), 0..5),
        0usize..4,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(fwmark, reals, checktype, quiescent, fallback)| VirtualSpec {
                fwmark,
                reals,
                checktype,
                quiescent,
                fallback,
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::collection::vec(virtual_spec(), 1..4).prop_flat_map(|virtuals| {
        let n: usize = virtuals.iter().map(|v| v.reals.len()).sum();
        let kernel = virtuals
            .iter()
            .map(|v| {
                prop::option::of(prop::collection::vec(
                    prop::option::of(0u32..4),
                    v.reals.len(),
                ))
            })
            .collect::<Vec<_>>();
        (
            Just(virtuals),
            any::<bool>(),
            prop::collection::vec(0u8..3, n),
            prop::collection::vec(prop::bool::weighted(0.15), n),
            prop::collection::vec(any::<bool>(), n),
            kernel,
            prop::collection::vec(
                (1u8..4, prop::collection::vec((1u8..4, 0u32..3), 0..3)),
                0..3,
            ),
            prop::collection::vec((0usize..4, 0usize..5, 0u8..3), 0..4),
        )
            .prop_map(
                |(
                    virtuals,
                    readdquiescent,
                    health,
                    maintenance,
                    placed,
                    kernel,
                    foreign,
                    edits,
                )| {
                    Scenario {
                        virtuals,
                        readdquiescent,
                        health,
                        maintenance,
                        placed,
                        kernel,
                        foreign,
                        edits,
                    }
                },
            )
    })
}

fn vip(i: usize, v: &VirtualSpec) -> String {
    if v.fwmark {
        format!("{}", i + 1)
    } else {
        format!("10.0.0.{}:80", i + 1)
    }
}

fn cf_text(s: &Scenario) -> String {
    let mut t = format!(
        "quiescent=no\nreaddquiescent={}\n",
        if s.readdquiescent { "yes" } else { "no" }
    );
    for (i, v) in s.virtuals.iter().enumerate() {
        t += &format!("virtual={}\n", vip(i, v));
        for r in &v.reals {
            let port = if r.port == 0 {
                String::new()
            } else {
                format!(":{}", r.port)
            };
            t += &format!(
                "\treal=10.1.{}.{}{port} {} {}\n",
                i + 1,
                r.host,
                FORWARDS[r.forward],
                r.weight
            );
        }
        t += &format!("\tchecktype={}\n", CHECKTYPES[v.checktype]);
        t += &format!("\tquiescent={}\n", if v.quiescent { "yes" } else { "no" });
        if v.fallback {
            t += &format!("\tfallback=127.0.0.{}:80 gate\n", i + 1);
        }
    }
    t
}

/// The facts of a scenario, and the reals it says an earlier pass placed.
struct Know {
    facts: Facts,
    placed: BTreeSet<RealKey>,
}

impl Know {
    fn health(&self, key: &RealKey) -> Health {
        self.facts
            .health
            .get(key)
            .copied()
            .unwrap_or(Health::Unknown)
    }
    fn in_maintenance(&self, key: &RealKey) -> bool {
        self.facts.maintenance.contains(key)
    }
}

/// A director whose record of placed reals holds `know.placed` (from a
/// first pass over a kernel holding them, nothing checked yet), with the
/// kernel then set to `before`: the placed reals were taken out by someone
/// else in between.
fn director_after_history(c: &Config, know: &Know, before: &Table) -> Director<MemoryKernel> {
    let mut history = Table::new();
    for v in &c.virtuals {
        for r in &v.reals {
            let key = RealKey {
                service: v.key,
                real: r.addr,
            };
            if know.placed.contains(&key) {
                history
                    .services
                    .entry(v.key)
                    .or_insert_with(|| ServiceEntry::new(Service::new("wlc", v.family())))
                    .dests
                    .insert(
                        dest_addr(&v.key, r.addr, r.forward),
                        plan::dest(r.forward, 1),
                    );
            }
        }
    }
    let mut d = Director::new(
        MemoryKernel::new(history),
        c.clone(),
        Default::default(),
        None,
    );
    d.reconcile(&Facts::default())
        .expect("the in-memory kernel takes the history");
    d.kernel().table = before.clone();
    d
}

fn foreign_key(n: u8) -> ServiceKey {
    ServiceKey::Inet {
        protocol: lvsd::ipvs::Protocol::Tcp,
        addr: SocketAddr::from(([10, 9, 0, n], 80)),
    }
}

/// The configuration, the knowledge and the starting kernel of a scenario.
fn setup(s: &Scenario) -> Option<(Config, Know, Table)> {
    let r = Static::new(&[], "");
    let l = config::parse(
        Path::new("p.cf"),
        cf_text(s).as_bytes(),
        Format::Ldirectord,
        &r,
    );
    assert!(
        !l.has_errors(),
        "generated config refused: {:?}\n{}",
        l.diagnostics,
        cf_text(s)
    );
    let c = l.config;
    let mut know = Know {
        facts: Facts::default(),
        placed: BTreeSet::new(),
    };
    let mut table = Table::new();
    let mut idx = 0;
    for (i, v) in c.virtuals.iter().enumerate() {
        let spec = &s.kernel[i];
        if spec.is_some() {
            table
                .services
                .insert(v.key, ServiceEntry::new(Service::new("wlc", v.family())));
        }
        for (j, r) in v.reals.iter().enumerate() {
            let key = RealKey {
                service: v.key,
                real: r.addr,
            };
            let h = [Health::Unknown, Health::Up, Health::Down][usize::from(s.health[idx])];
            know.facts.health.insert(key, h);
            if s.maintenance[idx] {
                know.facts.maintenance.insert(key);
            }
            if s.placed[idx] {
                know.placed.insert(key);
            }
            if let Some(Some(w)) = spec.as_ref().and_then(|k| k.get(j)) {
                let e = table.services.get_mut(&v.key)?;
                e.dests.insert(
                    dest_addr(&v.key, r.addr, r.forward),
                    plan::dest(r.forward, *w),
                );
            }
            idx += 1;
        }
    }
    for (n, dests) in &s.foreign {
        let e = table
            .services
            .entry(foreign_key(*n))
            .or_insert_with(|| ServiceEntry::new(Service::new("rr", Family::Inet)));
        for (h, w) in dests {
            e.dests.insert(
                SocketAddr::from(([10, 8, 0, *h], 80)),
                Dest::new(Forward::Masq, *w),
            );
        }
    }
    Some((c, know, table))
}

fn foreign_part(t: &Table, c: &Config) -> Table {
    let mut out = t.clone();
    out.services
        .retain(|k, _| !c.virtuals.iter().any(|v| v.key == *k));
    out
}

/// Every weighted destination of a configured service has a reason to be.
fn check_weights(c: &Config, know: &Know, before: &Table, after: &Table) -> Result<(), String> {
    for v in &c.virtuals {
        let Some(e) = after.services.get(&v.key) else {
            continue;
        };
        let real_serving = v.reals.iter().any(|r| {
            let a = dest_addr(&v.key, r.addr, r.forward);
            e.dests.get(&a).is_some_and(|d| d.weight > 0)
        });
        for (addr, d) in &e.dests {
            if d.weight == 0 {
                continue;
            }
            let justified = v.reals.iter().any(|r| {
                if dest_addr(&v.key, r.addr, r.forward) != *addr {
                    return false;
                }
                let key = RealKey {
                    service: v.key,
                    real: r.addr,
                };
                if v.checktype == CheckType::Off || know.in_maintenance(&key) {
                    return false;
                }
                match (v.checktype, know.health(&key)) {
                    (CheckType::On, _) | (_, Health::Up) => true,
                    (_, Health::Unknown) => before
                        .services
                        .get(&v.key)
                        .and_then(|b| b.dests.get(addr))
                        .is_some_and(|b| b.weight == d.weight),
                    _ => false,
                }
            }) || v
                .fallback
                .as_ref()
                .is_some_and(|fb| dest_addr(&v.key, fb.addr, fb.forward) == *addr && !real_serving);
            if !justified {
                return Err(format!(
                    "{} has {addr} at weight {} without a reason",
                    v.key, d.weight
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reconcile_converges_spares_foreign_services_and_weighs_only_checked_reals(s in scenario()) {
        let Some((c, know, before)) = setup(&s) else { return Ok(()) };
        let shared = c.virtuals.iter().any(|v| {
            let mut seen = BTreeSet::new();
            v.reals.iter().any(|r| !seen.insert(dest_addr(&v.key, r.addr, r.forward)))
        });
        let mut d = director_after_history(&c, &know, &before);
        for _ in 0..if shared { 3 } else { 1 } {
            let report = d.reconcile(&know.facts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(report.failed.is_empty(), "refused: {:?}", report.failed);
            check_weights(&c, &know, &before, &d.kernel().table).map_err(TestCaseError::fail)?;
        }
        let after = d.kernel().table.clone();
        prop_assert_eq!(foreign_part(&after, &c), foreign_part(&before, &c));
        let want = desired(&c, &know.facts, d.placed(), &after);
        for (k, e) in &want.services {
            prop_assert_eq!(after.services.get(k), Some(e), "service {} not converged", k);
        }
        check_weights(&c, &know, &before, &after).map_err(TestCaseError::fail)?;
        let again = d.reconcile(&know.facts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(again.applied.is_empty(), "second pass changed {:?}", again.applied);

        // Someone edits lvsd's own services behind its back.
        let table = &mut d.kernel().table;
        for (vi, ri, op) in &s.edits {
            let Some(v) = c.virtuals.get(*vi) else { continue };
            match op {
                0 => { table.services.remove(&v.key); }
                1 => {
                    if let (Some(e), Some(r)) = (table.services.get_mut(&v.key), v.reals.get(*ri)) {
                        e.dests.remove(&dest_addr(&v.key, r.addr, r.forward));
                    }
                }
                _ => {
                    if let Some(e) = table.services.get_mut(&v.key) {
                        e.dests.insert(SocketAddr::from(([10, 7, 0, 1], 80)), Dest::new(Forward::Masq, 5));
                    }
                }
            }
        }
        let edited = d.kernel().table.clone();
        for _ in 0..if shared { 3 } else { 1 } {
            d.reconcile(&know.facts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let healed = d.kernel().table.clone();
        prop_assert_eq!(foreign_part(&healed, &c), foreign_part(&before, &c));
        let want = desired(&c, &know.facts, d.placed(), &healed);
        for (k, e) in &want.services {
            prop_assert_eq!(healed.services.get(k), Some(e), "service {} not healed", k);
        }
        check_weights(&c, &know, &edited, &healed).map_err(TestCaseError::fail)?;
        let last = d.reconcile(&know.facts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(last.applied.is_empty(), "pass after healing changed {:?}", last.applied);
    }
}
