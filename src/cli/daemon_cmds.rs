//! `lvsd run`, `lvsd drain`/`undrain`, and ldirectord's `[CONFIG] ACTION`.

use std::path::PathBuf;

use clap::Args;

use super::control::{self, Instance, EXIT_FAIL, EXIT_OK};
use crate::config;
use crate::daemon::maintenance::set_drained;
use crate::daemon::pidfile::{Flavor, PidFile};
use crate::daemon::run;

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
