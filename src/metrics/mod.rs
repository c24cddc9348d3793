//! Prometheus metrics, opt-in (`metrics = [HOST:]PORT`).
//!
//! - [`scrape`]: what a scrape shows, as data, and its rendering (pure);
//!   [`text`] the exposition format, [`histogram`] probe durations.
//! - [`server`]: the HTTP endpoint (`GET /metrics`), the only I/O here. The
//!   daemon (`daemon::metrics`) fills a [`Scrape`] from its state and the
//!   kernel's counters at every scrape, reused for a second ([`recent`]).

pub mod histogram;
pub mod recent;
pub mod scrape;
pub mod server;
pub mod text;

pub use histogram::Histogram;
pub use scrape::{render, Scrape};
pub use server::{Endpoint, Source};
