//! The director: desired IPVS state from config and health, and how to get there.
//!
//! - [`plan`]: the table a configuration programs when every real is up.
//! - [`desired`]: the table for the health the checks report, starting from
//!   what the kernel holds.
//! - [`checks`]: the health checks a configuration asks for.
//! - [`diff`]: the minimal ordered changes from the kernel's table to the
//!   desired one, on owned services only.
//! - [`owned`]: the state file recording which services lvsd owns.
//! - [`reconcile`]: one pass: read the kernel, compute, apply; cleanstop.
//! - [`view`]: one row per configured real after a pass (configuration,
//!   health, maintenance, kernel), which status, metrics and alerts read.
//! - [`sync_plan`]: the connection sync threads a configuration asks for,
//!   and what to do given those running (`daemon::sync` carries it out).
//! - [`controller`]: the daemon's one entry point: every input (health,
//!   maintenance, reload, resync, stop) is a step that returns a pass.

pub mod checks;
pub mod controller;
pub mod desired;
pub mod diff;
pub mod owned;
pub mod plan;
pub mod reconcile;
pub mod sync_plan;
pub mod view;
