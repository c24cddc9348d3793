//! lvsd: a Linux Virtual Server director that replaces ldirectord.
//!
//! # Layout
//!
//! - [`config`]: the configuration model, the `ldirectord.cf` parser (every
//!   directive ldirectord accepts, with its defaults) and the equivalent TOML
//!   format. Pure: text in, model or `file:line: message` diagnostics out,
//!   except for host and service name resolution and reading `tlscafile`
//!   at load.
//! - [`lvs`]: the vocabulary config and ipvs share (family, protocol,
//!   forwarding, service key, netmask, scheduler flags); it imports nothing.
//! - [`ipvs`]: the kernel's IPVS table: the typed model (table, snapshot,
//!   change, the `Kernel` seam and its in-memory kernel), `ipvs::wire` (the
//!   generic netlink client, family "IPVS") and `ipvs::render` (the
//!   ipvsadm-compatible renderings used by `lvsd list` and `lvsd save`);
//!   wire and render depend on the model, never on each other.
//! - [`check`]: health checks of real servers, one file per checker, the
//!   engine that runs them concurrently with hard deadlines (extended by
//!   the lag lvsd itself was behind), and the health table, with
//!   probe-duration histograms, that the daemon and metrics read.
//! - [`director`]: what the table should hold given the config and health,
//!   and the minimal changes that get the kernel there; its
//!   `Controller` takes every input (health, maintenance, reload, resync,
//!   stop) as one step and returns the pass with a view, one row per
//!   configured real, that status, metrics and alerts read.
//! - [`daemon`]: the long-running process as a thin shell around the
//!   controller: start-up and shutdown (`run`), the loop (`serve`),
//!   reload (`reload`), pid files, signals, readiness, and the
//!   ldirectord-compatible start/stop/status/reload.
//! - [`metrics`]: the opt-in Prometheus endpoint: rendering (pure) and the
//!   HTTP server; the daemon feeds it. It reads check's data; check knows
//!   nothing of it.
//! - [`cli`]: the command line; the only place that prints and picks exit codes.
//!
//! Library modules report errors with `thiserror` types; only `cli` turns them
//! into messages and exit codes.

#![forbid(unsafe_code)]

pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod director;
pub mod ipvs;
pub mod lvs;
pub mod metrics;
