//! The long-running director process and the commands that drive it.
//!
//! - [`run`]: the process itself, its start-up and shutdown in order;
//!   `serve`: the loop (generic over the kernel and the prober, tested
//!   with the in-memory kernel under paused time); [`reload`]: reading a
//!   reloaded file off the loop, under a deadline, then swapping it in;
//!   `outputs`: what follows a pass (mails, hooks, the status file).
//! - [`pidfile`], [`status`]: what a running daemon leaves in `/run`.
//! - [`maintenance`]: `maintenancedir` and `lvsd drain`.
//! - [`hooks`]: `fallbackcommand` and `callback`; [`execute`]: the other
//!   instances of `execute=`; [`metrics`]: what the
//!   metrics endpoint serves.
//! - [`sync`]: `syncdaemon=` carried out on the kernel (the plan is
//!   [`crate::director::sync_plan`]).
//! - [`notify`]: systemd readiness; [`watch`]: config file changes.
//! - [`logging`]: `logfile=` and `supervised=`; [`monitor`]: `monitorfile=`;
//!   [`alerts`] and [`mailer`]: `emailalert*` and `smtp=`.

pub mod alerts;
pub mod execute;
pub mod hooks;
pub mod logging;
pub mod mailer;
pub mod maintenance;
pub mod metrics;
pub mod monitor;
pub mod notify;
mod outputs;
pub mod pidfile;
pub mod reload;
pub mod run;
mod serve;
pub mod status;
pub mod sync;
pub mod watch;
