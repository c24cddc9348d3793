//! From what a file says (a [`VirtualDraft`]) to the resolved [`Virtual`].
//!
//! Both formats fill the same draft, so defaults, inheritance, name
//! resolution and validation live here once and cannot drift apart.

use std::net::{IpAddr, SocketAddr};

use super::addr::{self, VirtualAddr};
use super::diag::Diagnostics;
use super::draft::{ProtocolName, RealDraft, VirtualDraft};
use super::model::{
    CheckService, CheckType, Fallback, Global, HttpMethod, Real, Virtual, DEFAULT_CHECKTIMEOUT,
    DEFAULT_NEGOTIATETIMEOUT,
};
use super::resolve::Resolver;
use super::values;
use crate::lvs::{Family, Forward, Protocol, ServiceKey};

fn protocol_name(p: Option<Protocol>) -> Option<&'static str> {
    match p {
        Some(Protocol::Tcp) => Some("tcp"),
        Some(Protocol::Udp) => Some("udp"),
        Some(Protocol::Sctp) => Some("sctp"),
        None => None,
    }
}

/// Resolves a fallback written as text, for a given protocol and family.
/// `default_port` is used when the text has no port.
pub fn resolve_fallback(
    text: &str,
    family: Family,
    protocol: Option<Protocol>,
    default_port: Option<&str>,
    r: &dyn Resolver,
) -> Result<(IpAddr, Option<u16>, Forward), String> {
    let f = addr::parse_fallback(text)?;
    let version = if family == Family::Inet {
        "IPv4"
    } else {
        "IPv6"
    };
    let ip = r
        .host(addr::strip_brackets(&f.host), family)
        .ok_or_else(|| {
            format!(
                "invalid {version} address or could not resolve for fallback server: {}",
                f.host
            )
        })?;
    let port = match f.port.as_deref().or(default_port) {
        None => None,
        Some(p) => Some(
            addr::resolve_port(r, p, protocol_name(protocol))
                .ok_or_else(|| "invalid port for fallback server".to_string())?,
        ),
    };
    Ok((ip, port, f.forward))
}

fn resolve_key(
    d: &VirtualDraft,
    family: Family,
    parsed: &addr::ParsedVirtual,
    r: &dyn Resolver,
    diags: &mut Diagnostics,
) -> Option<ServiceKey> {
    let line = d.line;
    match &parsed.addr {
        VirtualAddr::FwMark(mark) => {
            if let Some(p) = &d.protocol {
                if p.value != ProtocolName::Fwm {
                    diags.error(
                        p.line,
                        "protocol must be fwm if the virtual service is a fwmark (a number)",
                    );
                }
            }
            Some(ServiceKey::FwMark {
                family,
                mark: *mark,
            })
        }
        VirtualAddr::HostPort { host, port } => {
            let protocol = match d.protocol.as_ref().map(|p| (p.value, p.line)) {
                None if parsed.default_udp => Protocol::Udp,
                None => Protocol::Tcp,
                Some((ProtocolName::Tcp, _)) => Protocol::Tcp,
                Some((ProtocolName::Udp, _)) => Protocol::Udp,
                Some((ProtocolName::Sctp, _)) => Protocol::Sctp,
                Some((ProtocolName::Fwm, l)) => {
                    diags.error(
                        l,
                        "protocol must be tcp, udp or sctp if the virtual service is an \
                         address and port",
                    );
                    Protocol::Tcp
                }
            };
            let ip = r.host(addr::strip_brackets(host), family);
            let port_n = addr::resolve_port(r, port, protocol_name(Some(protocol)));
            match (ip, port_n) {
                (Some(ip), Some(p)) => Some(ServiceKey::Inet {
                    protocol,
                    addr: SocketAddr::new(ip, p),
                }),
                (None, _) => {
                    diags.error(
                        line,
                        format!("invalid address for virtual service (cannot resolve {host})"),
                    );
                    None
                }
                (_, None) => {
                    diags.error(
                        line,
                        format!("invalid address for virtual service (unknown port {port})"),
                    );
                    None
                }
            }
        }
    }
}

fn resolve_reals(
    drafts: Vec<RealDraft>,
    family: Family,
    r: &dyn Resolver,
    rx_memo: &mut values::RegexMemo,
    diags: &mut Diagnostics,
) -> Vec<Real> {
    let mut out = Vec::with_capacity(drafts.len());
    let mut range: Vec<IpAddr>;
    for mut rd in drafts {
        let a = &rd.addr;
        let Some(first) = r.host(addr::strip_brackets(a.first()), family) else {
            diags.error(
                rd.line,
                format!(
                    "invalid address ({}) for real server (could not resolve host)",
                    a.first()
                ),
            );
            continue;
        };
        let port_text = a.port().unwrap_or("0");
        let Some(port) = addr::resolve_port(r, port_text, None) else {
            diags.error(
                rd.line,
                format!("invalid port ({port_text}) for real server (could not resolve port)"),
            );
            continue;
        };
        let ips: &[IpAddr] = match a.last() {
            None => std::slice::from_ref(&first),
            Some(last_text) => {
                let Some(last) = r.host(addr::strip_brackets(last_text), family) else {
                    diags.error(
                        rd.line,
                        format!(
                            "invalid address ({last_text}) for real server (could not resolve end host)"
                        ),
                    );
                    continue;
                };
                match addr::expand_range(first, last) {
                    Ok((ips, truncated)) => {
                        if truncated {
                            diags.warn(
                                rd.line,
                                format!(
                                    "range {first}->{last} yields only {} addresses, as in \
                                     ldirectord (it compares the addresses as strings)",
                                    ips.len()
                                ),
                            );
                        }
                        range = ips;
                        &range
                    }
                    Err(m) => {
                        diags.error(rd.line, m);
                        continue;
                    }
                }
            }
        };
        if rd.lower > rd.upper {
            diags.error(
                rd.line,
                format!(
                    "lower threshold l:{} is above upper threshold u:{} (the kernel refuses \
                     this even when u is 0, i.e. unset)",
                    rd.lower, rd.upper
                ),
            );
        }
        if rd.weight > 65_535 {
            diags.error(
                rd.line,
                format!("weight {} is out of range 0..65535", rd.weight),
            );
        }
        let tunnel = super::tunnel::build(&rd.tunnel, rd.forward, diags);
        // An empty pattern (`"/x", ""`) checks nothing, as ldirectord.
        let receive = rd
            .receive
            .as_deref()
            .filter(|rx| !rx.is_empty())
            .and_then(|rx| {
                rx_memo
                    .compile(rx)
                    .map_err(|m| diags.error(rd.line, m))
                    .ok()
            });
        // The draft's strings move into the last real of its line. (A
        // range cut short by ldirectord's string comparison may be empty.)
        let Some((last, before)) = ips.split_last() else {
            continue;
        };
        let mut push = |ip: IpAddr, rd: &mut RealDraft, last: bool| {
            let take = |s: &mut Option<String>| if last { s.take() } else { s.clone() };
            out.push(Real {
                addr: SocketAddr::new(ip, port),
                forward: rd.forward,
                weight: rd.weight,
                request: take(&mut rd.request),
                receive: receive.clone(),
                lower_threshold: rd.lower,
                upper_threshold: rd.upper,
                tunnel,
                written: if last {
                    std::mem::take(&mut rd.addr.written)
                } else {
                    rd.addr.written.clone()
                },
                line: rd.line,
            });
        };
        for &ip in before {
            push(ip, &mut rd, false);
        }
        push(*last, &mut rd, true);
    }
    out
}

/// Resolves one virtual against the globals; `None` if its address is bad
/// (the errors are in `diags`).
pub fn build_virtual(
    mut d: VirtualDraft,
    g: &Global,
    r: &dyn Resolver,
    rx_memo: &mut values::RegexMemo,
    diags: &mut Diagnostics,
) -> Option<Virtual> {
    let family = d.family.unwrap_or(Family::Inet);
    let parsed = d.parsed.clone()?;
    let key = resolve_key(&d, family, &parsed, r, diags);
    let protocol = match key {
        Some(ServiceKey::Inet { protocol, .. }) => Some(protocol),
        _ => None,
    };
    let vport_text = match &parsed.addr {
        VirtualAddr::HostPort { port, .. } => port.clone(),
        VirtualAddr::FwMark(_) => "0".into(),
    };
    let fallback = match &d.overrides.fallback {
        Some(text) => match resolve_fallback(text, family, protocol, Some(&vport_text), r) {
            Ok((ip, port, forward)) => Some(Fallback {
                addr: SocketAddr::new(ip, port.unwrap_or(0)),
                forward,
                line: d.fallback_line,
            }),
            Err(m) => {
                diags.error(d.fallback_line, m);
                None
            }
        },
        None => None,
    };
    let reals = resolve_reals(std::mem::take(&mut d.reals), family, r, rx_memo, diags);
    let key = key?;
    let vport = match key {
        ServiceKey::Inet { addr, .. } => addr.port(),
        ServiceKey::FwMark { .. } => 0,
    };
    let fallback = fallback.or_else(|| inherited_fallback(g, family, vport));

    let explicit_service = d.service.as_ref().map(|s| s.value);
    let service = match (explicit_service, key) {
        (Some(s), _) => s,
        (None, ServiceKey::FwMark { .. }) => CheckService::None,
        (None, ServiceKey::Inet { addr, .. }) => CheckService::for_port(addr.port()),
    };
    let user = format!("ldirectord@{}", r.hostname());
    let login = d.login.clone().unwrap_or_else(|| match explicit_service {
        Some(CheckService::Ftp) => "anonymous".into(),
        Some(CheckService::Sip) => user.clone(),
        _ => String::new(),
    });
    let passwd = d.passwd.clone().unwrap_or_else(|| match explicit_service {
        Some(CheckService::Ftp) => user.clone(),
        _ => String::new(),
    });

    let o = &d.overrides;
    let checktimeout = o
        .checktimeout
        .or(o.negotiatetimeout)
        .or(g.checktimeout)
        .or(g.negotiatetimeout)
        .unwrap_or(DEFAULT_CHECKTIMEOUT);
    let negotiatetimeout = o
        .negotiatetimeout
        .or(o.checktimeout)
        .or(g.negotiatetimeout)
        .or(g.checktimeout)
        .unwrap_or(DEFAULT_NEGOTIATETIMEOUT);

    let v = Virtual {
        key,
        written: parsed.written.clone(),
        line: d.line,
        reals,
        fallback,
        checktype: d.checktype.unwrap_or(CheckType::Negotiate),
        service,
        checkcommand: d.checkcommand.clone().unwrap_or_else(|| "/bin/true".into()),
        checkport: d.checkport,
        request: d.request.clone().unwrap_or_else(|| "/".into()),
        receive: d.receive.as_ref().and_then(|r| {
            rx_memo
                .compile(&r.value)
                .map_err(|m| diags.error(r.line, m))
                .ok()
        }),
        httpmethod: d.httpmethod.unwrap_or(HttpMethod::Get),
        virtualhost: d.virtualhost.clone(),
        httpcheck: super::httpcheck::build(&d.httpcheck, service, diags),
        login,
        passwd,
        database: d.database.clone().unwrap_or_default(),
        secret: d.secret.clone().unwrap_or_default(),
        load: d.load.clone(),
        scheduler: d.scheduler.clone().unwrap_or_else(|| "wrr".into()),
        persistent: d.persistent.as_ref().map(|p| p.value),
        netmask: d.netmask.as_ref().map(|n| n.value),
        ops: d.ops.as_ref().is_some_and(|o| o.value),
        schedflags: d.schedflags.as_ref().map(|s| s.value.clone()),
        pe: d.pe.as_ref().map(|p| p.value),
        monitorfile: d.monitorfile.clone(),
        servicename: d.servicename.clone(),
        comment: d.comment.clone(),
        checktimeout,
        negotiatetimeout,
        checkcount: o.checkcount.unwrap_or(g.checkcount),
        failurecount: o.failurecount.unwrap_or(g.failurecount),
        checkinterval: o.checkinterval.unwrap_or(g.checkinterval),
        quiescent: o.quiescent.unwrap_or(g.quiescent),
        cleanstop: o.cleanstop.unwrap_or(g.cleanstop),
        emailalert: o.emailalert.clone().or_else(|| g.emailalert.clone()),
        emailalertfreq: o.emailalertfreq.unwrap_or(g.emailalertfreq),
        emailalertstatus: o.emailalertstatus.unwrap_or(g.emailalertstatus),
        smtp: o.smtp.clone().or_else(|| g.smtp.clone()),
        fallbackcommand: o
            .fallbackcommand
            .clone()
            .or_else(|| g.fallbackcommand.clone()),
        overrides: d.overrides.clone(),
    };
    super::validate::virtual_rules(&v, &d, g, diags);
    Some(v)
}

/// ldirectord's `fallback_find` for a virtual without its own fallback: the
/// global one of its family, with the virtual's port if it has none.
fn inherited_fallback(g: &Global, family: Family, vport: u16) -> Option<Fallback> {
    let gf = match family {
        Family::Inet => g.fallback.as_ref(),
        Family::Inet6 => g.fallback6.as_ref(),
    }?;
    Some(Fallback {
        addr: SocketAddr::new(gf.ip, gf.port.unwrap_or(vport)),
        forward: gf.forward,
        line: gf.line,
    })
}
