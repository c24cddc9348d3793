//! The `lvsd` command line. Parsing with clap; each command group lives in its
//! own file (`config_cmds`: check/plan/convert, `ipvs_cmds`: list/save/restore,
//! `daemon_cmds`: run/drain and ldirectord's `[CONFIG] ACTION` form) and
//! returns the process exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::daemon::pidfile::Flavor;

mod config_cmds;
mod control;
mod daemon_cmds;
mod invocation;
mod ipvs_admin;
mod ipvs_cmds;
pub mod ldcompat;

/// Exit code for a configuration error, as ldirectord uses.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a malformed command line (clap's).
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "Linux Virtual Server director (ldirectord replacement)",
    after_help = "ldirectord's form also works: lvsd [-d] [--pidfile FILE] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status [--json|--porcelain]"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the director in the foreground (for systemd: Type=notify).
    Run(daemon_cmds::RunArgs),
    /// Validate a configuration (ldirectord.cf or TOML); report every error as FILE:LINE: message.
    Check(config_cmds::CheckArgs),
    /// Print the IPVS table a configuration programs, in `ipvsadm -S -n` format.
    Plan(config_cmds::PlanArgs),
    /// Print the TOML equivalent of an ldirectord.cf.
    Convert(config_cmds::ConvertArgs),
    /// List the kernel's IPVS table exactly as `ipvsadm -L` does.
    List(ipvs_cmds::ListArgs),
    /// Print the kernel's IPVS table exactly as `ipvsadm -S` does.
    Save(ipvs_cmds::SaveArgs),
    /// Load `ipvsadm -S -n` rules from standard input (like `ipvsadm -R`, without flushing).
    Restore(ipvs_cmds::RestoreArgs),
    /// Zero the counters of one service or of all, as `ipvsadm --zero`.
    Zero(ipvs_admin::ZeroArgs),
    /// Set the connection timeouts, as `ipvsadm --set TCP TCPFIN UDP`.
    Set(ipvs_admin::SetArgs),
    /// Put a real server in maintenance (a file in maintenancedir): it is taken down.
    Drain(daemon_cmds::DrainArgs),
    /// Take a real server out of maintenance.
    Undrain(daemon_cmds::DrainArgs),
}

/// Logs go to stderr: the terminal, or the journal under systemd; the
/// daemon also copies them to its `logfile=` (see `daemon::logging`).
/// `LVSD_LOG` filters both.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("LVSD_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (copy, handle) = crate::daemon::logging::layer();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(filter());
    if tracing_subscriber::registry()
        .with(stderr)
        .with(copy.with_filter(filter()))
        .try_init()
        .is_ok()
    {
        crate::daemon::logging::install(handle);
    }
}

pub fn main() -> ExitCode {
    init_logging();
    let argv: Vec<String> = std::env::args().collect();
    let flavor = Flavor::from_argv0(argv.first().map(String::as_str).unwrap_or("lvsd"));
    match ldcompat::parse(argv.get(1..).unwrap_or_default()) {
        Some(Ok(ld)) => return ExitCode::from(daemon_cmds::ldirectord(flavor, ld)),
        Some(Err(e)) => {
            eprintln!("{}: {e}", flavor.name());
            return ExitCode::from(EXIT_USAGE);
        }
        None => {}
    }
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(a) => daemon_cmds::run(a),
        Command::Check(a) => config_cmds::check(a),
        Command::Plan(a) => config_cmds::plan(a),
        Command::Convert(a) => config_cmds::convert(a),
        Command::List(a) => ipvs_cmds::list(a),
        Command::Save(a) => ipvs_cmds::save(a),
        Command::Restore(a) => ipvs_cmds::restore(a),
        Command::Zero(a) => ipvs_admin::zero(a),
        Command::Set(a) => ipvs_admin::set(a),
        Command::Drain(a) => daemon_cmds::drain(a, true),
        Command::Undrain(a) => daemon_cmds::drain(a, false),
    };
    ExitCode::from(code)
}
