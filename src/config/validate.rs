//! Checks ldirectord leaves to ipvsadm or to run time, done at load instead
//! so that `lvsd check` catches them: invalid regexes, scheduler flags
//! ipvsadm would refuse, services lvsd cannot check, duplicates.

use std::collections::HashMap;

use super::diag::Diagnostics;
use super::draft::VirtualDraft;
use super::model::{CheckService, Config, Global, Netmask, Virtual};
use crate::lvs::{Family, Protocol, ServiceKey};

/// Per-virtual rules, after resolution.
pub fn virtual_rules(v: &Virtual, d: &VirtualDraft, g: &Global, diags: &mut Diagnostics) {
    if let Some(s) = &d.service {
        if s.value == CheckService::Oracle {
            diags.error(
                s.line,
                "service=oracle: lvsd cannot check Oracle databases (no driver); \
                 use checktype=connect or an external check",
            );
        }
    }
    if d.service.is_none() && v.service == CheckService::Oracle && uses_negotiate(v) {
        diags.error(
            v.line,
            "port 1521 implies service=oracle, which lvsd cannot check; \
             set service= or checktype= explicitly",
        );
    }
    if let Some(s) = d.service.as_ref().filter(|s| s.value != CheckService::None) {
        // Every negotiate checker is a TCP (or UDP) client: on an SCTP
        // virtual it would test some other service than the one balanced.
        if v.protocol() == Some(Protocol::Sctp) && uses_negotiate(v) {
            diags.error(
                s.line,
                "negotiate checks do not speak SCTP; use checktype=connect (an SCTP \
                 association) or an external check on an sctp virtual service",
            );
        }
    }
    shared_destinations(v, diags);
    if let Some(s) = &d.schedflags {
        // ipvsadm's check: `sh-*` only with sh, `mh-*` only with mh.
        if let Some((flag, needs)) = s.value.mismatch(&v.scheduler) {
            diags.error(
                s.line,
                format!(
                    "incompatible scheduler flag `{}' (it needs scheduler {needs})",
                    flag.name()
                ),
            );
        }
    }
    if let Some(pe) = &d.pe {
        super::tunnel::check_pe(pe, v.persistent.is_some(), v.protocol(), diags);
    }
    if let Some(p) = &d.persistent {
        if p.value == 0 {
            diags.error(p.line, "persistent timeout must be at least 1 second");
        }
    }
    if let Some(n) = &d.netmask {
        if d.persistent.is_none() {
            diags.warn(
                n.line,
                "netmask is ignored without persistent, as in ldirectord",
            );
        }
        let ok = matches!(
            (n.value, v.family()),
            (Netmask::V4(_), Family::Inet) | (Netmask::V6Prefix(_), Family::Inet6)
        );
        if !ok {
            diags.error(
                n.line,
                "netmask does not match the address family of the virtual",
            );
        }
    }
    if let Some(o) = &d.ops {
        if o.value && v.protocol() != Some(Protocol::Udp) {
            diags.warn(
                o.line,
                "ops=yes is ignored: ldirectord passes -o only for udp virtual services",
            );
        }
    }
    if let ServiceKey::Inet { addr, .. } = v.key {
        if addr.port() == 0 && v.persistent.is_none() {
            diags.error(
                v.line,
                "port 0 is only allowed for a persistent service (ipvsadm refuses it)",
            );
        }
    }
    if v.overrides.checkinterval.is_some() && !g.fork {
        diags.warn(
            v.line,
            "checkinterval in a virtual service is ignored when fork=no, as in ldirectord",
        );
    }
    if v.reals.is_empty() && v.fallback.is_none() {
        diags.warn(v.line, "virtual service has no real servers");
    }
}

fn uses_negotiate(v: &Virtual) -> bool {
    use super::model::CheckType;
    matches!(v.checktype, CheckType::Negotiate | CheckType::Combined(_))
}

/// Two lines of one virtual that name one kernel destination (the same
/// address, or gate/ipip reals whose ports differ but take the virtual's):
/// ldirectord programs one of them, which one depends on the table, and
/// the other's health is lost.
pub fn shared_destinations(v: &Virtual, diags: &mut Diagnostics) {
    let mut seen: HashMap<std::net::SocketAddr, usize> = HashMap::new();
    for r in &v.reals {
        let kernel = v.key.kernel_dest(r.addr, r.forward);
        match seen.get(&kernel) {
            Some(first) => diags.warn(
                r.line,
                format!(
                    "real server {} is kernel destination {kernel}, as is the one at line \
                     {first}: only one of them is programmed",
                    r.written
                ),
            ),
            None => {
                seen.insert(kernel, r.line);
            }
        }
    }
}

/// Rules across virtuals: duplicate services.
pub fn config_rules(c: &Config, diags: &mut Diagnostics) {
    let mut seen: HashMap<ServiceKey, usize> = HashMap::new();
    for v in &c.virtuals {
        if let Some(first) = seen.insert(v.key, v.line) {
            diags.error(
                v.line,
                format!("duplicate virtual server {} (first at line {first})", v.key),
            );
            seen.insert(v.key, first);
        }
    }
}

/// The quiescent trap: warn once when a virtual relies on the default.
pub fn quiescent_default(c: &Config, global_written: bool, diags: &mut Diagnostics) {
    if global_written {
        return;
    }
    if let Some(v) = c.virtuals.iter().find(|v| v.overrides.quiescent.is_none()) {
        diags.warn(
            v.line,
            "quiescent is not set: ldirectord's code default is no (its manual says yes), so \
             failed real servers are removed rather than set to weight 0; set quiescent= \
             explicitly",
        );
    }
}
