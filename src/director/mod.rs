//! The director: desired IPVS state from config and health, and how to get there.
//!
//! - [`diff`]: the minimal ordered changes from the kernel's table to the
//!   desired one, on owned services only.

pub mod diff;
