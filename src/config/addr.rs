//! Address grammars of `virtual=`, `real=` and `fallback=`, with ldirectord's
//! regexes (leftmost-first, like Perl) and its resolution rules.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::resolve::Resolver;
use crate::lvs::{Family, Forward};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("bad built-in regex {pattern}: {e}"))
}

const PORT: &str = r"[A-Za-z0-9_-]+";

static V_IPV4: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):({PORT})")));
static V_HOST: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"^([0-9A-Za-z._+-]+):({PORT})")));
static V_FWMARK: LazyLock<Regex> = LazyLock::new(|| re(r"^([0-9]+)"));
static V_IPV6: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"^\[([0-9A-Fa-f:]+)\]:({PORT})")));
static UDP_PORT: LazyLock<Regex> = LazyLock::new(|| re(r":(53|domain)$"));

/// What a `virtual=` value names, before resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VirtualAddr {
    /// `host:port`; `host` may be an address literal (IPv6 without brackets).
    HostPort {
        host: String,
        port: String,
    },
    FwMark(u32),
}

/// The result of reading a `virtual=` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedVirtual {
    pub addr: VirtualAddr,
    /// The matched text (ldirectord ignores whatever follows it).
    pub written: String,
    /// The protocol default: udp for port 53/`domain`, tcp otherwise.
    pub default_udp: bool,
    /// A warning for the fwmark trap (`virtual=10.0.0.1` is fwmark 10).
    pub warning: Option<String>,
}

/// Reads a `virtual=`/`virtual6=` value as ldirectord does.
pub fn parse_virtual(text: &str, family: Family) -> Result<ParsedVirtual, String> {
    let hostport = |c: regex::Captures<'_>, host: &str| {
        let written = c.get(0).map_or("", |m| m.as_str()).to_string();
        ParsedVirtual {
            addr: VirtualAddr::HostPort {
                host: host.to_string(),
                port: c[2].to_string(),
            },
            default_udp: UDP_PORT.is_match(&written),
            written,
            warning: None,
        }
    };
    if family == Family::Inet {
        if let Some(c) = V_IPV4.captures(text) {
            let host = c[1].to_string();
            return Ok(hostport(c, &host));
        }
    }
    if let Some(c) = V_HOST.captures(text) {
        let host = c[1].to_string();
        return Ok(hostport(c, &host));
    }
    if let Some(c) = V_FWMARK.captures(text) {
        let digits = &c[1];
        let mark: u32 = digits
            .parse()
            .map_err(|_| format!("fwmark {digits} is too large"))?;
        if mark == 0 {
            return Err("fwmark must be greater than 0".into());
        }
        let rest = &text[digits.len()..];
        let warning = (!rest.trim().is_empty()).then(|| {
            format!(
                "{text:?} is read as fwmark {mark}, as ldirectord does (it reads the leading \
                 number); write ADDRESS:PORT for an address"
            )
        });
        return Ok(ParsedVirtual {
            addr: VirtualAddr::FwMark(mark),
            // Normalised: `virtual=09` is fwmark 9, and writes back as 9.
            written: mark.to_string(),
            default_udp: false,
            warning,
        });
    }
    if let Some(c) = V_IPV6.captures(text) {
        if family == Family::Inet {
            return Err(
                "cannot specify an IPv6 address here. please use \"virtual6\" instead.".into(),
            );
        }
        if c[1].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("invalid ipv6 address for virtual server".into());
        }
        let host = format!("[{}]", &c[1]);
        return Ok(hostport(c, &host));
    }
    Err("invalid address for virtual server".into())
}

/// Removes the brackets of `[v6]` (ldirectord's `ld_gethostbyname`).
pub fn strip_brackets(host: &str) -> &str {
    match (host.find('['), host.rfind(']')) {
        (Some(a), Some(b)) if a < b => &host[a + 1..b],
        _ => host,
    }
}

/// Resolves a port number or service name (`ld_getservbyname`).
pub fn resolve_port(r: &dyn Resolver, port: &str, protocol: Option<&str>) -> Option<u16> {
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        return port
            .trim_start_matches('0')
            .parse::<u16>()
            .ok()
            .or_else(|| {
                // All zeros.
                port.bytes().all(|b| b == b'0').then_some(0)
            });
    }
    r.service(port, protocol)
}

static REAL: LazyLock<Regex> = LazyLock::new(|| {
    let host = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\]";
    re(&format!(r"({host})(->({host}))?(:([0-9]+|{PORT}))?\s+(.*)"))
});

/// The address part of a `real=` line (`a->b:port` as written), and where
/// its pieces are in it: one string per real, not four.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RealAddr {
    pub written: String,
    first: Range<usize>,
    last: Option<Range<usize>>,
    port: Option<Range<usize>>,
}

impl RealAddr {
    /// The host, or the first of a range (IPv6 with its brackets).
    pub fn first(&self) -> &str {
        &self.written[self.first.clone()]
    }

    /// The last host of an `a->b` range.
    pub fn last(&self) -> Option<&str> {
        self.last.clone().map(|r| &self.written[r])
    }

    /// The port as written (number or service name).
    pub fn port(&self) -> Option<&str> {
        self.port.clone().map(|r| &self.written[r])
    }
}

/// Splits a `real=` value into address and the rest (forward, weight, ...).
pub fn parse_real(text: &str) -> Result<(RealAddr, &str), String> {
    match parse_real_dotted(text) {
        Some(split) => Ok(split),
        None => parse_real_regex(text),
    }
}

/// [`parse_real`] for the shape nearly every real line has,
/// `a.b.c.d[:digits] rest`, without the regex (a third of a reload's
/// parse). Any other shape gets `None` and goes to the regex; where this
/// answers, it answers as the regex does (its first alternative matches
/// the whole dotted run and nothing after it needs backtracking).
fn parse_real_dotted(text: &str) -> Option<(RealAddr, &str)> {
    let b = text.as_bytes();
    let host_end = b
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
        .unwrap_or(b.len());
    let host = &text[..host_end];
    let mut groups = 0;
    for g in host.split('.') {
        if g.is_empty() {
            return None;
        }
        groups += 1;
    }
    if groups != 4 {
        return None;
    }
    let (port, written_end) = match b.get(host_end) {
        Some(b':') => {
            let digits = b[host_end + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits == 0 {
                return None;
            }
            let end = host_end + 1 + digits;
            (Some(host_end + 1..end), end)
        }
        _ => (None, host_end),
    };
    let after = &text[written_end..];
    // `\s+(.*)`: at least one space, and `.` stops at a newline.
    let rest = after.trim_start_matches(char::is_whitespace);
    if rest.len() == after.len() || after.contains('\n') {
        return None;
    }
    Some((
        RealAddr {
            written: text[..written_end].to_string(),
            first: 0..host.len(),
            last: None,
            port,
        },
        rest,
    ))
}

fn parse_real_regex(text: &str) -> Result<(RealAddr, &str), String> {
    let c = REAL
        .captures(text)
        .ok_or_else(|| "invalid address for real server (wrong format)".to_string())?;
    let end = c.get(4).or(c.get(2)).or(c.get(1)).map_or(0, |m| m.end());
    let start = c.get(1).map_or(0, |m| m.start());
    // Every group lies inside the address part.
    let within = |m: regex::Match| m.start() - start..m.end() - start;
    Ok((
        RealAddr {
            written: text[start..end].to_string(),
            first: c.get(1).map_or(0..0, within),
            last: c.get(3).map(within),
            port: c.get(5).map(within),
        },
        c.get(6).map_or("", |m| m.as_str()),
    ))
}

/// Parses a bare real address (`a[->b][:port]`), as the TOML format writes it.
pub fn parse_real_address(text: &str) -> Result<RealAddr, String> {
    let line = format!("{text} x");
    let (a, rest) = parse_real(&line)?;
    if a.written != text || rest != "x" {
        return Err(format!("invalid real server address {text:?}"));
    }
    Ok(a)
}

/// Most addresses one range may expand to: more is a typo, not a farm.
pub const MAX_RANGE: u32 = 65_536;

/// The addresses of `first->last`, as ldirectord enumerates them. Its loop
/// compares the integers as *strings* (`$i le $last_i`), so a range whose
/// integer crosses a power of ten stops early; that is reproduced, and the
/// returned flag says whether it happened.
pub fn expand_range(first: IpAddr, last: IpAddr) -> Result<(Vec<IpAddr>, bool), String> {
    let (IpAddr::V4(a), IpAddr::V4(b)) = (first, last) else {
        return Err("Address range for IPv6 is not supported yet".into());
    };
    let (a, b) = (u32::from(a), u32::from(b));
    if a > b {
        return Err(format!(
            "Invalid Range: {first}-{last}: First value must be greater than or equal to the \
             second value"
        ));
    }
    if b - a >= MAX_RANGE {
        return Err(format!(
            "range {first}->{last} has more than {MAX_RANGE} addresses"
        ));
    }
    let last_s = b.to_string();
    let mut out = Vec::new();
    let mut i = a;
    while i.to_string() <= last_s {
        out.push(IpAddr::V4(Ipv4Addr::from(i)));
        if i == b {
            break;
        }
        i += 1;
    }
    let truncated = out.len() as u64 != u64::from(b - a) + 1;
    Ok((out, truncated))
}

/// A `fallback=` value split as ldirectord's `parse_fallback` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackAddr {
    pub host: String,
    pub port: Option<String>,
    pub forward: Forward,
}

static FB_SPLIT: LazyLock<Regex> = LazyLock::new(|| re(r"(\S+)(\s+(\S+))?\s*$"));
static FB_PORT: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(:([0-9]+|{PORT}))?$")));

pub fn parse_fallback(text: &str) -> Result<FallbackAddr, String> {
    let (mut hostport, fwd) = match FB_SPLIT.captures(text) {
        Some(c) => (
            c.get(1).map_or("", |m| m.as_str()).to_string(),
            c.get(3).map(|m| m.as_str().to_string()),
        ),
        None => (text.to_string(), None),
    };
    let mut port = None;
    if let Some(c) = FB_PORT.captures(&hostport) {
        port = c.get(2).map(|m| m.as_str().to_string());
        let start = c.get(0).map_or(hostport.len(), |m| m.start());
        hostport.truncate(start);
    }
    let forward = match fwd {
        None => Forward::Route,
        Some(f) => super::values::forward(&f)
            .ok_or_else(|| "forward method must be gate, masq or ipip".to_string())?,
    };
    Ok(FallbackAddr {
        host: hostport,
        port,
        forward,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written shortcut agrees with the regex wherever it answers,
    /// on every string of a small alphabet built around the dotted shape.
    #[test]
    fn dotted_real_shortcut_is_the_regex() {
        let pieces = [
            "1", "10", "255", "0", ".", ":", "80", "http", "-", "->", " ", "\t", "\u{a0}", "\n",
            "masq", "x", "[", "::1", "]", "\"", "9999999",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            // xorshift: deterministic, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut answered = 0;
        let mut cases: Vec<String> = vec![
            "10.0.0.1:80 masq 5".into(),
            "10.0.0.1 gate".into(),
            "10.0.0.1:80\tmasq".into(),
            "10.0.0.1:80  \u{a0} ipip 1 \"/\", \"ok\"".into(),
            "10.0.0.1:80".into(),
            "10.0.0.1: masq".into(),
            "10.0.0.1:http masq".into(),
            "10.0.0.1->10.0.0.9:80 masq".into(),
            "10.0.0.1.5:80 masq".into(),
            "10..0.1:80 masq".into(),
            "10.0.0.1:80x masq".into(),
            "10.0.0.1:80 masq\nmore".into(),
        ];
        for _ in 0..200_000 {
            let n = 1 + next(9);
            let mut t = String::new();
            // Mostly dotted-quad heads, so that the shortcut is exercised.
            if next(3) > 0 {
                t.push_str("10.1.2.3");
            }
            for _ in 0..n {
                t.push_str(pieces[next(pieces.len())]);
            }
            cases.push(t);
        }
        for t in &cases {
            if let Some(fast) = parse_real_dotted(t) {
                answered += 1;
                assert_eq!(Ok(fast), parse_real_regex(t), "{t:?}");
            }
        }
        assert!(
            answered > 10_000,
            "the shortcut answered only {answered} times"
        );
    }

    fn hp(host: &str, port: &str) -> VirtualAddr {
        VirtualAddr::HostPort {
            host: host.into(),
            port: port.into(),
        }
    }

    #[test]
    fn virtual_forms() {
        let v = |t, f| parse_virtual(t, f).map(|p| (p.addr, p.default_udp));
        assert_eq!(
            v("10.0.0.1:80", Family::Inet),
            Ok((hp("10.0.0.1", "80"), false))
        );
        assert_eq!(
            v("10.0.0.1:53 x", Family::Inet),
            Ok((hp("10.0.0.1", "53"), true))
        );
        assert_eq!(v("ns:domain", Family::Inet), Ok((hp("ns", "domain"), true)));
        assert_eq!(v("7", Family::Inet6), Ok((VirtualAddr::FwMark(7), false)));
        assert_eq!(
            v("[2001:db8::1]:80", Family::Inet6),
            Ok((hp("[2001:db8::1]", "80"), false))
        );
        assert!(v("[2001:db8::1]:80", Family::Inet).is_err());
        assert!(v("[2001:db8:::1]:80", Family::Inet6).is_err());
        assert!(v("???", Family::Inet).is_err());
    }

    #[test]
    fn address_without_port_is_a_fwmark_with_a_warning() {
        let p = parse_virtual("10.0.0.1", Family::Inet);
        assert!(matches!(&p, Ok(p) if p.addr == VirtualAddr::FwMark(10) && p.warning.is_some()));
    }

    #[test]
    fn real_lines() {
        let (a, rest) = parse_real("10.0.0.1->10.0.0.3:http masq 5").unwrap_or_default();
        assert_eq!(a.first(), "10.0.0.1");
        assert_eq!(a.last(), Some("10.0.0.3"));
        assert_eq!(a.port(), Some("http"));
        assert_eq!(a.written, "10.0.0.1->10.0.0.3:http");
        assert_eq!(rest, "masq 5");
        let (a, _) = parse_real("[2001:db8::2]:80 gate").unwrap_or_default();
        assert_eq!((a.first(), a.port()), ("[2001:db8::2]", Some("80")));
        assert!(parse_real("10.0.0.1:80").is_err());
        assert!(parse_real_address("10.0.0.1:80").is_ok());
        assert!(parse_real_address("10.0.0.1:80 gate").is_err());
    }

    #[test]
    fn ranges_follow_perl_string_comparison() {
        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let (v, cut) = expand_range(ip("10.0.0.1"), ip("10.0.0.3")).unwrap_or_default();
        assert_eq!(v.len(), 3);
        assert!(!cut);
        // 0.0.0.1 .. 0.0.0.20: "3" gt "20", so Perl stops after 2.
        let (v, cut) = expand_range(ip("0.0.0.1"), ip("0.0.0.20")).unwrap_or_default();
        assert_eq!(v.len(), 2);
        assert!(cut);
        assert!(expand_range(ip("10.0.0.3"), ip("10.0.0.1")).is_err());
        assert!(expand_range(ip("10.0.0.0"), ip("10.2.0.0")).is_err());
    }

    #[test]
    fn fallback_forms() {
        let f = parse_fallback("127.0.0.1:80 masq").ok();
        assert_eq!(
            f,
            Some(FallbackAddr {
                host: "127.0.0.1".into(),
                port: Some("80".into()),
                forward: Forward::Masq
            })
        );
        let f = parse_fallback("[::1]").ok();
        assert_eq!(
            f.map(|f| (f.host, f.port, f.forward)),
            Some(("[::1]".into(), None, Forward::Route))
        );
        assert!(parse_fallback("10.0.0.1 bogus").is_err());
    }

    #[test]
    fn numeric_ports() {
        let r = super::super::resolve::Static::new(&[], "http 80/tcp\n");
        assert_eq!(resolve_port(&r, "0080", None), Some(80));
        assert_eq!(resolve_port(&r, "0", None), Some(0));
        assert_eq!(resolve_port(&r, "65536", None), None);
        assert_eq!(resolve_port(&r, "http", Some("tcp")), Some(80));
        assert_eq!(resolve_port(&r, "http", Some("udp")), None);
    }
}
