//! One log line in each target's format (file, syslog datagram, stdout),
//! from a tracing event. Pure.

use super::*;

/// The facility code of a syslog facility name.
pub fn facility(name: &str) -> Option<u8> {
    let code = match name.to_ascii_lowercase().as_str() {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        other => {
            let n: u8 = other.strip_prefix("local")?.parse().ok()?;
            if n > 7 {
                return None;
            }
            16 + n
        }
    };
    Some(code)
}

/// The syslog severity of a tracing level.
pub fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// The name lvsd runs as: `ldirectord` when installed under that name.
pub(super) fn ident() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    match Path::new(&argv0).file_name().and_then(|n| n.to_str()) {
        Some("ldirectord") => "ldirectord".into(),
        _ => "lvsd".into(),
    }
}

/// One event's text: the message, then `name=value` fields as tracing's
/// own formatter writes them.
#[derive(Default)]
pub(super) struct Text {
    pub(super) message: String,
    pub(super) fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// The file line: the same layout as lvsd's stderr lines.
pub fn file_line(
    utc: &chrono::DateTime<chrono::Utc>,
    level: &Level,
    target: &str,
    text: &str,
) -> String {
    format!(
        "{} {level:>5} {target}: {text}\n",
        utc.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// An RFC 3164 message: `<PRI>Mmm dd hh:mm:ss ident[pid]: text`.
pub fn syslog_line(
    local: &chrono::DateTime<chrono::Local>,
    facility: u8,
    level: &Level,
    ident: &str,
    pid: u32,
    text: &str,
) -> String {
    let pri = u32::from(facility) * 8 + u32::from(severity(level));
    format!(
        "<{pri}>{} {ident}[{pid}]: {text}",
        local.format("%b %e %H:%M:%S")
    )
}

/// ldirectord's supervised line: `[Sun Nov 22 05:30:35 2026] text`.
pub fn stdout_line(local: &chrono::DateTime<chrono::Local>, text: &str) -> String {
    format!("[{}] {text}\n", ctime(local))
}

/// Perl's scalar `localtime()`, which ldirectord puts in its lines.
pub fn ctime(local: &chrono::DateTime<chrono::Local>) -> String {
    local.format("%a %b %e %H:%M:%S %Y").to_string()
}
