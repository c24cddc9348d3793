//! `lvsd list --json`: the snapshot as JSON for scripts (ipvsadm has no such
//! output). Services and real servers come in ipvsadm's order; every number
//! is exact.

use serde_json::{json, Map, Value};

use super::list::forward_name;
use super::order::{sorted_dests, sorted_services};
use super::save::sched_flag_names;
use crate::ipvs::snapshot::{Snapshot, Stats};
use crate::ipvs::table::{svc_flags, Family, ServiceKey, TunnelCsum, TunnelType};

fn stats(s: &Stats) -> Value {
    json!({
        "conns": s.conns, "inpkts": s.inpkts, "outpkts": s.outpkts,
        "inbytes": s.inbytes, "outbytes": s.outbytes,
        "cps": s.cps, "inpps": s.inpps, "outpps": s.outpps,
        "inbps": s.inbps, "outbps": s.outbps,
    })
}

fn family(f: Family) -> &'static str {
    match f {
        Family::Inet => "inet",
        Family::Inet6 => "inet6",
    }
}

fn key(k: &ServiceKey) -> Map<String, Value> {
    let mut m = Map::new();
    match k {
        ServiceKey::Inet { protocol, addr } => {
            m.insert(
                "protocol".into(),
                json!(format!("{protocol:?}").to_lowercase()),
            );
            m.insert("address".into(), json!(addr.ip().to_string()));
            m.insert("port".into(), json!(addr.port()));
        }
        ServiceKey::FwMark { mark, .. } => {
            m.insert("fwmark".into(), json!(mark));
        }
    }
    m.insert("family".into(), json!(family(k.family())));
    m
}

/// The snapshot as one JSON document.
pub fn render_json(snap: &Snapshot) -> Value {
    let (a, b, c) = snap.info.version_triple();
    let services: Vec<Value> = sorted_services(snap.kernel_order())
        .into_iter()
        .map(|k| {
            let e = &snap.table.services[k];
            let s = &e.service;
            let mut m = key(k);
            m.insert("scheduler".into(), json!(s.scheduler));
            let flags = sched_flag_names(s);
            m.insert(
                "sched_flags".into(),
                json!(flags
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()),
            );
            m.insert(
                "persistent".into(),
                if s.is_persistent() {
                    json!(s.timeout)
                } else {
                    Value::Null
                },
            );
            m.insert("netmask".into(), json!(s.netmask));
            m.insert(
                "one_packet".into(),
                json!(s.flags & svc_flags::ONEPACKET != 0),
            );
            m.insert("pe".into(), json!(s.pe_name));
            m.insert("stats".into(), stats(&snap.service_stats(k)));
            let dests: Vec<Value> = sorted_dests(snap.kernel_dest_order(k))
                .into_iter()
                .map(|addr| {
                    let d = &e.dests[addr];
                    let cnt = snap.dest_counters(k, addr);
                    let tunnel = d.tunnel.map(|t| {
                        let (kind, port) = match t.kind {
                            TunnelType::Ipip => ("ipip", None),
                            TunnelType::Gue { port } => ("gue", Some(port)),
                            TunnelType::Gre => ("gre", None),
                        };
                        let csum = match t.csum {
                            TunnelCsum::NoCsum => "nocsum",
                            TunnelCsum::Csum => "csum",
                            TunnelCsum::RemCsum => "remcsum",
                        };
                        json!({"type": kind, "port": port, "csum": csum})
                    });
                    json!({
                        "address": addr.ip().to_string(),
                        "port": addr.port(),
                        "forward": forward_name(d.forward).to_lowercase(),
                        "weight": d.weight,
                        "upper_threshold": d.upper_threshold,
                        "lower_threshold": d.lower_threshold,
                        "tunnel": tunnel,
                        "active_conns": cnt.active_conns,
                        "inactive_conns": cnt.inact_conns,
                        "persistent_conns": cnt.persist_conns,
                        "stats": stats(&cnt.stats),
                    })
                })
                .collect();
            m.insert("dests".into(), Value::Array(dests));
            Value::Object(m)
        })
        .collect();
    json!({
        "version": format!("{a}.{b}.{c}"),
        "conn_tab_size": snap.info.conn_tab_size,
        "services": services,
    })
}
