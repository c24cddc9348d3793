//! `lvsd convert`: a [`Config`] as TOML. Only what differs from what the
//! loader would derive by itself is written, so the output stays short and
//! reads back into the same model.

use std::fmt::Write as _;

use crate::config::model::{
    CheckService, CheckType, Config, Global, HttpMethod, LogTarget, Netmask, Overrides, Real,
    Virtual,
};
use crate::config::values::forward_name;
use crate::config::{addr, httpcheck};
use crate::lvs::{Family, Protocol, ServiceKey};
use crate::lvs::{TunnelCsum, TunnelType};

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Collects `key = value` lines.
struct Out {
    text: String,
}

impl Out {
    fn raw(&mut self, key: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.text, "{key} = {value}");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.raw(key, q(value));
    }

    fn opt_str(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    fn opt_num(&mut self, key: &str, value: Option<u32>) {
        if let Some(v) = value {
            self.raw(key, v);
        }
    }

    fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.raw(key, v);
        }
    }
}

/// The TOML text of a configuration.
pub fn to_toml(c: &Config) -> String {
    let mut out = Out {
        text: String::from("# Converted by lvsd convert.\n\n"),
    };
    global(&mut out, &c.global);
    for v in &c.virtuals {
        out.text.push_str("\n[[virtual]]\n");
        virtual_(&mut out, v);
    }
    out.text
}

fn global(out: &mut Out, g: &Global) {
    let d = Global::default();
    out.opt_num("checktimeout", g.checktimeout);
    out.opt_num("negotiatetimeout", g.negotiatetimeout);
    let nums = [
        ("checkinterval", g.checkinterval, d.checkinterval),
        ("checkcount", g.checkcount, d.checkcount),
        ("failurecount", g.failurecount, d.failurecount),
        ("emailalertfreq", g.emailalertfreq, d.emailalertfreq),
    ];
    for (k, v, def) in nums {
        if v != def {
            out.raw(k, v);
        }
    }
    let bools = [
        ("autoreload", g.autoreload, d.autoreload),
        ("fork", g.fork, d.fork),
        ("supervised", g.supervised, d.supervised),
        ("quiescent", g.quiescent, d.quiescent),
        ("readdquiescent", g.readdquiescent, d.readdquiescent),
        ("cleanstop", g.cleanstop, d.cleanstop),
    ];
    for (k, v, def) in bools {
        // quiescent is always written: its default is a known trap.
        if v != def || k == "quiescent" {
            out.raw(k, v);
        }
    }
    out.opt_str("callback", &g.callback);
    if let Some(f) = &g.fallback {
        out.str("fallback", &f.written);
    }
    if let Some(f) = &g.fallback6 {
        out.str("fallback6", &f.written);
    }
    out.opt_str("fallbackcommand", &g.fallbackcommand);
    if g.logfile != d.logfile {
        match &g.logfile {
            LogTarget::File(p) => out.str("logfile", &p.to_string_lossy()),
            LogTarget::Syslog(f) => out.str("logfile", f),
        }
    }
    out.opt_str("emailalert", &g.emailalert);
    out.opt_str("emailalertfrom", &g.emailalertfrom);
    if g.emailalertstatus != d.emailalertstatus {
        out.str("emailalertstatus", &g.emailalertstatus.to_text());
    }
    out.opt_str("smtp", &g.smtp);
    if !g.execute.is_empty() {
        let list: Vec<String> = g.execute.iter().map(|e| q(e)).collect();
        out.raw("execute", format!("[{}]", list.join(", ")));
    }
    if let Some(m) = &g.maintenancedir {
        out.str("maintenancedir", &m.to_string_lossy());
    }
    if let Some(a) = &g.metrics {
        out.str("metrics", &a.to_string());
    }
    sync(out, &g.sync);
}

fn sync(out: &mut Out, s: &crate::config::model::Sync) {
    if s.enabled() {
        out.str("syncdaemon", s.role.name());
    }
    out.opt_str("syncinterface", &s.interface);
    if s.syncid != 0 {
        out.raw("syncid", s.syncid);
    }
    out.opt_num("syncmaxlen", s.maxlen.map(u32::from));
    if let Some(g) = s.group {
        out.str("syncgroup", &g.to_string());
    }
    out.opt_num("syncport", s.port.map(u32::from));
    out.opt_num("syncttl", s.ttl.map(u32::from));
    if let Some(t) = s.timeouts {
        out.str(
            "ipvstimeouts",
            &format!("{} {} {}", t.tcp, t.tcp_fin, t.udp),
        );
    }
}

fn virtual_(out: &mut Out, v: &Virtual) {
    let family = v.family();
    match v.key {
        ServiceKey::FwMark { mark, .. } => out.raw("fwmark", mark),
        ServiceKey::Inet { protocol, .. } => {
            out.str("address", &v.written);
            let default_udp = addr::parse_virtual(&v.written, family).is_ok_and(|p| p.default_udp);
            let default = if default_udp {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            if protocol != default {
                let name = match protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                    Protocol::Sctp => "sctp",
                };
                out.str("protocol", name);
            }
        }
    }
    if family == Family::Inet6 && !v.written.starts_with('[') {
        out.raw("ipv6", true);
    }
    if v.scheduler != "wrr" {
        out.str("scheduler", &v.scheduler);
    }
    out.opt_num("persistent", v.persistent);
    match v.netmask {
        Some(Netmask::V4(m)) => out.str("netmask", &m.to_string()),
        Some(Netmask::V6Prefix(p)) => out.raw("netmask", p),
        None => {}
    }
    if v.ops {
        out.raw("ops", true);
    }
    out.opt_str("schedflags", &v.schedflags.as_ref().map(|f| f.to_string()));
    if let Some(pe) = v.pe {
        out.str("pe", pe.name());
    }
    match v.checktype {
        CheckType::Negotiate => {}
        CheckType::Combined(n) => out.raw("checktype", n),
        other => out.str("checktype", &other.name()),
    }
    let default_service = match v.key {
        ServiceKey::FwMark { .. } => CheckService::None,
        ServiceKey::Inet { addr, .. } => CheckService::for_port(addr.port()),
    };
    if v.service != default_service {
        out.str("service", v.service.name());
    }
    if v.checkcommand != "/bin/true" {
        out.str("checkcommand", &v.checkcommand);
    }
    out.opt_num("checkport", v.checkport.map(u32::from));
    if v.request != "/" {
        out.str("request", &v.request);
    }
    if let Some(r) = &v.receive {
        out.str("receive", r.source());
    }
    if v.httpmethod == HttpMethod::Head {
        out.str("httpmethod", "HEAD");
    }
    out.opt_str("virtualhost", &v.virtualhost);
    let h = &v.httpcheck;
    if h.verify_tls {
        out.opt_bool("verifytls", Some(true));
    }
    if let Some(p) = &h.tls_ca_file {
        out.str("tlscafile", &p.display().to_string());
    }
    out.opt_str("tlsname", &h.tls_name);
    if !h.expect_status.is_empty() {
        out.str("expectstatus", &httpcheck::show_status(&h.expect_status));
    }
    for (k, val) in [
        ("login", &v.login),
        ("passwd", &v.passwd),
        ("database", &v.database),
        ("secret", &v.secret),
    ] {
        if !val.is_empty() {
            out.str(k, val);
        }
    }
    out.opt_str("load", &v.load);
    out.opt_str("monitorfile", &v.monitorfile);
    out.opt_str("servicename", &v.servicename);
    out.opt_str("comment", &v.comment);
    overrides(out, &v.overrides);
    let mut i = 0;
    while i < v.reals.len() {
        let r = &v.reals[i];
        out.text.push_str("\n[[virtual.real]]\n");
        real(out, r);
        // Reals expanded from one range line are written once.
        while i < v.reals.len() && v.reals[i].line == r.line && v.reals[i].written == r.written {
            i += 1;
        }
    }
}

fn overrides(out: &mut Out, o: &Overrides) {
    out.opt_num("checktimeout", o.checktimeout);
    out.opt_num("negotiatetimeout", o.negotiatetimeout);
    out.opt_num("checkcount", o.checkcount);
    out.opt_num("failurecount", o.failurecount);
    out.opt_num("checkinterval", o.checkinterval);
    out.opt_bool("quiescent", o.quiescent);
    out.opt_bool("cleanstop", o.cleanstop);
    out.opt_str("emailalert", &o.emailalert);
    out.opt_num("emailalertfreq", o.emailalertfreq);
    if let Some(s) = o.emailalertstatus {
        out.str("emailalertstatus", &s.to_text());
    }
    out.opt_str("smtp", &o.smtp);
    out.opt_str("fallbackcommand", &o.fallbackcommand);
    out.opt_str("fallback", &o.fallback);
}

fn real(out: &mut Out, r: &Real) {
    out.str("address", &r.written);
    out.str("forward", forward_name(r.forward));
    if r.weight != 1 {
        out.raw("weight", r.weight);
    }
    if let Some(q) = &r.request {
        // The pair goes together; an empty receive is no pattern.
        out.str("request", q);
        out.str("receive", r.receive.as_ref().map_or("", |p| p.source()));
    }
    if r.lower_threshold != 0 {
        out.raw("lower_threshold", r.lower_threshold);
    }
    if r.upper_threshold != 0 {
        out.raw("upper_threshold", r.upper_threshold);
    }
    if let Some(t) = r.tunnel {
        out.str("tuntype", t.kind.name());
        if let TunnelType::Gue { port } = t.kind {
            out.raw("tunport", port);
        }
        if t.csum != TunnelCsum::NoCsum {
            out.str("tuncsum", t.csum.name());
        }
    }
}
