//! The `lvsd` command line. Parsing with clap; each command group lives in its
//! own file (`config_cmds`: check/plan/convert, `ipvs_cmds`: list/save) and
//! returns the process exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config_cmds;
mod ipvs_cmds;
pub mod ldcompat;

/// Exit code for a configuration error, as ldirectord uses.
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "Linux Virtual Server director (ldirectord replacement)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(a) => config_cmds::check(a),
        Command::Plan(a) => config_cmds::plan(a),
        Command::Convert(a) => config_cmds::convert(a),
        Command::List(a) => ipvs_cmds::list(a),
        Command::Save(a) => ipvs_cmds::save(a),
        Command::Restore(a) => ipvs_cmds::restore(a),
    };
    ExitCode::from(code)
}
