//! `lvsd run`, `lvsd drain`/`undrain`, and ldirectord's `[CONFIG] ACTION`.

use std::path::PathBuf;

use clap::Args;

use crate::check::escape_text;
use crate::config;
use crate::daemon::control::{self, Instance, EXIT_FAIL, EXIT_OK};
use crate::daemon::maintenance::set_drained;
use crate::daemon::pidfile::{Flavor, PidFile};
use crate::daemon::run;
use crate::daemon::status::DaemonStatus;

use super::ldcompat::LdArgs;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (default: ldirectord's search for ldirectord.cf).
    pub config: Option<String>,
    /// Instance name for the state and status files (default: as ldirectord
    /// names it, from the configuration argument).
    #[arg(long)]
    pub name: Option<String>,
    /// Write this pid file once the table is programmed.
    #[arg(long)]
    pub pidfile: Option<PathBuf>,
    /// Seconds between full re-reads of the kernel table (drift repair).
    #[arg(long, default_value_t = 10)]
    pub resync: u64,
    /// Run `execute=` instances as `ldirectord` (set by `ldirectord start`).
    #[arg(long, hide = true)]
    pub as_ldirectord: bool,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// The real server: IP or IP:PORT (the name of its maintenance file).
    pub real: String,
    /// Configuration file whose maintenancedir to use.
    #[arg(short, long)]
    pub config: Option<String>,
}

fn ld_name(config: Option<&str>) -> String {
    LdArgs {
        debug: false,
        config: config.map(str::to_string),
        action: super::ldcompat::Action::Status,
        pidfile: None,
        format: super::ldcompat::Format::Text,
    }
    .config_name()
}

/// `lvsd run`: the director in the foreground (systemd's ExecStart).
pub fn run(a: RunArgs) -> u8 {
    let name = a.name.unwrap_or_else(|| ld_name(a.config.as_deref()));
    let flavor = if a.as_ldirectord {
        Flavor::Ldirectord
    } else {
        Flavor::Lvsd
    };
    let mut inst = Instance::new(flavor, a.config.as_deref(), name);
    if let Some(p) = a.pidfile {
        inst.pidfile = PidFile { path: p };
    }
    let mut opts = inst.run_options(true);
    opts.resync = std::time::Duration::from_secs(a.resync.max(1));
    match run::run(opts) {
        Ok(()) => EXIT_OK,
        Err(run::DaemonError::Config(_)) => control::EXIT_CONFIG,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("lvsd: {e}");
            EXIT_FAIL
        }
    }
}

/// `lvsd drain REAL` / `lvsd undrain REAL`.
pub fn drain(a: DrainArgs, drained: bool) -> u8 {
    let path = config::find_config(a.config.as_deref().map(std::path::Path::new));
    let loaded = config::load(&path);
    if loaded.has_errors() {
        for d in &loaded.diagnostics {
            eprintln!("{d}");
        }
        return control::EXIT_CONFIG;
    }
    match set_drained(
        loaded.config.global.maintenancedir.as_deref(),
        &a.real,
        drained,
    ) {
        Ok(file) => {
            let what = if drained { "drained" } else { "undrained" };
            println!("{} {what} ({})", a.real, file.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("lvsd: {e}");
            EXIT_FAIL
        }
    }
}

/// ldirectord's command line.
pub fn ldirectord(flavor: Flavor, a: LdArgs) -> u8 {
    let inst = Instance::from_ld(flavor, &a);
    control::act(&inst, a.action, a.debug, a.format)
}

/// `s` with every text escaped, for `lvsd status` on a terminal. The daemon
/// writes escaped reasons already; this holds for a status file edited or
/// written by something else too (root-owned, but read by a terminal).
pub fn escaped_status(s: &DaemonStatus) -> DaemonStatus {
    let mut s = s.clone();
    for v in &mut s.virtuals {
        v.service = escape_text(&v.service);
        v.scheduler = escape_text(&v.scheduler);
        for r in &mut v.reals {
            r.real = escape_text(&r.real);
            r.health = escape_text(&r.health);
            r.last = r.last.as_deref().map(escape_text);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{render, RealStatus, VirtualStatus};

    #[test]
    fn a_hand_edited_status_renders_without_control_characters() {
        let s = DaemonStatus {
            pid: 1,
            config: "/etc/ha.d/web.cf".into(),
            virtuals: vec![VirtualStatus {
                service: "tcp 10.0.0.1:80\x1b]0;x\x07".into(),
                ipvsadm: String::new(),
                scheduler: "wrr".into(),
                present: true,
                fallback_active: false,
                reals: vec![RealStatus {
                    real: "10.0.1.1:80".into(),
                    health: "up".into(),
                    maintenance: false,
                    weight: Some(1),
                    configured_weight: 1,
                    failures: 0,
                    last: Some("down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)".into()),
                }],
            }],
        };
        let out = render(&escaped_status(&s));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let controls = lines.iter().flat_map(|l| l.chars()).any(char::is_control);
        assert!(!controls, "{out:?}");
        assert!(lines[1].ends_with(r"down (x: \x1b[2J\nlvsd[1]: real 10.0.1.2:80 up)"));
        assert!(lines[0].starts_with(r"tcp 10.0.0.1:80\x1b]0;x\x07"));
    }
}
