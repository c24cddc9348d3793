//! lvsd's extensions for tunnel reals and persistence engines (ldirectord
//! refuses these lines): what ipvsadm's `--tun-type`, `--tun-port`,
//! `--tun-{no,,rem}csum` and `--pe` program.
//!
//! - per real, at the end of a `real=` line (after the weight, the
//!   request/receive pair and the thresholds), or as keys of a TOML real:
//!   `tuntype=ipip|gue|gre`, `tunport=PORT` (GUE's UDP port, required with
//!   gue), `tuncsum=nocsum|csum|remcsum` (gue and gre; remcsum gue only);
//! - per virtual: `pe=sip`, for a persistent udp (or fwmark) service.
//!
//! Each option is checked against the real's forwarding method here, at
//! load, so that `lvsd check` says `FILE:LINE` where the kernel (or
//! ipvsadm) would only refuse the destination at run time, or ignore it.

use super::diag::Diagnostics;
use super::draft::{at, At};
use crate::lvs::{Forward, PersistenceEngine, Protocol, Tunnel, TunnelCsum, TunnelType};

/// The per-real options' names, as both formats spell them.
pub const REAL_OPTIONS: [&str; 3] = ["tuntype", "tunport", "tuncsum"];

/// `tuntype` as written (GUE's port comes separately, from `tunport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    Ipip,
    Gue,
    Gre,
}

/// The options of one real as written, each with its line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TunnelDraft {
    pub tuntype: Option<At<Encap>>,
    pub tunport: Option<At<u16>>,
    pub tuncsum: Option<At<TunnelCsum>>,
}

impl TunnelDraft {
    /// The line of the first option written, if any.
    fn first_line(&self) -> Option<usize> {
        [
            self.tuntype.as_ref().map(|a| a.line),
            self.tunport.as_ref().map(|a| a.line),
            self.tuncsum.as_ref().map(|a| a.line),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Reads one per-real option into `d`: `None` when `key` is not one.
pub fn option(
    d: &mut TunnelDraft,
    key: &str,
    value: &str,
    line: usize,
) -> Option<Result<(), String>> {
    let result = match key {
        "tuntype" => tuntype(value).map(|t| d.tuntype = at(t, line)),
        "tunport" => tunport(value).map(|p| d.tunport = at(p, line)),
        "tuncsum" => tuncsum(value).map(|c| d.tuncsum = at(c, line)),
        _ => return None,
    };
    Some(result)
}

pub fn tuntype(value: &str) -> Result<Encap, String> {
    match value {
        "ipip" => Ok(Encap::Ipip),
        "gue" => Ok(Encap::Gue),
        "gre" => Ok(Encap::Gre),
        _ => Err(format!("invalid tuntype {value:?}: ipip, gue or gre")),
    }
}

pub fn tunport(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid tunport {value:?}: a UDP port, 1..65535"))
}

pub fn tuncsum(value: &str) -> Result<TunnelCsum, String> {
    TunnelCsum::from_name(value)
        .ok_or_else(|| format!("invalid tuncsum {value:?}: nocsum, csum or remcsum"))
}

pub fn pe(value: &str) -> Result<PersistenceEngine, String> {
    PersistenceEngine::from_name(value)
        .ok_or_else(|| format!("invalid pe {value:?}: the kernel's only persistence engine is sip"))
}

/// The warning the .cf parser gives for an extension it read.
pub fn extension_warning(key: &str) -> String {
    format!("{key} is an lvsd extension: ldirectord refuses this file")
}

fn forward_word(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "masq (NAT)",
        _ => "gate (direct routing)",
    }
}

/// The tunnel of a real with forwarding method `forward`, its options
/// checked; `None` is the kernel's default (ipip, no options) or an error,
/// which is in `diags`.
pub fn build(d: &TunnelDraft, forward: Forward, diags: &mut Diagnostics) -> Option<Tunnel> {
    let first = d.first_line()?;
    if forward != Forward::Tunnel {
        diags.error(
            first,
            format!(
                "tuntype, tunport and tuncsum are for ipip reals (tunnel forwarding); this \
                 real is {}, which sends no tunnel",
                forward_word(forward)
            ),
        );
        return None;
    }
    let encap = d.tuntype.as_ref().map_or(Encap::Ipip, |t| t.value);
    let type_line = d.tuntype.as_ref().map_or(first, |t| t.line);
    let mut ok = true;
    match (encap, &d.tunport) {
        (Encap::Gue, None) => {
            diags.error(
                type_line,
                "tuntype=gue needs tunport=PORT: the UDP port the real decapsulates on \
                 (`ip fou add port PORT gue` there)",
            );
            ok = false;
        }
        (Encap::Ipip | Encap::Gre, Some(p)) => {
            diags.error(
                p.line,
                format!(
                    "tunport is GUE's UDP port; this real's tunnel is {} (set tuntype=gue)",
                    if encap == Encap::Gre { "gre" } else { "ipip" }
                ),
            );
            ok = false;
        }
        _ => {}
    }
    let csum = d.tuncsum.as_ref().map_or(TunnelCsum::NoCsum, |c| c.value);
    if let Some(c) = &d.tuncsum {
        let why = match (encap, c.value) {
            (Encap::Ipip, _) => {
                Some("tuncsum is for gue and gre tunnels; ipip carries no checksum")
            }
            (Encap::Gre, TunnelCsum::RemCsum) => Some(
                "tuncsum=remcsum (remote checksum offload) is GUE's; a gre tunnel takes csum \
                 or nocsum",
            ),
            _ => None,
        };
        if let Some(why) = why {
            diags.error(c.line, why);
            ok = false;
        }
    }
    let kind = match encap {
        // The kernel's default: programmed and read back as no options.
        Encap::Ipip => return None,
        Encap::Gue => TunnelType::Gue {
            port: d.tunport.as_ref().map_or(0, |p| p.value),
        },
        Encap::Gre => TunnelType::Gre,
    };
    ok.then_some(Tunnel { kind, csum })
}

/// `pe=` against the virtual it is on: the engine refines persistence, so
/// it needs `persistent`; SIP's reads UDP datagrams only.
pub fn check_pe(
    pe: &At<PersistenceEngine>,
    persistent: bool,
    protocol: Option<Protocol>,
    diags: &mut Diagnostics,
) {
    let name = pe.value.name();
    if !persistent {
        diags.error(
            pe.line,
            format!(
                "pe={name} needs persistent=SECONDS: a persistence engine refines \
                 persistence, which this virtual does not set"
            ),
        );
    }
    let proto = match protocol {
        Some(Protocol::Tcp) => "tcp",
        Some(Protocol::Sctp) => "sctp",
        _ => return,
    };
    diags.error(
        pe.line,
        format!(
            "pe={name}: the kernel's SIP engine reads only UDP datagrams (their Call-ID); \
             this virtual service is {proto} (set protocol=udp)"
        ),
    );
}
