//! Directives inside a virtual block (a `real=` line's flags: [`super::real`]).

use std::sync::LazyLock;

use regex::Regex;

use super::{key_value, re};
use crate::config::addr;
use crate::config::diag::Diagnostics;
use crate::config::draft::{at, ProtocolName, VirtualDraft};
use crate::config::httpcheck;
use crate::config::model::Netmask;
use crate::config::tunnel;
use crate::config::values;
use crate::lvs::Family;

/// Values that ldirectord only accepts in double quotes (`^key\s*=\s*\"(.*)\"`).
fn quoted_only<'a>(key: &str, value: &'a str) -> Result<&'a str, String> {
    values::quoted(value)
        .ok_or_else(|| format!("Unknown command ({key} needs a double-quoted value)"))
}

/// Values accepted quoted or bare (`checkcommand`, `fallbackcommand`, `monitorfile`).
fn maybe_quoted(value: &str) -> &str {
    values::quoted(value).unwrap_or(value)
}

fn nonempty(s: &str, what: &str) -> Result<String, String> {
    if s.is_empty() {
        Err(what.to_string())
    } else {
        Ok(s.to_string())
    }
}

pub fn directive(d: &mut VirtualDraft, rcmd: &str, line: usize, diags: &mut Diagnostics) {
    let Some((key, value)) = key_value(rcmd) else {
        diags.error(line, format!("Unknown command {:?}", rcmd.trim()));
        return;
    };
    // lvsd's extensions: ldirectord refuses the line (Unknown command).
    match httpcheck::directive(&mut d.httpcheck, key, value, line) {
        Some(Ok(())) => diags.warn(line, httpcheck::extension_warning(key)),
        Some(Err(m)) => diags.error(line, m),
        None if key == "pe" => match tunnel::pe(value) {
            Ok(p) => {
                d.pe = at(p, line);
                diags.warn(line, tunnel::extension_warning(key));
            }
            Err(m) => diags.error(line, m),
        },
        None => {
            if let Err(m) = apply(d, key, value, line, diags) {
                diags.error(line, m);
            }
        }
    }
}

fn apply(
    d: &mut VirtualDraft,
    key: &str,
    value: &str,
    line: usize,
    diags: &mut Diagnostics,
) -> Result<(), String> {
    let family = d.family.unwrap_or(Family::Inet);
    let o = &mut d.overrides;
    match key {
        "real" | "real6" => {
            let wants6 = family == Family::Inet6;
            if (key == "real6") != wants6 {
                let good = if wants6 { "real6" } else { "real" };
                return Err(format!(
                    "cannot specify \"{key}\" here.  please use \"{good}\" instead"
                ));
            }
            d.reals.push(super::real::real_line(value, line, diags)?);
        }
        "request" => {
            let v = nonempty(quoted_only(key, value)?, "no request string specified")?;
            d.request = Some(with_slash(v));
        }
        "receive" => {
            let v = nonempty(quoted_only(key, value)?, "invalid receive string")?;
            d.receive = at(v, line);
        }
        "checktype" => d.checktype = Some(values::checktype(value)?),
        "checkcommand" => {
            d.checkcommand = Some(nonempty(maybe_quoted(value), "invalid check command")?);
        }
        "checktimeout" => {
            o.checktimeout =
                Some(values::positive(value).map_err(|m| format!("invalid check timeout: {m}"))?);
        }
        "connecttimeout" => {
            return Err("connecttimeout directive deprecated in favour of negotiatetimeout".into())
        }
        "negotiatetimeout" => {
            o.negotiatetimeout = Some(
                values::positive(value).map_err(|m| format!("invalid negotiate timeout: {m}"))?,
            );
        }
        "checkcount" => {
            o.checkcount =
                Some(values::positive(value).map_err(|m| format!("invalid check count: {m}"))?);
            diags.warn(
                line,
                "checkcount option is deprecated and slated for removal.  please see 'failurecount'",
            );
        }
        "failurecount" => {
            o.failurecount =
                Some(values::positive(value).map_err(|m| format!("invalid failure count: {m}"))?);
        }
        "checkinterval" => {
            o.checkinterval =
                Some(values::positive(value).map_err(|m| format!("invalid checkinterval: {m}"))?);
        }
        "checkport" => {
            let n = values::number(value).map_err(|_| "invalid port".to_string())?;
            if n == 0 || n > 65_535 {
                return Err("checkport must be in range 1..65535".into());
            }
            d.checkport = Some(n as u16);
        }
        "login" => d.login = Some(nonempty(quoted_only(key, value)?, "invalid login string")?),
        "passwd" => d.passwd = Some(nonempty(quoted_only(key, value)?, "invalid password")?),
        "database" => d.database = Some(nonempty(quoted_only(key, value)?, "invalid database")?),
        "secret" => d.secret = Some(nonempty(quoted_only(key, value)?, "invalid secret")?),
        "load" => {
            let v = quoted_only(key, value)?;
            let word = WORD
                .find(v)
                .ok_or_else(|| "invalid string for load testing".to_string())?;
            d.load = Some(word.as_str().to_string());
        }
        "scheduler" => d.scheduler = Some(values::scheduler(value)?),
        "persistent" => {
            let n = values::number(value).map_err(|_| "invalid persistent timeout".to_string())?;
            d.persistent = at(n, line);
        }
        "schedflags" => d.schedflags = at(values::schedflags(value)?, line),
        "netmask" => d.netmask = at(netmask(value, family)?, line),
        "protocol" => d.protocol = at(protocol(value)?, line),
        "ops" => {
            let b = values::yes_no(value).map_err(|m| format!("ops {m}"))?;
            d.ops = at(b, line);
        }
        "service" => d.service = at(values::service(value)?, line),
        "httpmethod" => d.httpmethod = Some(values::httpmethod(value)?),
        "virtualhost" => {
            // `\"?([^\"]*)\"?`: up to the first quote after an optional one.
            let v = value.strip_prefix('"').unwrap_or(value);
            d.virtualhost = Some(v.split('"').next().unwrap_or("").to_string());
        }
        "fallback" | "fallback6" => {
            let wants6 = family == Family::Inet6;
            if (key == "fallback6") != wants6 {
                let good = if wants6 { "fallback6" } else { "fallback" };
                return Err(format!(
                    "cannot specify \"{key}\" here.  please use \"{good}\" instead"
                ));
            }
            addr::parse_fallback(value)?;
            o.fallback = Some(value.to_string());
            d.fallback_line = line;
        }
        "fallbackcommand" => {
            o.fallbackcommand = Some(nonempty(maybe_quoted(value), "invalid fallback command")?);
        }
        "quiescent" => {
            o.quiescent = Some(values::yes_no(value).map_err(|m| format!("quiescent {m}"))?)
        }
        "cleanstop" => {
            o.cleanstop = Some(values::yes_no(value).map_err(|m| format!("cleanstop {m}"))?)
        }
        "emailalert" => o.emailalert = Some(values::emailalert(value)?),
        "emailalertfreq" => o.emailalertfreq = Some(values::emailalertfreq(value)?),
        "emailalertstatus" => o.emailalertstatus = Some(values::emailalertstatus(value)?),
        "monitorfile" => d.monitorfile = Some(maybe_quoted(value).to_string()),
        "smtp" => o.smtp = Some(values::smtp(value)?),
        "servicename" => d.servicename = Some(value.to_string()),
        "comment" => d.comment = Some(value.to_string()),
        _ => return Err(format!("Unknown command \"{key}\" in a virtual block")),
    }
    Ok(())
}

static WORD: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9_]+"));
static DOTTED: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$"));
static DIGITS_ONLY: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]+$"));

pub fn with_slash(request: String) -> String {
    if request.starts_with('/') {
        request
    } else {
        format!("/{request}")
    }
}

pub fn netmask(value: &str, family: Family) -> Result<Netmask, String> {
    match family {
        Family::Inet6 => {
            let n: u8 = DIGITS_ONLY
                .is_match(value)
                .then(|| value.parse().ok())
                .flatten()
                .filter(|n| (1..=128).contains(n))
                .ok_or("invalid netmask: a prefix length between 1 and 128 is required")?;
            Ok(Netmask::V6Prefix(n))
        }
        Family::Inet => {
            if !DOTTED.is_match(value) {
                return Err("invalid netmask: dotted quad notation is required".into());
            }
            value
                .parse()
                .map(Netmask::V4)
                .map_err(|_| format!("invalid netmask {value:?}: an octet is above 255"))
        }
    }
}

pub fn protocol(value: &str) -> Result<ProtocolName, String> {
    match WORD.find(value).map(|m| m.as_str()) {
        Some("tcp") => Ok(ProtocolName::Tcp),
        Some("udp") => Ok(ProtocolName::Udp),
        Some("sctp") => Ok(ProtocolName::Sctp),
        Some("fwm") => Ok(ProtocolName::Fwm),
        Some(_) => Err("protocol must be tcp, udp, sctp or fwm".into()),
        None => Err("invalid protocol".into()),
    }
}
