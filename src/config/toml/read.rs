//! Reading the TOML format into the same drafts the .cf parser fills, so
//! both formats share every default and every check.

use serde::Deserialize;
use toml::Spanned;

use super::real::{read_real, TReal};
use super::Lines;
use crate::config::build;
use crate::config::cf::{block, global};
use crate::config::diag::Diagnostics;
use crate::config::draft::{at, At, VirtualDraft};
use crate::config::model::{Config, Global};
use crate::config::resolve::Resolver;
use crate::config::{addr, httpcheck, tunnel, validate, values};
use crate::lvs::Family;

type S<T> = Spanned<T>;

/// `checktype = "connect"` or `checktype = 3`; `netmask` likewise.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StrOrInt {
    Int(u32),
    Str(String),
}

impl StrOrInt {
    fn text(&self) -> String {
        match self {
            StrOrInt::Int(n) => n.to_string(),
            StrOrInt::Str(s) => s.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    checktimeout: Option<S<u32>>,
    negotiatetimeout: Option<S<u32>>,
    checkinterval: Option<S<u32>>,
    checkcount: Option<S<u32>>,
    failurecount: Option<S<u32>>,
    autoreload: Option<bool>,
    callback: Option<String>,
    fallback: Option<S<String>>,
    fallback6: Option<S<String>>,
    fallbackcommand: Option<S<String>>,
    logfile: Option<S<String>>,
    emailalert: Option<S<String>>,
    emailalertfrom: Option<S<String>>,
    emailalertfreq: Option<u32>,
    emailalertstatus: Option<S<String>>,
    smtp: Option<S<String>>,
    #[serde(default)]
    execute: Vec<String>,
    fork: Option<bool>,
    supervised: Option<bool>,
    quiescent: Option<bool>,
    readdquiescent: Option<bool>,
    cleanstop: Option<bool>,
    maintenancedir: Option<S<String>>,
    metrics: Option<S<StrOrInt>>,
    syncdaemon: Option<S<StrOrInt>>,
    syncinterface: Option<S<StrOrInt>>,
    syncid: Option<S<StrOrInt>>,
    syncmaxlen: Option<S<StrOrInt>>,
    syncgroup: Option<S<StrOrInt>>,
    syncport: Option<S<StrOrInt>>,
    syncttl: Option<S<StrOrInt>>,
    ipvstimeouts: Option<S<StrOrInt>>,
    #[serde(rename = "virtual", default)]
    virtuals: Vec<S<TVirtual>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TVirtual {
    address: Option<S<String>>,
    fwmark: Option<S<u32>>,
    #[serde(default)]
    ipv6: bool,
    protocol: Option<S<String>>,
    scheduler: Option<S<String>>,
    persistent: Option<S<u32>>,
    netmask: Option<S<StrOrInt>>,
    ops: Option<S<bool>>,
    schedflags: Option<S<String>>,
    pe: Option<S<String>>,
    checktype: Option<S<StrOrInt>>,
    service: Option<S<String>>,
    checkcommand: Option<S<String>>,
    checkport: Option<S<u32>>,
    request: Option<S<String>>,
    receive: Option<S<String>>,
    httpmethod: Option<S<String>>,
    virtualhost: Option<String>,
    verifytls: Option<S<bool>>,
    tlscafile: Option<S<String>>,
    tlsname: Option<S<String>>,
    expectstatus: Option<S<String>>,
    login: Option<S<String>>,
    passwd: Option<S<String>>,
    database: Option<S<String>>,
    secret: Option<S<String>>,
    load: Option<S<String>>,
    checktimeout: Option<S<u32>>,
    negotiatetimeout: Option<S<u32>>,
    checkcount: Option<S<u32>>,
    failurecount: Option<S<u32>>,
    checkinterval: Option<S<u32>>,
    quiescent: Option<bool>,
    cleanstop: Option<bool>,
    emailalert: Option<S<String>>,
    emailalertfreq: Option<u32>,
    emailalertstatus: Option<S<String>>,
    smtp: Option<S<String>>,
    fallback: Option<S<String>>,
    fallbackcommand: Option<S<String>>,
    monitorfile: Option<String>,
    servicename: Option<String>,
    comment: Option<String>,
    #[serde(default)]
    real: Vec<S<TReal>>,
}

/// Reports `Err(message)` at the value's line, else passes the value on.
pub(super) fn check<T>(r: Result<T, String>, line: usize, diags: &mut Diagnostics) -> Option<T> {
    r.map_err(|m| diags.error(line, m)).ok()
}

fn positive(v: &Option<S<u32>>, what: &str, lines: &Lines, diags: &mut Diagnostics) -> Option<u32> {
    let v = v.as_ref()?;
    let line = lines.of(v);
    if *v.get_ref() == 0 {
        diags.error(line, format!("{what} must be greater than 0"));
        return None;
    }
    Some(*v.get_ref())
}

fn nonempty(
    v: &Option<S<String>>,
    what: &str,
    lines: &Lines,
    diags: &mut Diagnostics,
) -> Option<String> {
    let v = v.as_ref()?;
    if v.get_ref().is_empty() {
        diags.error(lines.of(v), format!("{what} must not be empty"));
        return None;
    }
    Some(v.get_ref().clone())
}

pub fn parse(text: &str, r: &dyn Resolver, diags: &mut Diagnostics) -> Config {
    let lines = Lines::new(text);
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map_or(0, |s| lines.at(s.start));
            diags.error(line, e.message().trim().to_string());
            return Config {
                global: Global::default(),
                virtuals: Vec::new(),
            };
        }
    };
    let global = read_global(&file, &lines, r, diags);
    let mut rx_memo = values::RegexMemo::default();
    let virtuals = file
        .virtuals
        .iter()
        .filter_map(|v| {
            let d = read_virtual(v, &lines, diags)?;
            build::build_virtual(d, &global, r, &mut rx_memo, diags)
        })
        .collect();
    let config = Config { global, virtuals };
    validate::config_rules(&config, diags);
    crate::config::sync::validate(&config.global.sync, false, diags);
    validate::quiescent_default(&config, file.quiescent.is_some(), diags);
    config
}

fn read_global(f: &File, lines: &Lines, r: &dyn Resolver, diags: &mut Diagnostics) -> Global {
    let mut g = Global {
        checktimeout: positive(&f.checktimeout, "checktimeout", lines, diags),
        negotiatetimeout: positive(&f.negotiatetimeout, "negotiatetimeout", lines, diags),
        ..Global::default()
    };
    let d = Global::default();
    g.checkinterval =
        positive(&f.checkinterval, "checkinterval", lines, diags).unwrap_or(d.checkinterval);
    g.checkcount = positive(&f.checkcount, "checkcount", lines, diags).unwrap_or(d.checkcount);
    if let Some(c) = &f.checkcount {
        diags.warn(
            lines.of(c),
            "checkcount option is deprecated and slated for removal.  please see 'failurecount'",
        );
    }
    g.failurecount =
        positive(&f.failurecount, "failurecount", lines, diags).unwrap_or(d.failurecount);
    g.autoreload = f.autoreload.unwrap_or(d.autoreload);
    g.callback = f.callback.clone();
    for (v, family) in [(&f.fallback, Family::Inet), (&f.fallback6, Family::Inet6)] {
        if let Some(v) = v {
            let line = lines.of(v);
            let fb = check(global::fallback(v.get_ref(), family, line, r), line, diags);
            match family {
                Family::Inet => g.fallback = fb,
                Family::Inet6 => g.fallback6 = fb,
            }
        }
    }
    g.fallbackcommand = nonempty(&f.fallbackcommand, "fallbackcommand", lines, diags);
    if let Some(l) = nonempty(&f.logfile, "logfile", lines, diags) {
        g.logfile = global::logfile(&l);
    }
    if let Some(e) = &f.emailalert {
        g.emailalert = check(values::emailalert(e.get_ref()), lines.of(e), diags);
    }
    g.emailalertfrom = nonempty(&f.emailalertfrom, "emailalertfrom", lines, diags);
    g.emailalertfreq = f.emailalertfreq.unwrap_or(d.emailalertfreq);
    if let Some(s) = &f.emailalertstatus {
        if let Some(st) = check(values::emailalertstatus(s.get_ref()), lines.of(s), diags) {
            g.emailalertstatus = st;
        }
    }
    if let Some(s) = &f.smtp {
        g.smtp = check(values::smtp(s.get_ref()), lines.of(s), diags);
    }
    g.execute = f.execute.clone();
    g.fork = f.fork.unwrap_or(d.fork);
    g.supervised = f.supervised.unwrap_or(d.supervised);
    g.quiescent = f.quiescent.unwrap_or(d.quiescent);
    g.readdquiescent = f.readdquiescent.unwrap_or(d.readdquiescent);
    g.cleanstop = f.cleanstop.unwrap_or(d.cleanstop);
    g.maintenancedir = nonempty(&f.maintenancedir, "maintenancedir", lines, diags).map(Into::into);
    if let Some(m) = &f.metrics {
        g.metrics = check(values::metrics(&m.get_ref().text()), lines.of(m), diags);
    }
    let sync = [
        ("syncdaemon", &f.syncdaemon),
        ("syncinterface", &f.syncinterface),
        ("syncid", &f.syncid),
        ("syncmaxlen", &f.syncmaxlen),
        ("syncgroup", &f.syncgroup),
        ("syncport", &f.syncport),
        ("syncttl", &f.syncttl),
        ("ipvstimeouts", &f.ipvstimeouts),
    ];
    for (key, v) in sync {
        if let Some(v) = v {
            let line = lines.of(v);
            if let Some(Err(m)) =
                crate::config::sync::directive(&mut g.sync, key, &v.get_ref().text(), line)
            {
                diags.error(line, m);
            }
        }
    }
    g
}

fn read_virtual(sv: &S<TVirtual>, lines: &Lines, diags: &mut Diagnostics) -> Option<VirtualDraft> {
    let v = sv.get_ref();
    let line = lines.of(sv);
    let bracketed = v
        .address
        .as_ref()
        .is_some_and(|a| a.get_ref().starts_with('['));
    let family = if v.ipv6 || bracketed {
        Family::Inet6
    } else {
        Family::Inet
    };
    let text = match (&v.address, &v.fwmark) {
        (Some(a), None) => a.get_ref().clone(),
        (None, Some(m)) => m.get_ref().to_string(),
        _ => {
            diags.error(line, "a virtual needs exactly one of address or fwmark");
            return None;
        }
    };
    let parsed = check(addr::parse_virtual(&text, family), line, diags)?;
    if let Some(w) = &parsed.warning {
        diags.warn(line, w.clone());
    }
    if parsed.written != text {
        diags.error(line, format!("invalid virtual address {text:?}"));
        return None;
    }
    let mut d = VirtualDraft {
        family: Some(family),
        parsed: Some(parsed),
        line,
        ..VirtualDraft::default()
    };
    let l = |s: &dyn SpanOf| lines.at(s.start());
    macro_rules! text_of {
        ($f:expr, $parse:expr) => {
            $f.as_ref().and_then(|s| {
                let line = l(s);
                check($parse(s.get_ref()), line, diags).map(|v| At { value: v, line })
            })
        };
    }
    d.protocol = text_of!(v.protocol, block::protocol);
    d.scheduler = text_of!(v.scheduler, values::scheduler).map(|a| a.value);
    d.persistent = v.persistent.as_ref().and_then(|p| at(*p.get_ref(), l(p)));
    d.netmask = text_of!(v.netmask, |n: &StrOrInt| block::netmask(&n.text(), family));
    d.ops = v.ops.as_ref().and_then(|o| at(*o.get_ref(), l(o)));
    d.schedflags = text_of!(v.schedflags, values::schedflags);
    d.pe = text_of!(v.pe, |p: &str| tunnel::pe(p));
    d.checktype =
        text_of!(v.checktype, |c: &StrOrInt| values::checktype(&c.text())).map(|a| a.value);
    d.service = text_of!(v.service, values::service);
    d.checkcommand = nonempty(&v.checkcommand, "checkcommand", lines, diags);
    d.checkport = text_of!(v.checkport, |p: &u32| u16::try_from(*p)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| "checkport must be in range 1..65535".to_string()))
    .map(|a| a.value);
    d.request = nonempty(&v.request, "request", lines, diags).map(block::with_slash);
    d.receive = nonempty(&v.receive, "receive", lines, diags)
        .and_then(|r| at(r, v.receive.as_ref().map_or(line, |s| l(s))));
    d.httpmethod = text_of!(v.httpmethod, values::httpmethod).map(|a| a.value);
    d.virtualhost = v.virtualhost.clone();
    let h = &mut d.httpcheck;
    if let Some(b) = &v.verifytls {
        h.verifytls = at(*b.get_ref(), l(b));
    }
    for (key, s) in [
        ("tlscafile", &v.tlscafile),
        ("tlsname", &v.tlsname),
        ("expectstatus", &v.expectstatus),
    ] {
        if let Some(s) = s {
            let line = l(s);
            if let Some(Err(m)) = httpcheck::directive(h, key, s.get_ref(), line) {
                diags.error(line, m);
            }
        }
    }
    d.login = nonempty(&v.login, "login", lines, diags);
    d.passwd = nonempty(&v.passwd, "passwd", lines, diags);
    d.database = nonempty(&v.database, "database", lines, diags);
    d.secret = nonempty(&v.secret, "secret", lines, diags);
    d.load = nonempty(&v.load, "load", lines, diags);
    d.monitorfile = v.monitorfile.clone();
    d.servicename = v.servicename.clone();
    d.comment = v.comment.clone();
    let o = &mut d.overrides;
    o.checktimeout = positive(&v.checktimeout, "checktimeout", lines, diags);
    o.negotiatetimeout = positive(&v.negotiatetimeout, "negotiatetimeout", lines, diags);
    o.checkcount = positive(&v.checkcount, "checkcount", lines, diags);
    o.failurecount = positive(&v.failurecount, "failurecount", lines, diags);
    o.checkinterval = positive(&v.checkinterval, "checkinterval", lines, diags);
    o.quiescent = v.quiescent;
    o.cleanstop = v.cleanstop;
    o.emailalert = text_of!(v.emailalert, values::emailalert).map(|a| a.value);
    o.emailalertfreq = v.emailalertfreq;
    o.emailalertstatus = text_of!(v.emailalertstatus, values::emailalertstatus).map(|a| a.value);
    o.smtp = text_of!(v.smtp, values::smtp).map(|a| a.value);
    o.fallbackcommand = nonempty(&v.fallbackcommand, "fallbackcommand", lines, diags);
    if let Some(f) = &v.fallback {
        if check(addr::parse_fallback(f.get_ref()), l(f), diags).is_some() {
            o.fallback = Some(f.get_ref().clone());
            d.fallback_line = l(f);
        }
    }
    for sr in &v.real {
        if let Some(r) = read_real(sr, lines, diags) {
            d.reals.push(r);
        }
    }
    Some(d)
}

/// Anything with a byte span, for line lookups.
trait SpanOf {
    fn start(&self) -> usize;
}

impl<T> SpanOf for Spanned<T> {
    fn start(&self) -> usize {
        self.span().start
    }
}
