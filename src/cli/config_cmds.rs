//! `lvsd check`, `lvsd plan`, `lvsd convert`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file (default: ldirectord's search for ldirectord.cf).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Assume every real server is up.
    #[arg(long)]
    pub all_up: bool,
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    pub file: PathBuf,
}

pub fn check(_a: CheckArgs) -> u8 {
    eprintln!("lvsd check: not available in this build yet");
    1
}

pub fn plan(_a: PlanArgs) -> u8 {
    eprintln!("lvsd plan: not available in this build yet");
    1
}

pub fn convert(_a: ConvertArgs) -> u8 {
    eprintln!("lvsd convert: not available in this build yet");
    1
}
