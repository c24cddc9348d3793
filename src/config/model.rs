//! The typed configuration both formats produce.
//!
//! Values are *resolved*: defaults (ldirectord's code defaults, not its
//! docs), global→virtual inheritance and the checktimeout/negotiatetimeout
//! cross-defaults are already applied, and host and service names are
//! already addresses and ports. What the user wrote is kept only where it
//! matters for writing the file back out: the address text of virtuals and
//! reals, and which inheritable directives a virtual set itself
//! ([`Overrides`]).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

pub use super::sync::{IpvsTimeouts, Sync, SyncRole};
pub use crate::lvs::Netmask;
use crate::lvs::{
    Family, Forward, PersistenceEngine, Protocol, Receive, SchedFlags, ServiceKey, Tunnel,
};

/// A whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub global: Global,
    pub virtuals: Vec<Virtual>,
}

/// Where log lines go: a file, or syslog with a facility (ldirectord treats
/// any value without a leading `/` as a facility name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Syslog(String),
}

/// Daemon states in which alert mails are sent (`emailalertstatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AlertStatus {
    pub starting: bool,
    pub running: bool,
    pub stopping: bool,
    pub reloading: bool,
}

impl AlertStatus {
    pub const ALL: AlertStatus = AlertStatus {
        starting: true,
        running: true,
        stopping: true,
        reloading: true,
    };
    pub const NONE: AlertStatus = AlertStatus {
        starting: false,
        running: false,
        stopping: false,
        reloading: false,
    };

    /// The canonical text: `all`, `none` or a comma list.
    pub fn to_text(self) -> String {
        if self == AlertStatus::ALL {
            return "all".into();
        }
        let names = [
            (self.starting, "starting"),
            (self.running, "running"),
            (self.stopping, "stopping"),
            (self.reloading, "reloading"),
        ];
        let v: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    }
}

/// A fallback server as written globally: the port may be missing, in which
/// case each virtual uses its own port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalFallback {
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub forward: Forward,
    /// The text after `fallback=`, for writing it back.
    pub written: String,
    pub line: usize,
}

/// Top-level directives, with ldirectord's code defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// As written; `None` = unset (resolution happens per virtual).
    pub checktimeout: Option<u32>,
    pub negotiatetimeout: Option<u32>,
    pub checkinterval: u32,
    pub checkcount: u32,
    pub failurecount: u32,
    pub autoreload: bool,
    pub callback: Option<String>,
    pub fallback: Option<GlobalFallback>,
    pub fallback6: Option<GlobalFallback>,
    pub fallbackcommand: Option<String>,
    pub logfile: LogTarget,
    pub emailalert: Option<String>,
    pub emailalertfrom: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: AlertStatus,
    pub smtp: Option<String>,
    pub execute: Vec<String>,
    pub fork: bool,
    pub supervised: bool,
    /// ldirectord's code default is `no`, whatever its manual says.
    pub quiescent: bool,
    pub readdquiescent: bool,
    pub cleanstop: bool,
    pub maintenancedir: Option<PathBuf>,
    /// lvsd extension: where to serve Prometheus metrics; `None` = off.
    pub metrics: Option<SocketAddr>,
    /// lvsd extensions: the kernel's connection sync and IPVS timeouts.
    pub sync: Sync,
}

pub const DEFAULT_CHECKTIMEOUT: u32 = 5;
pub const DEFAULT_NEGOTIATETIMEOUT: u32 = 30;
pub const DEFAULT_LOGFILE: &str = "/var/log/ldirectord.log";

impl Default for Global {
    fn default() -> Global {
        Global {
            checktimeout: None,
            negotiatetimeout: None,
            checkinterval: 10,
            checkcount: 1,
            failurecount: 1,
            autoreload: false,
            callback: None,
            fallback: None,
            fallback6: None,
            fallbackcommand: None,
            logfile: LogTarget::File(PathBuf::from(DEFAULT_LOGFILE)),
            emailalert: None,
            emailalertfrom: None,
            emailalertfreq: 0,
            emailalertstatus: AlertStatus::ALL,
            smtp: None,
            execute: Vec::new(),
            fork: false,
            supervised: false,
            quiescent: false,
            readdquiescent: false,
            cleanstop: true,
            maintenancedir: None,
            metrics: None,
            sync: Sync::default(),
        }
    }
}

/// How real servers of a virtual are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckType {
    Connect,
    Negotiate,
    Ping,
    External,
    ExternalPerl,
    /// No checks and no servers: nothing is added.
    Off,
    /// No checks; every real server is up.
    On,
    /// `checktype=N`: N connect checks, then one negotiate check.
    Combined(u32),
}

impl CheckType {
    pub fn name(self) -> String {
        match self {
            CheckType::Connect => "connect".into(),
            CheckType::Negotiate => "negotiate".into(),
            CheckType::Ping => "ping".into(),
            CheckType::External => "external".into(),
            CheckType::ExternalPerl => "external-perl".into(),
            CheckType::Off => "off".into(),
            CheckType::On => "on".into(),
            CheckType::Combined(n) => n.to_string(),
        }
    }
}

/// The protocol a negotiate check speaks (`service=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckService {
    Dns,
    Ftp,
    Http,
    Https,
    HttpProxy,
    Imap,
    Imaps,
    Ldap,
    Ldaps,
    Mysql,
    Nntp,
    None,
    Oracle,
    Pgsql,
    Pop,
    Pops,
    Radius,
    Simpletcp,
    Sip,
    Smtp,
    Submission,
}

/// Name, well-known port. The port→service default uses the same table.
const SERVICES: [(CheckService, &str, u16); 21] = [
    (CheckService::Ftp, "ftp", 21),
    (CheckService::Smtp, "smtp", 25),
    (CheckService::Dns, "dns", 53),
    (CheckService::Http, "http", 80),
    (CheckService::Pop, "pop", 110),
    (CheckService::Nntp, "nntp", 119),
    (CheckService::Imap, "imap", 143),
    (CheckService::Ldap, "ldap", 389),
    (CheckService::Https, "https", 443),
    (CheckService::Submission, "submission", 587),
    (CheckService::Ldaps, "ldaps", 636),
    (CheckService::Imaps, "imaps", 993),
    (CheckService::Pops, "pops", 995),
    (CheckService::Oracle, "oracle", 1521),
    (CheckService::Radius, "radius", 1812),
    (CheckService::HttpProxy, "http_proxy", 3128),
    (CheckService::Mysql, "mysql", 3306),
    (CheckService::Sip, "sip", 5060),
    (CheckService::Pgsql, "pgsql", 5432),
    (CheckService::Simpletcp, "simpletcp", 0),
    (CheckService::None, "none", 0),
];

impl CheckService {
    pub fn from_name(s: &str) -> Option<CheckService> {
        SERVICES
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(c, _, _)| *c)
    }

    pub fn name(self) -> &'static str {
        SERVICES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("none", |(_, n, _)| n)
    }

    /// The service's well-known port, used as the check port of a real
    /// server with port 0 (`ld_service_to_port`).
    pub fn default_port(self) -> Option<u16> {
        SERVICES
            .iter()
            .find(|(c, _, p)| *c == self && *p != 0)
            .map(|(_, _, p)| *p)
    }

    /// The service ldirectord assumes for a virtual port (`ld_port_to_service`).
    pub fn for_port(port: u16) -> CheckService {
        SERVICES
            .iter()
            .find(|(_, _, p)| *p == port && port != 0)
            .map_or(CheckService::None, |(c, _, _)| *c)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Head,
}

/// A real server, one per address after range expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Real {
    /// Address and port as configured (port 0 when none was given). The
    /// port the kernel uses may differ: see `director::plan`.
    pub addr: SocketAddr,
    pub forward: Forward,
    pub weight: u32,
    /// Per-real `"request", "receive"` pair (request already starts with `/`);
    /// `receive` is `None` when the pair's pattern is empty. See
    /// [`Virtual::exchange_of`].
    pub request: Option<String>,
    pub receive: Option<Receive>,
    pub lower_threshold: u32,
    pub upper_threshold: u32,
    /// lvsd extension: a GUE or GRE tunnel (or ipip with options) for an
    /// ipip real; `None` = plain ipip, the kernel's default, or not ipip.
    pub tunnel: Option<Tunnel>,
    /// The address text as written (`web1->web3:http`), shared by every
    /// real expanded from one line.
    pub written: String,
    pub line: usize,
}

/// A resolved fallback server of one virtual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub addr: SocketAddr,
    pub forward: Forward,
    pub line: usize,
}

/// Inheritable directives the virtual set itself; `None` = inherited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub checktimeout: Option<u32>,
    pub negotiatetimeout: Option<u32>,
    pub checkcount: Option<u32>,
    pub failurecount: Option<u32>,
    pub checkinterval: Option<u32>,
    pub quiescent: Option<bool>,
    pub cleanstop: Option<bool>,
    pub emailalert: Option<String>,
    pub emailalertfreq: Option<u32>,
    pub emailalertstatus: Option<AlertStatus>,
    pub smtp: Option<String>,
    pub fallbackcommand: Option<String>,
    /// The text after a per-virtual `fallback=`/`fallback6=`.
    pub fallback: Option<String>,
}

/// One virtual service with everything resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Virtual {
    pub key: ServiceKey,
    /// The address text after `virtual=`/`virtual6=`, as written.
    pub written: String,
    pub line: usize,
    pub reals: Vec<Real>,
    pub fallback: Option<Fallback>,
    pub checktype: CheckType,
    pub service: CheckService,
    pub checkcommand: String,
    pub checkport: Option<u16>,
    pub request: String,
    pub receive: Option<Receive>,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    /// lvsd's extensions of the http checks (default: ldirectord's behaviour).
    pub httpcheck: super::httpcheck::HttpCheck,
    pub login: String,
    pub passwd: String,
    pub database: String,
    pub secret: String,
    pub load: Option<String>,
    pub scheduler: String,
    pub persistent: Option<u32>,
    pub netmask: Option<Netmask>,
    pub ops: bool,
    pub schedflags: Option<SchedFlags>,
    /// lvsd extension: the persistence engine (`pe=sip`).
    pub pe: Option<PersistenceEngine>,
    pub monitorfile: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    // Resolved inheritable values.
    pub checktimeout: u32,
    pub negotiatetimeout: u32,
    pub checkcount: u32,
    pub failurecount: u32,
    pub checkinterval: u32,
    pub quiescent: bool,
    pub cleanstop: bool,
    pub emailalert: Option<String>,
    pub emailalertfreq: u32,
    pub emailalertstatus: AlertStatus,
    pub smtp: Option<String>,
    pub fallbackcommand: Option<String>,
    pub overrides: Overrides,
}

impl Virtual {
    pub fn family(&self) -> Family {
        self.key.family()
    }

    /// The request and receive pattern that check `r`: a real's own pair
    /// replaces the virtual's as a whole.
    pub fn exchange_of<'a>(&'a self, r: &'a Real) -> (&'a str, Option<&'a Receive>) {
        match &r.request {
            Some(q) => (q, r.receive.as_ref()),
            None => (&self.request, self.receive.as_ref()),
        }
    }

    /// The virtual port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self.key {
            ServiceKey::Inet { addr, .. } => addr.port(),
            ServiceKey::FwMark { .. } => 0,
        }
    }

    pub fn protocol(&self) -> Option<Protocol> {
        match self.key {
            ServiceKey::Inet { protocol, .. } => Some(protocol),
            ServiceKey::FwMark { .. } => None,
        }
    }
}

impl Config {
    /// Zero every line number, so that the same configuration read from two
    /// files (a .cf and its TOML conversion) compares equal.
    pub fn erase_lines(&mut self) {
        for g in [&mut self.global.fallback, &mut self.global.fallback6]
            .into_iter()
            .flatten()
        {
            g.line = 0;
        }
        self.global.sync.line = 0;
        self.global.sync.other_line = 0;
        for v in &mut self.virtuals {
            v.line = 0;
            if let Some(f) = &mut v.fallback {
                f.line = 0;
            }
            for r in &mut v.reals {
                r.line = 0;
            }
        }
    }
}
