//! Checks ldirectord leaves to ipvsadm or to run time, done at load instead
//! so that `lvsd check` catches them: invalid regexes, scheduler flags
//! ipvsadm would refuse, services lvsd cannot check, duplicates.

use std::collections::HashMap;

use super::build::VirtualDraft;
use super::diag::Diagnostics;
use super::model::{CheckService, Config, Global, Netmask, Virtual};
use super::values;
use crate::ipvs::table::svc_flags;
use crate::ipvs::{Family, Protocol, ServiceKey};

/// The `IP_VS_SVC_F_SCHED*` bits of a `schedflags` value, as ipvsadm's
/// `-b` parses it (`sh-*` only with sh, `mh-*` only with mh).
pub fn sched_flag_bits(scheduler: &str, flags: &str) -> Result<u32, String> {
    let mut bits = 0;
    for flag in flags.split(',').filter(|f| !f.is_empty()) {
        let (bit, needs) = match flag {
            "flag-1" => (svc_flags::SCHED1, None),
            "flag-2" => (svc_flags::SCHED2, None),
            "flag-3" => (svc_flags::SCHED3, None),
            "sh-fallback" => (svc_flags::SCHED1, Some("sh")),
            "sh-port" => (svc_flags::SCHED2, Some("sh")),
            "mh-fallback" => (svc_flags::SCHED1, Some("mh")),
            "mh-port" => (svc_flags::SCHED2, Some("mh")),
            _ => return Err(format!("invalid scheduler flag `{flag}'")),
        };
        if let Some(s) = needs {
            if s != scheduler {
                return Err(format!(
                    "incompatible scheduler flag `{flag}' (it needs scheduler {s})"
                ));
            }
        }
        bits |= bit;
    }
    if bits == 0 {
        return Err(format!("invalid scheduler flag `{flags}'"));
    }
    Ok(bits)
}

/// Per-virtual rules, after resolution.
pub fn virtual_rules(
    v: &Virtual,
    d: &VirtualDraft,
    g: &Global,
    rx_memo: &mut values::RegexMemo,
    diags: &mut Diagnostics,
) {
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
    if let Some(r) = &d.receive {
        if let Err(m) = rx_memo.check(&r.value) {
            diags.error(r.line, m);
        }
    }
    if let Some(s) = &d.schedflags {
        if let Err(m) = sched_flag_bits(&v.scheduler, &s.value) {
            diags.error(s.line, m);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_flags_like_ipvsadm() {
        assert_eq!(sched_flag_bits("sh", "sh-port"), Ok(svc_flags::SCHED2));
        assert_eq!(
            sched_flag_bits("mh", "mh-fallback,mh-port"),
            Ok(svc_flags::SCHED1 | svc_flags::SCHED2)
        );
        assert_eq!(sched_flag_bits("wrr", "flag-3"), Ok(svc_flags::SCHED3));
        assert!(sched_flag_bits("wrr", "sh-port").is_err());
        assert!(sched_flag_bits("sh", "bogus").is_err());
    }
}
