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
//! - [`director`]: what the table should hold given the config and health
//!   (`desired`, which takes its facts as data: health, maintenance and the
//!   director's own record of the reals it has placed), and the minimal
//!   changes that get the kernel there; its `Controller` takes every input
//!   (health, maintenance, reload, resync, stop) as one step and returns the
//!   pass with a view, one row per configured real, that status, metrics
//!   and alerts read; `sync_plan` is the pure plan for the kernel's
//!   connection sync threads.
//! - [`daemon`]: the long-running process as a thin shell around the
//!   controller: start-up and shutdown (`run`, with its options and errors
//!   in `run/setup.rs`), the loop (`serve`), reload (`reload`), what follows
//!   a pass (`outputs`), pid files and `/proc` identification (`pidfile`,
//!   `pidfile/process.rs`), the status file and its text and porcelain
//!   renderings (`status`, `status/`), the sync threads carried out
//!   (`sync`) and the read-only listener that reports sync messages of
//!   other syncids (`sync/listen.rs`, their header parsed in
//!   `sync/header.rs`). Files of about 300 lines at most; tests sit beside
//!   their file as `*_tests.rs`.
//! - [`metrics`]: the opt-in Prometheus endpoint: rendering (pure) and the
//!   HTTP server; the daemon feeds it. It reads check's data; check knows
//!   nothing of it.
//! - [`cli`]: the command line; the only place that prints and picks exit
//!   codes, so ldirectord's start/stop/status/reload live here too
//!   (`cli/control.rs`, `control/spawn.rs`, `control/show.rs`), driving the
//!   daemon through its pid files, lock and status file; `cli/ldcompat.rs`
//!   parses ldirectord's argv into the types of `cli/invocation.rs`.
//!
//! # Where a directive is handled
//!
//! For any directive, without opening `daemon/`:
//!
//! 1. parsed: `config/cf/global.rs` (global lines) and `config/cf/block.rs`
//!    (lines inside a `virtual=` block) for `ldirectord.cf`,
//!    `config/toml/read.rs` for TOML; both fill the drafts of
//!    `config/draft.rs`, with value grammars in `config/values.rs`;
//! 2. defaulted, inherited and resolved: `config/build.rs`, into the model
//!    of `config/model.rs`;
//! 3. validated: `config/validate.rs` (what ldirectord leaves to ipvsadm or
//!    to run time), and `config/sync.rs` for `syncdaemon=`;
//! 4. checked: `director/checks.rs` turns a virtual's check directives into
//!    the probe specs that `check/` runs (one checker per file,
//!    `check/http.rs`, `check/ldap.rs`...);
//! 5. applied: `director/plan.rs` (the kernel entry a service or real
//!    becomes: scheduler, flags, persistence, forwarding, weights),
//!    `director/desired.rs` (health, quiescent, fallback, maintenance),
//!    `director/sync_plan.rs` (`syncdaemon=`); what runs beside the table
//!    (`fallbackcommand`, `emailalert*`, `monitorfile`, `logfile`) is the
//!    daemon's, in the file named after it.
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
#[cfg(test)]
mod testlog;
