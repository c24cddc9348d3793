//! Prometheus metrics, opt-in (`metrics = [HOST:]PORT`).
//!
//! - [`scrape`]: what a scrape shows, as data, and its rendering (pure);
//!   [`text`] the exposition format.
//! - [`server`]: the HTTP endpoint (`GET /metrics`), the only I/O here. The
//!   daemon (`daemon::metrics`) fills a [`Scrape`] from its state and the
//!   kernel's counters at every scrape, reused for a second ([`recent`]).
//!
//! The arrow between this module and [`crate::check`] points one way:
//! metrics reads what the checks record (their [`Health`](crate::check::Health)
//! and the [`Histogram`] of probe durations, which `check` owns), and
//! `check` knows nothing of metrics. Checks run whether or not metrics are
//! on; their bookkeeping should not depend on how one consumer renders it.

pub mod recent;
pub mod scrape;
pub mod server;
pub mod text;

// Where callers have always named it.
pub use crate::check::histogram::{self, Histogram};
pub use scrape::{render, Scrape};
pub use server::{Endpoint, Source};
