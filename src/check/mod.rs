//! Health checks of real servers: ldirectord's check types and services, run
//! concurrently on tokio with hard deadlines.
//!
//! # Layout
//!
//! - [`spec`]: the input, one [`CheckSpec`] per (virtual, real), shaped after
//!   ldirectord's directives so the director maps the config onto it directly.
//! - [`hysteresis`] and [`combined`]: pure state machines (failure counting,
//!   `checktype=N`).
//! - [`engine`]: one tokio task per distinct probe (ldirectord's `real_id`),
//!   its interval, staggered start and deadline; reconfiguration by diff;
//!   events on transitions only and a snapshot of all states.
//! - [`prober`]: the real [`Checker`], dispatching to one module per checker:
//!   `connect`, `ping`, `external` (and external-perl), `http` (http, https,
//!   http_proxy), `dns`, `smtp`, `pop`, `imap`, `nntp`, `ftp`, `simpletcp`,
//!   `sip`, `radius`, `ldap`, `sql` (mysql, pgsql). `line` is the bounded
//!   (optionally TLS) connection the hand-written line protocols share.
//!   ldirectord's `oracle` service has no sound Rust client and is not
//!   offered: the configuration layer must refuse it.
//!
//! A probe never fails with an error: it returns an [`Outcome`], and a Down
//! outcome says what was tried and what came back. The deadline is enforced
//! once, by the engine, by dropping the probe's future; checkers are written
//! so that dropping them releases everything (sockets close, child process
//! groups are killed, no task is left behind).

use std::fmt;
use std::future::Future;

pub mod combined;
mod connect;
mod dns;
pub mod engine;
#[cfg(test)]
mod engine_fault_tests;
#[cfg(test)]
mod engine_tests;
mod external;
mod ftp;
mod http;
mod http_plain;
pub mod hysteresis;
mod imap;
mod io;
mod ldap;
mod line;
mod nntp;
mod ping;
mod pop;
pub mod prober;
mod radius;
mod runner;
mod simpletcp;
mod sip;
mod smtp;
pub mod spec;
mod sql;

pub use engine::{Engine, HealthEvent, Status};
pub use hysteresis::Health;
pub use prober::Prober;
pub use runner::run_once;
pub use spec::{CheckKind, CheckSpec, Method, Probe, Service, Target, Timeouts};

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Up,
    Down(Failure),
}

/// Why a probe said Down: what it tried and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub tried: String,
    pub got: String,
}

impl Outcome {
    pub fn down(tried: impl Into<String>, got: impl fmt::Display) -> Outcome {
        Outcome::Down(Failure {
            tried: tried.into(),
            got: got.to_string(),
        })
    }

    pub fn is_up(&self) -> bool {
        matches!(self, Outcome::Up)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.tried, self.got)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Up => f.write_str("up"),
            Outcome::Down(failure) => write!(f, "down ({failure})"),
        }
    }
}

/// Runs one probe. The engine bounds it with [`Probe::deadline`] and drops
/// the future when the deadline passes, so implementations must be
/// cancel-safe and must not detach work.
pub trait Checker: Send + Sync + 'static {
    fn check(&self, probe: &Probe, method: Method<'_>) -> impl Future<Output = Outcome> + Send;
}

/// The plain HTTP answer parser on arbitrary bytes, for `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_http_answer(bytes: &[u8]) {
    http_plain::parse_any(bytes);
}
