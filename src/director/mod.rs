//! The director: desired IPVS state from config and health, and how to get there.

pub mod plan;
