//! The decoder against bytes the real kernel sent (captured in the IPVS VM by
//! integration/tests/ipvs_fixtures.rs): they decode to exactly the table
//! that was programmed, and the known traps hold on real bytes.

use std::collections::BTreeMap;

use lvsd::ipvs::attr::{AttrWriter, Attrs};
use lvsd::ipvs::change::apply_to;
use lvsd::ipvs::decode::{decode_dest, decode_info, decode_service, decode_timeouts};
use lvsd::ipvs::{rules, Family, ServiceEntry, Table};

const REPLIES: &str = include_str!("fixtures/ipvs/replies.hex");
const RULES: &str = include_str!("fixtures/ipvs/table.rules");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// (service reply, its destination replies)
fn services() -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    REPLIES
        .lines()
        .filter_map(|l| l.strip_prefix("service "))
        .map(|l| {
            let mut parts = l.split(' ');
            let svc = unhex(parts.next().expect("service bytes"));
            (svc, parts.filter(|p| !p.is_empty()).map(unhex).collect())
        })
        .collect()
}

fn one(kind: &str) -> Vec<u8> {
    let prefix = format!("{kind} ");
    unhex(
        REPLIES
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .expect("line present"),
    )
}

#[test]
fn kernel_replies_decode_to_the_programmed_table() {
    let mut want = Table::new();
    for c in rules::parse(RULES).unwrap() {
        apply_to(&mut want, &c).unwrap();
    }
    let mut got = Table::new();
    for (svc, dests) in services() {
        let (key, service, stats) = decode_service(&svc).unwrap();
        assert_eq!(stats.conns, 0);
        let mut entry = ServiceEntry::new(service);
        for d in dests {
            let (addr, dest, counters) = decode_dest(&d, key.family()).unwrap();
            assert_eq!(counters.active_conns, 0);
            entry.dests.insert(addr, dest);
        }
        got.services.insert(key, entry);
    }
    assert_eq!(got, want);
}

#[test]
fn info_and_timeouts_decode() {
    let info = decode_info(&one("info")).unwrap();
    assert_eq!(info.version_triple(), (1, 2, 1));
    assert_eq!(info.conn_tab_size, 4096);
    let t = decode_timeouts(&one("config")).unwrap();
    assert_eq!((t.tcp, t.tcp_fin, t.udp), (900, 120, 300));
}

#[test]
fn the_kernel_sends_nests_without_nla_f_nested() {
    for (svc, dests) in services() {
        for msg in std::iter::once(&svc).chain(&dests) {
            let first = Attrs::new(msg).next().unwrap().unwrap();
            let raw_type = u16::from_ne_bytes([msg[2], msg[3]]);
            assert_eq!(raw_type & 0x8000, 0, "NLA_F_NESTED is not set");
            assert!(first.kind == 1 || first.kind == 2);
        }
    }
}

/// Rebuilds a one-nest message with `edit` applied to the nest's attributes.
fn edit_nest(msg: &[u8], edit: impl Fn(u16, &[u8], &mut AttrWriter)) -> Vec<u8> {
    let top = Attrs::new(msg).next().unwrap().unwrap();
    let mut w = AttrWriter::new();
    w.nest(top.kind, |n| {
        for a in top.nested() {
            let a = a.unwrap();
            edit(a.kind, a.payload, n);
        }
    });
    w.finish()
}

#[test]
fn unknown_attributes_are_skipped() {
    for (svc, dests) in services() {
        let (key, s, _) = decode_service(&svc).unwrap();
        let with_unknown = edit_nest(&svc, |k, p, n| {
            n.bytes(k, p);
            if k == 1 {
                n.bytes(15, &[1, 2, 3]);
            }
        });
        // And a first-level attribute no kernel sends.
        let mut extended = with_unknown;
        let mut w = AttrWriter::new();
        w.u32(60, 7);
        extended.extend_from_slice(&w.finish());
        let (key2, s2, _) = decode_service(&extended).unwrap();
        assert_eq!((key2, s2), (key, s));
        for d in dests {
            let plain = decode_dest(&d, key.family()).unwrap();
            let more = edit_nest(&d, |k, p, n| {
                n.bytes(k, p);
                n.bytes(40 + k, p);
            });
            assert_eq!(decode_dest(&more, key.family()).unwrap(), plain);
        }
    }
}

#[test]
fn a_destination_without_address_family_takes_its_services() {
    let mut seen = BTreeMap::new();
    for (svc, dests) in services() {
        let (key, _, _) = decode_service(&svc).unwrap();
        for d in dests {
            let (addr, dest, _) = decode_dest(&d, key.family()).unwrap();
            // Kernels before 3.18 send no IPVS_DEST_ATTR_ADDR_FAMILY (11).
            let old = edit_nest(&d, |k, p, n| {
                if k != 11 {
                    n.bytes(k, p);
                }
            });
            let fam = Family::of(&addr.ip());
            let (addr2, dest2, _) = decode_dest(&old, fam).unwrap();
            assert_eq!((addr2, dest2), (addr, dest.clone()));
            seen.insert(fam, ());
            if fam == Family::Inet6 && key.family() == Family::Inet {
                // The trap: read in the service's family, an IPv6 real
                // server of an IPv4 service would become an IPv4 address.
                let (wrong, _, _) = decode_dest(&old, Family::Inet).unwrap();
                assert!(wrong.is_ipv4());
            }
        }
    }
    assert_eq!(seen.len(), 2, "both families are in the fixture");
}

#[test]
fn every_truncation_of_a_real_reply_is_an_error_or_a_value_never_a_panic() {
    for (svc, dests) in services() {
        for msg in std::iter::once(&svc).chain(&dests) {
            for n in 0..msg.len() {
                let _ = decode_service(&msg[..n]);
                let _ = decode_dest(&msg[..n], Family::Inet);
                let _ = decode_dest(&msg[..n], Family::Inet6);
            }
        }
    }
}

/// `lvsd list` renders service by service (never holding the table); on the
/// kernel's own bytes that must print exactly what rendering the whole
/// snapshot prints, for every column set.
#[test]
fn a_listing_one_service_at_a_time_equals_the_whole_table_listing() {
    use lvsd::ipvs::list::{
        listing_order, render_head, render_list, render_service, Columns, ListOptions,
    };
    use lvsd::ipvs::names::Numeric;
    use lvsd::ipvs::save::{render_service_save, render_snapshot_save};
    use lvsd::ipvs::snapshot::ServiceDump;
    use lvsd::ipvs::Snapshot;

    let info = decode_info(&one("info")).unwrap();
    let mut whole = Snapshot {
        info,
        ..Snapshot::default()
    };
    let mut parts = BTreeMap::new();
    let mut kernel_order = Vec::new();
    for (svc, dests) in services() {
        let (key, service, stats) = decode_service(&svc).unwrap();
        let dests: Vec<_> = dests
            .iter()
            .map(|d| decode_dest(d, key.family()).unwrap())
            .collect();
        whole
            .insert(key, service.clone(), stats, dests.clone())
            .unwrap();
        parts.insert(
            key,
            ServiceDump {
                key,
                service,
                stats,
                dests,
            },
        );
        kernel_order.push(key);
    }
    assert_eq!(
        parts.len(),
        4,
        "the fixture's four services (tcp, udp6, fwmark6, sctp)"
    );
    for columns in [
        Columns::Default,
        Columns::Stats,
        Columns::Rate,
        Columns::Thresholds,
        Columns::PersistentConn,
        Columns::TunInfo,
    ] {
        let o = ListOptions {
            columns,
            exact: false,
            header: true,
            sort: true,
        };
        let mut streamed = String::new();
        render_head(&mut streamed, &info, &o);
        for i in listing_order(&kernel_order) {
            render_service(&mut streamed, &parts[&kernel_order[i]], &o, &Numeric);
        }
        assert_eq!(streamed, render_list(&whole, &o, &Numeric), "{columns:?}");
    }
    let mut streamed = String::new();
    for i in listing_order(&kernel_order) {
        render_service_save(&mut streamed, &parts[&kernel_order[i]], &Numeric);
    }
    assert_eq!(streamed, render_snapshot_save(&whole, &Numeric), "save");
}
