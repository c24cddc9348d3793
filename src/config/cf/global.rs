//! Top-level (global) directives of ldirectord.cf.

use std::path::PathBuf;

use super::key_value;
use crate::config::build::resolve_fallback;
use crate::config::diag::Diagnostics;
use crate::config::model::{Global, GlobalFallback, LogTarget};
use crate::config::resolve::Resolver;
use crate::config::values;
use crate::lvs::Family;

/// Which globals were written, where the distinction matters for warnings.
#[derive(Debug, Default)]
pub struct Seen {
    pub quiescent: bool,
}

/// The global fallback of `family` from its text (shared with the TOML loader).
pub fn fallback(
    text: &str,
    family: Family,
    line: usize,
    r: &dyn Resolver,
) -> Result<GlobalFallback, String> {
    let (ip, port, forward) = resolve_fallback(text, family, None, None, r)?;
    Ok(GlobalFallback {
        ip,
        port,
        forward,
        written: text.to_string(),
        line,
    })
}

/// `logfile`: a path, or a syslog facility when it does not start with `/`.
pub fn logfile(text: &str) -> LogTarget {
    if text.starts_with('/') {
        LogTarget::File(PathBuf::from(text))
    } else {
        LogTarget::Syslog(text.to_string())
    }
}

pub fn directive(
    g: &mut Global,
    seen: &mut Seen,
    text: &str,
    line: usize,
    r: &dyn Resolver,
    diags: &mut Diagnostics,
) {
    let unknown = |diags: &mut Diagnostics| {
        let hint = if text.starts_with([' ', '\t']) {
            " (an indented line outside a virtual block: in ldirectord a blank line ends the block)"
        } else {
            ""
        };
        diags.error(line, format!("Unknown command {text:?}{hint}"));
    };
    if text.starts_with("supervised") {
        match key_value(text) {
            Some(("supervised", v)) => match values::yes_no(v) {
                Ok(b) => g.supervised = b,
                Err(m) => diags.error(line, format!("supervised {m}")),
            },
            _ if text.trim_end() == "supervised" => {
                g.supervised = true;
                diags.warn(
                    line,
                    "please update your config not to use a bare supervised directive",
                );
            }
            _ => diags.error(line, "supervised must be 'yes' or 'no'"),
        }
        return;
    }
    let Some((key, value)) = key_value(text) else {
        unknown(diags);
        return;
    };
    match key {
        "checktimeout" => match values::positive(value) {
            Ok(n) => g.checktimeout = Some(n),
            Err(m) => diags.error(line, format!("invalid check timeout value: {m}")),
        },
        "negotiatetimeout" => match values::positive(value) {
            Ok(n) => g.negotiatetimeout = Some(n),
            Err(m) => diags.error(line, format!("invalid negotiate timeout value: {m}")),
        },
        "connecttimeout" => diags.error(
            line,
            "connecttimeout directive deprecated in favour of negotiatetimeout",
        ),
        "timeout" => diags.error(
            line,
            "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
        ),
        "checkinterval" => match values::positive(value) {
            Ok(n) => g.checkinterval = n,
            Err(m) => diags.error(line, format!("invalid check interval value: {m}")),
        },
        "checkcount" => match values::positive(value) {
            Ok(n) => {
                g.checkcount = n;
                diags.warn(
                    line,
                    "checkcount option is deprecated and slated for removal.  please see 'failurecount'",
                );
            }
            Err(m) => diags.error(line, format!("invalid check count value: {m}")),
        },
        "failurecount" => match values::positive(value) {
            Ok(n) => g.failurecount = n,
            Err(m) => diags.error(line, format!("invalid failure count value: {m}")),
        },
        "fallback" | "fallback6" => {
            let family = if key == "fallback" {
                Family::Inet
            } else {
                Family::Inet6
            };
            match fallback(value, family, line, r) {
                Ok(f) if family == Family::Inet => g.fallback = Some(f),
                Ok(f) => g.fallback6 = Some(f),
                Err(m) => diags.error(line, m),
            }
        }
        "fallbackcommand" => match value {
            "" => diags.error(line, "invalid fallback command"),
            v => g.fallbackcommand = Some(v.to_string()),
        },
        "autoreload" => match values::yes_no(value) {
            Ok(b) => g.autoreload = b,
            Err(m) => diags.error(line, format!("autoreload {m}")),
        },
        "callback" => match values::quoted(value) {
            Some(v) => g.callback = Some(v.to_string()),
            None => diags.error(
                line,
                format!("Unknown command {text:?} (callback needs a quoted path)"),
            ),
        },
        "logfile" => match values::quoted(value) {
            Some("") | None => diags.error(
                line,
                format!(
                    "unable to open logfile: {value} (logfile needs a quoted path or facility)"
                ),
            ),
            Some(v) => g.logfile = logfile(v),
        },
        // ldirectord hands the value to a shell, which drops the quotes its
        // manual puts around it.
        "execute" => match values::quoted(value).unwrap_or(value).trim() {
            "" => diags.error(line, "execute needs a configuration file name"),
            name => g.execute.push(name.to_string()),
        },
        "fork" => match values::yes_no(value) {
            Ok(b) => g.fork = b,
            Err(m) => diags.error(line, format!("fork {m}")),
        },
        "quiescent" => match values::yes_no(value) {
            Ok(b) => {
                g.quiescent = b;
                seen.quiescent = true;
            }
            Err(m) => diags.error(line, format!("quiescent {m}")),
        },
        "readdquiescent" => match values::yes_no(value) {
            Ok(b) => g.readdquiescent = b,
            Err(m) => diags.error(line, format!("readdquiescent {m}")),
        },
        "emailalert" => match values::emailalert(value) {
            Ok(v) => g.emailalert = Some(v),
            Err(m) => diags.error(line, m),
        },
        "emailalertfreq" => match values::emailalertfreq(value) {
            Ok(n) => g.emailalertfreq = n,
            Err(m) => diags.error(line, m),
        },
        "emailalertstatus" => match values::emailalertstatus(value) {
            Ok(s) => g.emailalertstatus = s,
            Err(m) => diags.error(line, m),
        },
        "emailalertfrom" => match value {
            "" => diags.error(line, "no email from address specified"),
            v => g.emailalertfrom = Some(v.to_string()),
        },
        "cleanstop" => match values::yes_no(value) {
            Ok(b) => g.cleanstop = b,
            Err(m) => diags.error(line, format!("cleanstop {m}")),
        },
        "smtp" => match values::smtp(value) {
            Ok(v) => g.smtp = Some(v),
            Err(m) => diags.error(line, m),
        },
        "maintenancedir" => match value {
            "" => diags.error(line, "maintenance directory not specified"),
            v => g.maintenancedir = Some(PathBuf::from(v)),
        },
        // An lvsd extension: ldirectord refuses the line (Unknown command).
        "metrics" => match values::metrics(value) {
            Ok(a) => {
                g.metrics = Some(a);
                diags.warn(
                    line,
                    "metrics is an lvsd extension: ldirectord refuses this file",
                );
            }
            Err(m) => diags.error(line, m),
        },
        other => match super::super::sync::directive(&mut g.sync, other, value, line) {
            Some(Ok(())) => {}
            Some(Err(m)) => diags.error(line, m),
            None => unknown(diags),
        },
    }
}
