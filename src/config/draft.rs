//! What a file says, before defaults, inheritance and name resolution: both
//! formats fill these drafts, and [`super::build`] turns them into the model.

use super::addr;
use super::httpcheck::HttpCheckDraft;
use super::model::{CheckService, CheckType, HttpMethod, Netmask, Overrides};
use super::tunnel::TunnelDraft;
use crate::lvs::{Family, Forward, PersistenceEngine, SchedFlags};

/// A value and the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
}

pub fn at<T>(value: T, line: usize) -> Option<At<T>> {
    Some(At { value, line })
}

/// Protocol as written: `fwm` is only valid for fwmark virtuals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolName {
    Tcp,
    Udp,
    Sctp,
    Fwm,
}

/// One `real=` line (or TOML real) before resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealDraft {
    pub addr: addr::RealAddr,
    pub forward: Forward,
    pub weight: u32,
    pub request: Option<String>,
    pub receive: Option<String>,
    pub lower: u32,
    pub upper: u32,
    /// lvsd's `tuntype`, `tunport`, `tuncsum`.
    pub tunnel: TunnelDraft,
    pub line: usize,
}

/// Everything a virtual block says, unresolved. `None` = not written.
#[derive(Clone, Debug, Default)]
pub struct VirtualDraft {
    pub family: Option<Family>,
    pub parsed: Option<addr::ParsedVirtual>,
    pub line: usize,
    pub reals: Vec<RealDraft>,
    pub checktype: Option<CheckType>,
    pub service: Option<At<CheckService>>,
    pub checkcommand: Option<String>,
    pub checkport: Option<u16>,
    pub request: Option<String>,
    pub receive: Option<At<String>>,
    pub httpmethod: Option<HttpMethod>,
    pub virtualhost: Option<String>,
    /// lvsd's `verifytls`, `tlscafile`, `tlsname`, `expectstatus`.
    pub httpcheck: HttpCheckDraft,
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    pub load: Option<String>,
    pub scheduler: Option<String>,
    pub persistent: Option<At<u32>>,
    pub netmask: Option<At<Netmask>>,
    pub protocol: Option<At<ProtocolName>>,
    pub ops: Option<At<bool>>,
    pub schedflags: Option<At<SchedFlags>>,
    /// lvsd's `pe`.
    pub pe: Option<At<PersistenceEngine>>,
    pub monitorfile: Option<String>,
    pub servicename: Option<String>,
    pub comment: Option<String>,
    pub fallback_line: usize,
    pub overrides: Overrides,
}
