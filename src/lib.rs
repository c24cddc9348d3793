//! lvsd: a Linux Virtual Server director that replaces ldirectord.
//!
//! # Layout
//!
//! - [`config`]: the configuration model, the `ldirectord.cf` parser (every
//!   directive ldirectord accepts, with its defaults) and the equivalent TOML
//!   format. Pure: text in, model or `file:line: message` diagnostics out,
//!   except for host and service name resolution at load.
//! - [`ipvs`]: the kernel's IPVS table: a typed model, the generic netlink
//!   client (family "IPVS") and the ipvsadm-compatible renderings used by
//!   `lvsd list` and `lvsd save`.
//! - [`check`]: health checks of real servers, one file per checker, and the
//!   engine that runs them concurrently with hard deadlines.
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
//!   HTTP server; the daemon feeds it.
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
