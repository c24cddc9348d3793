//! Value grammars shared by both formats, with ldirectord's exact matching
//! rules (its regexes are unanchored: `checktimeout=10s` reads 10).
//!
//! Every function is pure and returns `Err(message)` for the caller to turn
//! into a diagnostic at the right line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;

use regex::Regex;

use super::model::{AlertStatus, CheckService, CheckType, HttpMethod};
use crate::lvs::{Forward, Receive, SchedFlags};

fn re(pattern: &str) -> Regex {
    // The patterns are literals in this file; a typo is caught by the tests.
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("bad built-in regex {pattern}: {e}"))
}

static DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9]+"));
static WORD: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9_]+"));
static WORD_DASH: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9_-]+"));
static LOWER: LazyLock<Regex> = LazyLock::new(|| re(r"[a-z]+"));
static NONSPACE: LazyLock<Regex> = LazyLock::new(|| re(r"\S+"));
static HOSTLIKE: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9A-Za-z._+-]+"));

/// The first run of ASCII digits anywhere in `s`, as ldirectord's `/(\d+)/`.
pub fn first_digits(s: &str) -> Option<&str> {
    DIGITS.find(s).map(|m| m.as_str())
}

/// A number ldirectord reads with `/(\d+)/`: the first digit run, which may
/// be preceded or followed by anything.
pub fn number(s: &str) -> Result<u32, String> {
    let d = first_digits(s).ok_or_else(|| format!("{s:?} is not a number"))?;
    d.parse::<u32>().map_err(|_| format!("{d} is too large"))
}

/// As [`number`], and zero is refused (`$1 =~ /(\d+)/ && $1`).
pub fn positive(s: &str) -> Result<u32, String> {
    match number(s)? {
        0 => Err("must be greater than 0".into()),
        n => Ok(n),
    }
}

/// Exactly `yes` or `no`: ldirectord compares the whole rest of the line,
/// so trailing spaces or a trailing comment make the value invalid.
pub fn yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ if matches!(s.split_whitespace().next(), Some("yes" | "no")) => Err(format!(
            "must be 'yes' or 'no' (got {s:?}: ldirectord does not allow trailing text)"
        )),
        _ => Err(format!("must be 'yes' or 'no' (got {s:?})")),
    }
}

/// `metrics` (an lvsd extension): `[HOST:]PORT` with HOST an IP literal
/// (`[::1]` for IPv6); a bare port binds 127.0.0.1 so nothing is exposed
/// beyond the host unless asked for.
pub fn metrics(s: &str) -> Result<SocketAddr, String> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid metrics port {p:?} (1-65535)")),
        Ok(n) => Ok(n),
    };
    if !s.contains(':') {
        return Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port(s)?));
    }
    let (host, p) = match s.rsplit_once(':') {
        Some((h, p)) if h.starts_with('[') && h.ends_with(']') => (&h[1..h.len() - 1], p),
        Some((h, _)) if h.contains(':') => {
            return Err(format!(
                "invalid metrics address {s:?}: write an IPv6 address in brackets, [::1]:PORT"
            ))
        }
        Some((h, p)) => (h, p),
        None => unreachable!("the text contains ':'"),
    };
    let ip: IpAddr = host.parse().map_err(|_| {
        format!("invalid metrics address {s:?}: expected [HOST:]PORT with HOST an IP address")
    })?;
    Ok(SocketAddr::new(ip, port(p)?))
}

/// `"..."` as ldirectord's `/^\"(.*)\"/`: from the first quote to the last.
pub fn quoted(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('"')?;
    let end = rest.rfind('"')?;
    Some(&rest[..end])
}

pub fn checktype(s: &str) -> Result<CheckType, String> {
    if let Some(d) = first_digits(s) {
        return d
            .parse::<u32>()
            .map(CheckType::Combined)
            .map_err(|_| format!("{d} is too large"));
    }
    let word = WORD_DASH.find(s).map(|m| m.as_str());
    Ok(match word {
        Some("connect") => CheckType::Connect,
        Some("negotiate") => CheckType::Negotiate,
        Some("ping") => CheckType::Ping,
        Some("off") => CheckType::Off,
        Some("on") => CheckType::On,
        Some("external") => CheckType::External,
        Some("external-perl") => CheckType::ExternalPerl,
        _ => {
            return Err(
                "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \
                        \"ping\", \"external\", \"external-perl\" or a positive number"
                    .into(),
            )
        }
    })
}

pub fn service(s: &str) -> Result<CheckService, String> {
    WORD.find(s)
        .and_then(|m| CheckService::from_name(m.as_str()))
        .ok_or_else(|| {
            "service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, \
             mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp \
             or submission"
                .into()
        })
}

pub fn httpmethod(s: &str) -> Result<HttpMethod, String> {
    match WORD
        .find(s)
        .map(|m| m.as_str().to_ascii_uppercase())
        .as_deref()
    {
        Some("GET") => Ok(HttpMethod::Get),
        Some("HEAD") => Ok(HttpMethod::Head),
        _ => Err("httpmethod must be GET or HEAD".into()),
    }
}

/// `scheduler`: the first run of lowercase letters (`/([a-z]+)/`).
pub fn scheduler(s: &str) -> Result<String, String> {
    LOWER
        .find(s)
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| "invalid scheduler, should be only lowercase letters (a-z)".into())
}

/// `schedflags`: the first non-space run, as ipvsadm's `-b` list. ldirectord
/// leaves a bad flag to ipvsadm at run time; lvsd refuses it at load.
pub fn schedflags(s: &str) -> Result<SchedFlags, String> {
    let text = NONSPACE
        .find(s)
        .map(|m| m.as_str())
        .ok_or("invalid sched-flags")?;
    SchedFlags::parse(text)
}

/// `smtp`: a host-like prefix (`/(^([0-9A-Za-z._+-]+))/`), as ldirectord
/// reads it, plus an optional `:PORT` that lvsd honours (ldirectord drops it
/// and always uses 25).
pub fn smtp(s: &str) -> Result<String, String> {
    let host = HOSTLIKE
        .find(s)
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| "invalid SMTP server address".to_string())?;
    let port = s[host.len()..]
        .strip_prefix(':')
        .map(|p| p.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""))
        .filter(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    Ok(match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// `emailalert`: enclosing quotes are stripped; it must not be empty.
pub fn emailalert(s: &str) -> Result<String, String> {
    let inner = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(i) if !i.contains('"') => i,
        _ => s,
    };
    if inner.is_empty() {
        Err("no email address specified".into())
    } else {
        Ok(inner.to_string())
    }
}

/// `emailalertfreq`: ldirectord reads only leading digits (`(\d*)`).
pub fn emailalertfreq(s: &str) -> Result<u32, String> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let d = &s[..end];
    if d.is_empty() {
        return Err("invalid email alert frequency".into());
    }
    d.parse().map_err(|_| format!("{d} is too large"))
}

pub fn emailalertstatus(s: &str) -> Result<AlertStatus, String> {
    let parts: Vec<&str> = split_commas(s);
    let none = parts.contains(&"none");
    let mut st = AlertStatus::NONE;
    for p in &parts {
        match *p {
            "none" => continue,
            "all" => st = AlertStatus::ALL,
            "starting" => st.starting = true,
            "running" => st.running = true,
            "stopping" => st.stopping = true,
            "reloading" => st.reloading = true,
            other => return Err(format!("invalid email alert status at: {other:?}")),
        }
        if none {
            return Err(format!(
                "invalid email alert status: {p:?} specified with \"none\""
            ));
        }
    }
    Ok(st)
}

/// Perl's `split /\s*,\s*/`: empty trailing fields are dropped.
fn split_commas(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.split(',').map(str::trim).collect();
    if let Some(first) = v.first_mut() {
        *first = first.trim_start();
    }
    while v.last() == Some(&"") {
        v.pop();
    }
    v
}

pub fn forward(s: &str) -> Option<Forward> {
    match s {
        "gate" => Some(Forward::Route),
        "masq" => Some(Forward::Masq),
        "ipip" => Some(Forward::Tunnel),
        _ => None,
    }
}

pub fn forward_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "masq",
        Forward::Tunnel => "ipip",
        _ => "gate",
    }
}

/// Remembers the `receive` patterns already compiled: a farm repeats the
/// same few thousands of times, compiling each costs microseconds, and the
/// compiled pattern is shared (it is behind an `Arc`).
#[derive(Debug, Default)]
pub struct RegexMemo {
    seen: std::collections::HashMap<String, Result<Receive, String>>,
}

impl RegexMemo {
    pub fn compile(&mut self, s: &str) -> Result<Receive, String> {
        if let Some(r) = self.seen.get(s) {
            return r.clone();
        }
        let r = receive_regex(s);
        self.seen.insert(s.to_string(), r.clone());
        r
    }
}

/// A `receive` string is a Perl regex; lvsd evaluates it with fancy-regex,
/// so an invalid one is a configuration error here, not a runtime surprise.
pub fn receive_regex(s: &str) -> Result<Receive, String> {
    Receive::new(s).map_err(|e| format!("invalid receive regex {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_perl() {
        let cases: [(&str, Result<u32, ()>); 5] = [
            ("10", Ok(10)),
            ("10s", Ok(10)),
            ("x7y", Ok(7)),
            ("0", Err(())),
            ("", Err(())),
        ];
        for (input, want) in cases {
            assert_eq!(positive(input).map_err(|_| ()), want, "{input:?}");
        }
        assert_eq!(emailalertfreq("5x"), Ok(5));
        assert!(emailalertfreq("x5").is_err());
    }

    #[test]
    fn yes_no_is_exact() {
        assert_eq!(yes_no("yes"), Ok(true));
        assert_eq!(yes_no("no"), Ok(false));
        assert!(yes_no("yes ").unwrap_err().contains("trailing"));
        assert!(yes_no("Yes").is_err());
    }

    #[test]
    fn quoted_takes_first_to_last_quote() {
        assert_eq!(quoted(r#""a"b" x"#), Some(r#"a"b"#));
        assert_eq!(quoted("a"), None);
        assert_eq!(quoted(r#""""#), Some(""));
    }

    #[test]
    fn checktype_words_and_numbers() {
        assert_eq!(checktype("connect"), Ok(CheckType::Connect));
        assert_eq!(checktype("external-perl"), Ok(CheckType::ExternalPerl));
        assert_eq!(checktype("3"), Ok(CheckType::Combined(3)));
        assert_eq!(checktype("on # x"), Ok(CheckType::On));
        assert!(checktype("bogus").is_err());
    }

    #[test]
    fn smtp_keeps_a_port_and_drops_the_rest() {
        assert_eq!(smtp("mx.example").as_deref(), Ok("mx.example"));
        assert_eq!(smtp("127.0.0.1:2525").as_deref(), Ok("127.0.0.1:2525"));
        assert_eq!(smtp("mx:0").as_deref(), Ok("mx"));
        assert_eq!(smtp("mx junk").as_deref(), Ok("mx"));
        assert!(smtp(":25").is_err());
    }

    #[test]
    fn alert_status_lists() {
        assert_eq!(emailalertstatus("all"), Ok(AlertStatus::ALL));
        assert_eq!(emailalertstatus("none"), Ok(AlertStatus::NONE));
        let s = emailalertstatus("starting, running").unwrap_or(AlertStatus::NONE);
        assert!(s.starting && s.running && !s.stopping);
        assert_eq!(s.to_text(), "starting,running");
        assert!(emailalertstatus("none,running").is_err());
        assert!(emailalertstatus("bogus").is_err());
    }

    #[test]
    fn receive_must_compile() {
        assert!(receive_regex(r"(?<=a)b\d+").is_ok());
        assert!(receive_regex("(unclosed").is_err());
    }
}
