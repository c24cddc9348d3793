//! Reads `ipvsadm -S -n` / `ipvsadm -R` rule lines back into [`Change`]s, so
//! that `lvsd restore` can load a saved table through the netlink client.
//! Pure: text in, changes or `line N: message` out. Numeric addresses only.
//!
//! Understood: `-A -E -D` (services) and `-a -e -d` (real servers) with
//! `-t -u --sctp-service -f -6 -s -p [secs] -M -o -b --pe -r -g -i -m -w -x
//! -y --tun-type --tun-port --tun-nocsum --tun-csum --tun-remcsum` and their
//! long forms. Comments (`#`) and blank lines are skipped. `-C` is refused:
//! lvsd never flushes a table.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::ipvs::change::Change;
use crate::ipvs::table::{
    full_netmask, svc_flags, Dest, Family, Forward, Protocol, Service, ServiceKey, Tunnel,
    TunnelCsum, TunnelType,
};

/// ipvsadm's defaults: `-p` alone means 360 s, the scheduler is wlc.
const DEFAULT_PERSISTENCE: u32 = 360;
const DEFAULT_SCHEDULER: &str = "wlc";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RuleError {
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    AddService,
    EditService,
    DelService,
    AddDest,
    EditDest,
    DelDest,
}

/// Everything one line can say, before it is turned into a change.
#[derive(Default)]
struct Parsed {
    verb: Option<Verb>,
    inet: Option<(Protocol, SocketAddr)>,
    mark: Option<u32>,
    v6: bool,
    scheduler: Option<String>,
    persistent: Option<u32>,
    netmask: Option<String>,
    pe: Option<String>,
    flags: u32,
    real: Option<String>,
    forward: Option<Forward>,
    weight: Option<u32>,
    upper: u32,
    lower: u32,
    tun_type: Option<String>,
    tun_port: u16,
    csum: TunnelCsum,
    /// The first `--tun-*` option given, for the error when `-i` is not.
    tun_option: Option<String>,
}

fn number<T: std::str::FromStr>(opt: &str, v: Option<&str>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{opt} needs a value"))?;
    v.parse().map_err(|_| format!("{opt}: bad number {v:?}"))
}

fn sched_flags(list: &str) -> Result<u32, String> {
    list.split(',')
        .map(|f| match f {
            "sh-fallback" | "mh-fallback" | "flag-1" => Ok(svc_flags::SCHED1),
            "sh-port" | "mh-port" | "flag-2" => Ok(svc_flags::SCHED2),
            "flag-3" => Ok(svc_flags::SCHED3),
            other => Err(format!("unknown scheduler flag {other:?}")),
        })
        .try_fold(0, |acc, f| f.map(|f| acc | f))
}

fn service_addr(opt: &str, v: Option<&str>) -> Result<SocketAddr, String> {
    let v = v.ok_or_else(|| format!("{opt} needs ADDRESS:PORT"))?;
    let a = v
        .parse()
        .map_err(|_| format!("{opt}: {v:?} is not a numeric ADDRESS:PORT (use ipvsadm -S -n)"))?;
    unscoped(opt, a)
}

/// IPVS keys addresses without a scope: `[fe80::1%2]:80` and
/// `[fe80::1]:80` are one service to the kernel, so a scope is refused
/// rather than silently dropped.
fn unscoped(opt: &str, a: SocketAddr) -> Result<SocketAddr, String> {
    match a {
        SocketAddr::V6(v6) if v6.scope_id() != 0 || v6.flowinfo() != 0 => {
            Err(format!("{opt}: {a}: IPVS addresses have no scope"))
        }
        _ => Ok(a),
    }
}

fn parse_tokens(tokens: &[&str]) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < tokens.len() {
        let opt = tokens[i];
        let val = tokens.get(i + 1).copied();
        let mut used = 1; // tokens consumed by this option
        let verb = |p: &mut Parsed, v| {
            if p.verb.replace(v).is_some() {
                Err(format!("{opt}: only one command per line"))
            } else {
                Ok(())
            }
        };
        match opt {
            "-A" | "--add-service" => verb(&mut p, Verb::AddService)?,
            "-E" | "--edit-service" => verb(&mut p, Verb::EditService)?,
            "-D" | "--delete-service" => verb(&mut p, Verb::DelService)?,
            "-a" | "--add-server" => verb(&mut p, Verb::AddDest)?,
            "-e" | "--edit-server" => verb(&mut p, Verb::EditDest)?,
            "-d" | "--delete-server" => verb(&mut p, Verb::DelDest)?,
            "-C" | "--clear" => {
                return Err("-C (flush) is not supported: lvsd never flushes".into())
            }
            "-t" | "--tcp-service" => {
                p.inet = Some((Protocol::Tcp, service_addr(opt, val)?));
                used = 2;
            }
            "-u" | "--udp-service" => {
                p.inet = Some((Protocol::Udp, service_addr(opt, val)?));
                used = 2;
            }
            "--sctp-service" => {
                p.inet = Some((Protocol::Sctp, service_addr(opt, val)?));
                used = 2;
            }
            "-f" | "--fwmark-service" => {
                // Debian's ipvsadm saves marks >= 2^31 as negative numbers.
                let m: i64 = number(opt, val)?;
                p.mark = Some(
                    u32::try_from(m)
                        .or_else(|_| i32::try_from(m).map(|m| m as u32))
                        .map_err(|_| format!("{opt}: mark {m} out of range"))?,
                );
                used = 2;
            }
            "-6" | "--ipv6" => p.v6 = true,
            "-s" | "--scheduler" => {
                p.scheduler = Some(scheduler_name(val.ok_or("-s needs a scheduler")?)?);
                used = 2;
            }
            "-p" | "--persistent" => match val.and_then(|v| v.parse().ok()) {
                Some(t) => {
                    p.persistent = Some(t);
                    used = 2;
                }
                None => p.persistent = Some(DEFAULT_PERSISTENCE),
            },
            "-M" | "--netmask" => {
                p.netmask = Some(val.ok_or("-M needs a netmask")?.to_string());
                used = 2;
            }
            "--pe" => {
                p.pe = Some(val.ok_or("--pe needs a name")?.to_string());
                used = 2;
            }
            "-o" | "--ops" => p.flags |= svc_flags::ONEPACKET,
            "-b" | "--sched-flags" => {
                p.flags |= sched_flags(val.ok_or("-b needs flags")?)?;
                used = 2;
            }
            "-r" | "--real-server" => {
                p.real = Some(val.ok_or("-r needs an address")?.to_string());
                used = 2;
            }
            "-g" | "--gatewaying" => p.forward = Some(Forward::Route),
            "-i" | "--ipip" => p.forward = Some(Forward::Tunnel),
            "-m" | "--masquerading" => p.forward = Some(Forward::Masq),
            "-w" | "--weight" => {
                p.weight = Some(number(opt, val)?);
                used = 2;
            }
            "-x" | "--u-threshold" => {
                p.upper = number(opt, val)?;
                used = 2;
            }
            "-y" | "--l-threshold" => {
                p.lower = number(opt, val)?;
                used = 2;
            }
            "--tun-type" => {
                p.tun_type = Some(val.ok_or("--tun-type needs a type")?.to_string());
                used = 2;
            }
            "--tun-port" => {
                p.tun_port = number(opt, val)?;
                used = 2;
            }
            "--tun-nocsum" => p.csum = TunnelCsum::NoCsum,
            "--tun-csum" => p.csum = TunnelCsum::Csum,
            "--tun-remcsum" => p.csum = TunnelCsum::RemCsum,
            other => return Err(format!("unknown option {other:?}")),
        }
        if opt.starts_with("--tun-") && p.tun_option.is_none() {
            p.tun_option = Some(opt.to_string());
        }
        i += used;
    }
    Ok(p)
}

/// A scheduler name as the kernel can hold it (IP_VS_SCHEDNAME_MAXLEN is 16
/// with the NUL): anything else is refused here rather than sent.
fn scheduler_name(s: &str) -> Result<String, String> {
    let ok = (1..16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("-s: {s:?} is not a scheduler name"))
    }
}

fn key_of(p: &Parsed) -> Result<ServiceKey, String> {
    match (p.inet, p.mark) {
        (Some((protocol, addr)), None) => Ok(ServiceKey::Inet { protocol, addr }),
        (None, Some(mark)) => Ok(ServiceKey::FwMark {
            family: if p.v6 { Family::Inet6 } else { Family::Inet },
            mark,
        }),
        _ => Err("exactly one of -t, -u, --sctp-service or -f is needed".into()),
    }
}

fn service_of(p: &Parsed, key: &ServiceKey) -> Result<Service, String> {
    let family = key.family();
    let mut s = Service::new(p.scheduler.as_deref().unwrap_or(DEFAULT_SCHEDULER), family);
    s.flags = p.flags;
    if let Some(t) = p.persistent {
        s.flags |= svc_flags::PERSISTENT;
        s.timeout = t;
    }
    s.netmask = match (&p.netmask, family) {
        (None, f) => full_netmask(f),
        (Some(m), Family::Inet) => u32::from(
            m.parse::<Ipv4Addr>()
                .map_err(|_| format!("-M: {m:?} is not an IPv4 netmask"))?,
        ),
        (Some(m), Family::Inet6) => m
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=128).contains(n))
            .ok_or_else(|| format!("-M: {m:?} is not an IPv6 prefix length"))?,
    };
    s.pe_name = p.pe.clone();
    Ok(s)
}

fn real_of(p: &Parsed, key: &ServiceKey) -> Result<SocketAddr, String> {
    let r = p.real.as_deref().ok_or("-r is needed")?;
    if let Ok(a) = r.parse::<SocketAddr>() {
        return unscoped("-r", a);
    }
    // No port: the service's port (0 for fwmark services), as ipvsadm does.
    let ip: IpAddr = r
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("-r: {r:?} is not a numeric address"))?;
    let port = match key {
        ServiceKey::Inet { addr, .. } => addr.port(),
        ServiceKey::FwMark { .. } => 0,
    };
    Ok(SocketAddr::new(ip, port))
}

fn dest_of(p: &Parsed) -> Result<Dest, String> {
    let forward = p.forward.unwrap_or(Forward::Route);
    if let Some(opt) = &p.tun_option {
        // The kernel keeps tunnel details only for tunnel forwarding; taking
        // them silently for -g or -m would program what was not asked for.
        if forward != Forward::Tunnel {
            return Err(format!("{opt} needs tunnel forwarding (-i)"));
        }
    }
    let mut d = Dest::new(forward, p.weight.unwrap_or(1));
    d.upper_threshold = p.upper;
    d.lower_threshold = p.lower;
    d.tunnel = match p.tun_type.as_deref() {
        None => None,
        Some("ipip") if p.csum == TunnelCsum::NoCsum => None,
        Some("ipip") => Some(Tunnel {
            kind: TunnelType::Ipip,
            csum: p.csum,
        }),
        Some("gue") => Some(Tunnel {
            kind: TunnelType::Gue { port: p.tun_port },
            csum: p.csum,
        }),
        Some("gre") => Some(Tunnel {
            kind: TunnelType::Gre,
            csum: p.csum,
        }),
        Some(t) => return Err(format!("--tun-type: unknown type {t:?}")),
    };
    Ok(d)
}

/// One line; `None` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<Change>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let p = parse_tokens(&tokens)?;
    let verb = p.verb.ok_or("no command (-A, -E, -D, -a, -e or -d)")?;
    let key = key_of(&p)?;
    Ok(Some(match verb {
        Verb::AddService => Change::AddService(key, service_of(&p, &key)?),
        Verb::EditService => Change::EditService(key, service_of(&p, &key)?),
        Verb::DelService => Change::DelService(key),
        Verb::AddDest => Change::AddDest(key, real_of(&p, &key)?, dest_of(&p)?),
        Verb::EditDest => Change::EditDest(key, real_of(&p, &key)?, dest_of(&p)?),
        Verb::DelDest => Change::DelDest(key, real_of(&p, &key)?),
    }))
}

/// Every line of a rules file, in order. All errors are reported, not the
/// first only.
pub fn parse(text: &str) -> Result<Vec<Change>, Vec<RuleError>> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(c)) => changes.push(c),
            Ok(None) => {}
            Err(message) => errors.push(RuleError {
                line: n + 1,
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::change::apply_to;
    use crate::ipvs::render::save::render_save;
    use crate::ipvs::table::Table;

    #[test]
    fn save_output_reads_back_to_the_same_table() {
        let text = "-A -t 10.0.0.1:80 -s wlc -p 600 -M 255.255.255.0\n\
                    -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n\
                    -a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0\n\
                    -A -u [2001:db8::1]:53 -s sh -o -b sh-fallback,sh-port\n\
                    -a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -i -w 3 --tun-type gue --tun-port 6080 --tun-csum\n\
                    -A -f 7 -6 -s rr -p 300 -M 64 --pe sip\n\
                    -A --sctp-service 10.0.0.9:3868 -s mh -b mh-port\n\
                    -a --sctp-service 10.0.0.9:3868 -r 10.0.0.10:3868 -i -w 1 --tun-type gre --tun-remcsum\n";
        let mut t = Table::new();
        for c in parse(text).unwrap() {
            apply_to(&mut t, &c).unwrap();
        }
        let saved = render_save(&t);
        let mut t2 = Table::new();
        for c in parse(&saved).unwrap() {
            apply_to(&mut t2, &c).unwrap();
        }
        assert_eq!(t, t2);
        assert_eq!(t.len(), 4);
        assert!(
            saved.contains("-A -f 7 -6 -s rr -p 300 -M 64 --pe sip\n"),
            "{saved}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("# a comment\n\n-A -t nowhere:80\n-X\n").unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 3);
        assert!(e[0].to_string().starts_with("line 3: -t:"), "{}", e[0]);
        assert_eq!(e[1].to_string(), "line 4: unknown option \"-X\"");
        assert!(parse("-C").is_err());
    }

    /// Found by the restore_rules fuzz target: a later `-g` used to keep the
    /// GUE details of an earlier `-i --tun-type gue`.
    #[test]
    fn tunnel_options_need_tunnel_forwarding() {
        let svc = "-A -u 10.0.0.1:53 -s rr\n";
        let e = parse(&format!(
            "{svc}-a -u 10.0.0.1:53 -r 10.0.0.2:53 -i --tun-type gue --tun-port 6080 -g\n"
        ))
        .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "line 2: --tun-type needs tunnel forwarding (-i)"
        );
        let e = parse(&format!(
            "{svc}-a -u 10.0.0.1:53 -r 10.0.0.2:53 -m --tun-csum\n"
        ))
        .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "line 2: --tun-csum needs tunnel forwarding (-i)"
        );
        assert!(parse(&format!(
            "{svc}-a -u 10.0.0.1:53 -r 10.0.0.2:53 -i --tun-type gre\n"
        ))
        .is_ok());
    }

    /// Found by the restore_rules fuzz target: control characters went
    /// into the scheduler name.
    #[test]
    fn scheduler_names_are_refused_unless_the_kernel_can_hold_them() {
        assert!(parse("-A -t 10.0.0.1:80 -s \u{0}\u{8}00\n").is_err());
        assert!(parse("-A -t 10.0.0.1:80 -s averyveryverylongname\n").is_err());
        assert!(parse("-A -t 10.0.0.1:80 -s lblcr\n").is_ok());
    }

    /// Found by the restore_rules fuzz target: a scope made a second
    /// service of what the kernel holds as one.
    #[test]
    fn scoped_addresses_are_refused() {
        let e = parse("-A -u [2001:db8::%3]:53 -s rr\n").unwrap_err();
        assert!(e[0].to_string().contains("no scope"), "{}", e[0]);
        let e =
            parse("-A -u [2001:db8::1]:53 -s rr\n-a -u [2001:db8::1]:53 -r [fe80::1%2]:53 -m\n")
                .unwrap_err();
        assert!(e[0].to_string().contains("no scope"), "{}", e[0]);
    }
}
