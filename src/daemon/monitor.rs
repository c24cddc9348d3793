//! Per-virtual `monitorfile=`: one line per probe result, in ldirectord's
//! format, the file opened per write:
//!
//! `[Sun Nov 22 05:30:35 2026] [PID] CHECK PROTO RIP PORT VHOST CHECKPORT WEIGHT FORWARD REQUEST RECEIVE [up|down] MESSAGE`
//!
//! (ldirectord's real id with every run of `:` turned into one space, and
//! `%`, `|`, CR and LF in the message URI-escaped). Unlike ldirectord, a
//! write that fails does not kill the director: it is logged, at most once a
//! minute per file.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tracing::error;

use crate::check::Outcome;
use crate::config::model::{CheckType, Config, Real, Virtual};
use crate::director::desired::RealKey;

use super::logging::ctime;

const ERROR_EVERY: Duration = Duration::from_secs(60);

/// Where one real's results go and how its lines name it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    path: PathBuf,
    id: String,
}

/// The monitor files of the running configuration; cheap to share with the
/// check tasks (see [`crate::check::engine::Observer`]).
#[derive(Default)]
pub struct MonitorFiles {
    targets: RwLock<HashMap<RealKey, Target>>,
    last_error: Mutex<HashMap<PathBuf, Instant>>,
}

impl MonitorFiles {
    pub fn new(config: &Config) -> Arc<MonitorFiles> {
        let m = Arc::new(MonitorFiles::default());
        m.set_config(config);
        m
    }

    /// True when some virtual has a monitorfile.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Takes the monitor files of a new configuration (reload).
    pub fn set_config(&self, config: &Config) {
        let mut t = HashMap::new();
        for v in &config.virtuals {
            let Some(path) = &v.monitorfile else { continue };
            for r in &v.reals {
                t.insert(
                    RealKey {
                        service: v.key,
                        real: r.addr,
                    },
                    Target {
                        path: PathBuf::from(path),
                        id: real_id(v, r),
                    },
                );
            }
        }
        *self.targets.write().unwrap_or_else(|p| p.into_inner()) = t;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<RealKey, Target>> {
        self.targets.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends the line for one probe result, if its virtual has a file.
    pub fn record(&self, key: &RealKey, outcome: &Outcome) {
        let Some(target) = self.read().get(key).cloned() else {
            return;
        };
        let msg = match outcome {
            Outcome::Up => "-".to_string(),
            Outcome::Down(f) => f.to_string(),
        };
        let text = line(
            &ctime(&chrono::Local::now()),
            std::process::id(),
            &target.id,
            outcome.is_up(),
            &msg,
        );
        if let Err(e) = append(&target.path, &text) {
            let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let due = last
                .get(&target.path)
                .map_or(true, |t| now.duration_since(*t) >= ERROR_EVERY);
            if due {
                last.insert(target.path.clone(), now);
                error!(
                    file = %target.path.display(),
                    error = %e,
                    "cannot write the monitorfile (said at most once a minute)"
                );
            }
        }
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// One monitorfile line.
pub fn line(time: &str, pid: u32, real_id: &str, up: bool, msg: &str) -> String {
    let state = if up { "up" } else { "down" };
    format!("[{time}] [{pid}] {real_id} [{state}] {}\n", escape(msg))
}

/// `%`, `|`, CR and LF as `%xx`, so that one result stays one line.
pub fn escape(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        match c {
            '%' | '|' | '\r' | '\n' => out.push_str(&format!("%{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// ldirectord's id of a real (`get_real_id_str`), as its monitorfile
/// writes it: the fields joined by `:`, then every run of `:` squeezed into
/// one space.
pub fn real_id(v: &Virtual, r: &Real) -> String {
    let check = match v.checktype {
        CheckType::Negotiate => format!("negotiate:{}", v.service.name()),
        CheckType::Combined(_) => format!("combined:{}", v.service.name()),
        CheckType::External | CheckType::ExternalPerl => {
            format!("{}:{}", v.checktype.name(), v.checkcommand)
        }
        other => other.name(),
    };
    let protocol = match v.protocol() {
        Some(crate::ipvs::Protocol::Tcp) => "tcp".to_string(),
        Some(crate::ipvs::Protocol::Udp) => "udp".to_string(),
        Some(crate::ipvs::Protocol::Sctp) => "sctp".to_string(),
        None => "fwm".to_string(),
    };
    let raw = [
        check,
        protocol,
        r.addr.ip().to_string(),
        r.addr.port().to_string(),
        v.virtualhost.clone().unwrap_or_default(),
        v.checkport.map(|p| p.to_string()).unwrap_or_default(),
        r.weight.to_string(),
        forward_name(r.forward).into(),
        v.exchange_of(r).0.to_string(),
        v.exchange_of(r).1.map_or("", |p| p.source()).to_string(),
    ]
    .join(":");
    let mut out = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.chars() {
        if c == ':' {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out
}

fn forward_name(f: crate::ipvs::Forward) -> &'static str {
    use crate::ipvs::Forward;
    match f {
        Forward::Masq => "masq",
        Forward::Tunnel => "ipip",
        // Route (gate) and the kernel's local forwarding.
        _ => "gate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_stays_on_one_line() {
        assert_eq!(escape("a|b%c\r\nd"), "a%7cb%25c%0d%0ad");
        assert_eq!(
            line(
                "Sun Nov 22 05:30:35 2026",
                7,
                "connect tcp 10.0.0.2 80 1 gate",
                false,
                "x|y"
            ),
            "[Sun Nov 22 05:30:35 2026] [7] connect tcp 10.0.0.2 80 1 gate [down] x%7cy\n"
        );
    }

    #[test]
    fn real_ids_squeeze_colons_as_ldirectord() {
        let cf = "virtual=10.0.0.1:80\n\treal=10.0.0.2:8080 masq 3\n\tchecktype=negotiate\n\
                  \tservice=http\n\trequest=\"index.html\"\n\treceive=\"ok\"\n\
                  \tmonitorfile=\"/tmp/m\"\n";
        let config = crate::config::test_config(cf);
        let v = &config.virtuals[0];
        assert_eq!(
            real_id(v, &v.reals[0]),
            "negotiate http tcp 10.0.0.2 8080 3 masq /index.html ok"
        );
    }
}
