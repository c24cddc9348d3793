//! `lvsd check`, `lvsd plan`, `lvsd convert`: load a configuration, print
//! its diagnostics to stderr, and print the requested view to stdout.

use std::path::{Path, PathBuf};

use clap::Args;

use super::EXIT_CONFIG;
use crate::config::{self, Format, Loaded};
use crate::director::desired;
use crate::ipvs::save::render_save;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file (default: ldirectord's search for ldirectord.cf).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Assume every real server is up (the only mode without a running director).
    #[arg(long, required = true)]
    pub all_up: bool,
    /// Configuration file (default: ldirectord's search for ldirectord.cf).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// An ldirectord.cf (or a TOML file, which is normalised).
    pub file: PathBuf,
}

fn resolve_path(file: Option<&Path>) -> PathBuf {
    match file {
        Some(f) => f.to_path_buf(),
        None => config::find_config(None),
    }
}

/// Loads and prints every diagnostic; `None` if there were errors.
fn load_reporting(file: Option<&Path>) -> Option<Loaded> {
    let path = resolve_path(file);
    let loaded = config::load(&path);
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    (!loaded.has_errors()).then_some(loaded)
}

pub fn check(a: CheckArgs) -> u8 {
    match load_reporting(a.file.as_deref()) {
        Some(l) => {
            let reals: usize = l.config.virtuals.iter().map(|v| v.reals.len()).sum();
            eprintln!(
                "configuration valid: {} virtual services, {} real servers",
                l.config.virtuals.len(),
                reals
            );
            0
        }
        None => EXIT_CONFIG,
    }
}

pub fn plan(a: PlanArgs) -> u8 {
    match load_reporting(a.file.as_deref()) {
        Some(l) => {
            print!("{}", render_save(&desired::all_up(&l.config)));
            0
        }
        None => EXIT_CONFIG,
    }
}

pub fn convert(a: ConvertArgs) -> u8 {
    if Format::of(&a.file) == Format::Toml {
        eprintln!(
            "note: {} is already TOML; printing it normalised",
            a.file.display()
        );
    }
    match load_reporting(Some(&a.file)) {
        Some(l) => {
            print!("{}", config::toml::write::to_toml(&l.config));
            0
        }
        None => EXIT_CONFIG,
    }
}
