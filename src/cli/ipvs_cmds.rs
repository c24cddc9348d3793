//! `lvsd list`, `lvsd save`.

use clap::Args;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Numeric output of addresses and ports.
    #[arg(short = 'n', long)]
    pub numeric: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Numeric output of addresses and ports.
    #[arg(short = 'n', long)]
    pub numeric: bool,
}

pub fn list(_a: ListArgs) -> u8 {
    eprintln!("lvsd list: not available in this build yet");
    1
}

pub fn save(_a: SaveArgs) -> u8 {
    eprintln!("lvsd save: not available in this build yet");
    1
}
