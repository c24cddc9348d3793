//! What the protocol matrix's tests (`tests/matrix.rs`, `tests/matrix_udp.rs`)
//! share: the global settings, waiting for a service's reals, counting who
//! answered.

use std::time::Duration;

use crate::director::{wait_for, weights, Lvsd};

/// Generous: the VM emulates the CPU (10-50x slower than the host).
pub const DETECT: Duration = Duration::from_secs(40);

pub const GLOBAL: &str = "checkinterval=1\nchecktimeout=3\nnegotiatetimeout=3\nquiescent=no\n";

/// How many answers came from `name`.
pub fn from(got: &[Option<String>], name: &str) -> usize {
    got.iter().filter(|s| s.as_deref() == Some(name)).count()
}

/// Waits until the reals of `service` are exactly `want` (address, weight).
pub fn wait_reals(lvsd: &Lvsd, what: &str, service: &str, want: &[(String, u32)]) {
    let (_, took) = wait_for(
        what,
        DETECT,
        || weights(&lvsd.ipvsadm("-S -n"), service),
        |w| w.as_slice() == want,
    );
    eprintln!("{what}: {took:?}");
}

/// Phase times on stderr, for the suite's time budget.
pub fn lap(t0: std::time::Instant, what: &str) {
    eprintln!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());
}

pub fn up(addrs: &[String]) -> Vec<(String, u32)> {
    addrs.iter().map(|a| (a.clone(), 1)).collect()
}
