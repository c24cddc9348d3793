//! The director: desired IPVS state from config and health, and how to get there.
//!
//! - [`plan`]: the table a configuration programs when every real is up.
//! - [`diff`]: the minimal ordered changes from the kernel's table to the
//!   desired one, on owned services only.
//! - [`owned`]: the state file recording which services lvsd owns.

pub mod diff;
pub mod owned;
pub mod plan;
