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
//!   events on transitions only and a snapshot of all states. `state` is
//!   the table the engine and its tasks (`runner`) share, [`histogram`]
//!   the probe durations kept per key (the metrics endpoint reads them),
//!   [`lag`] the engine's measure of its own scheduling lag, which a
//!   probe's deadline is extended by (a starved lvsd is not a dead real).
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
//! once, by the engine (plus the time lvsd was measured behind), by
//! dropping the probe's future; checkers are written
//! so that dropping them releases everything (sockets close, child process
//! groups are killed, no task is left behind).

use std::fmt::{self, Write as _};
use std::future::Future;

mod ber;
mod chunked;
pub mod combined;
mod connect;
mod dns;
pub mod engine;
#[cfg(test)]
mod engine_fault_tests;
#[cfg(test)]
mod engine_tests;
mod external;
pub use external::CHILD_PATH;
mod ftp;
pub mod histogram;
mod http;
mod http_head;
mod http_plain;
pub mod hysteresis;
mod imap;
mod io;
pub mod lag;
#[cfg(test)]
mod lag_tests;
mod ldap;
mod line;
mod nntp;
mod ping;
mod pop;
pub mod prober;
mod radius;
mod runner;
mod sctp;
mod simpletcp;
mod sip;
mod smtp;
pub mod spec;
mod sql;
mod state;

pub use engine::{Engine, HealthEvent, Status};
pub use hysteresis::Health;
pub use lag::LagReport;
pub use prober::Prober;
pub use runner::run_once;
pub use spec::{CheckKind, CheckSpec, Method, Probe, Service, Target, Timeouts};

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Up,
    Down(Failure),
}

/// Why a probe said Down: what it tried and what came back, both as made
/// by [`escape_text`] (see [`Outcome::down`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub tried: String,
    pub got: String,
}

impl Outcome {
    /// A Down outcome. Both texts may carry what a server sent (an LDAP
    /// result's text, an SQL error, an HTTP line); they are escaped here,
    /// once, because from here they reach logs, the status file, `lvsd
    /// status`, metrics and alert mails.
    pub fn down(tried: impl Into<String>, got: impl fmt::Display) -> Outcome {
        Outcome::Down(Failure {
            tried: escape_text(&tried.into()),
            got: escape_text(&got.to_string()),
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

/// At most this many characters of a text are kept by [`escape_text`].
pub const MAX_TEXT: usize = 512;

/// `text` made safe to show: control characters (C0, DEL, C1, so ESC, CR
/// and LF too) and the Unicode marks that reorder or break lines are
/// written as escapes (`\x1b`, `\n`, `\u{202e}`), so that a server's answer
/// cannot forge a log line or drive a terminal; and at most [`MAX_TEXT`]
/// characters are kept. Backslashes are left as they are: readable regexes
/// matter more than telling a server's `\n` from an escaped newline.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    for (shown, (at, c)) in text.char_indices().enumerate() {
        if shown == MAX_TEXT {
            let _ = write!(out, "... ({} more bytes)", text.len() - at);
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() || reorders_or_breaks(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional overrides, isolates and marks, and the Unicode line and
/// paragraph separators: invisible, they make text read other than it is.
fn reorders_or_breaks(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Runs one probe. The engine bounds it with [`Probe::deadline`] and drops
/// the future when the deadline passes, so implementations must be
/// cancel-safe and must not detach work.
pub trait Checker: Send + Sync + 'static {
    fn check(&self, probe: &Probe, method: Method<'_>) -> impl Future<Output = Outcome> + Send;
}

/// The LDAP bind and search against a server answering these bytes, for
/// `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_ldap_answer(bytes: &[u8]) {
    ldap::fuzz_session(bytes);
}

/// A RADIUS reply's check on arbitrary bytes, for `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_radius_answer(bytes: &[u8]) {
    radius::fuzz_reply(bytes);
}

/// A SIP reply datagram's judgement on arbitrary bytes, for `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_sip_answer(bytes: &[u8]) {
    sip::fuzz_reply(bytes);
}

/// A DNS answer's records, decoded and matched, for `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_dns_answer(bytes: &[u8]) {
    dns::fuzz_answer(bytes);
}

/// The plain HTTP answer parser on arbitrary bytes, for `fuzz/` only.
#[doc(hidden)]
pub fn fuzz_http_answer(bytes: &[u8]) {
    http_plain::parse_any(bytes);
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    #[test]
    fn control_and_reordering_characters_are_shown_and_length_is_capped() {
        assert_eq!(
            escape_text("a\x1b[31m\r\n\tb\x7f\u{85}\u{202e}c\\d é"),
            r"a\x1b[31m\r\n\tb\x7f\u{85}\u{202e}c\d é"
        );
        let long = "é".repeat(MAX_TEXT + 10);
        let capped = escape_text(&long);
        assert!(capped.starts_with(&"é".repeat(MAX_TEXT)));
        assert!(capped.ends_with("... (20 more bytes)"), "{capped}");
        let o = Outcome::down("tried\nforged", "got\x1b");
        assert_eq!(o.to_string(), r"down (tried\nforged: got\x1b)");
    }
}
