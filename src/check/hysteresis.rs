//! Failure counting: from a stream of probe results to a health state.
//!
//! ldirectord's rule (anchors §1.10): `failurecount` consecutive failures make
//! a real server Down, one success makes it Up again. Health starts
//! [`Health::Unknown`] so the director can tell "not checked yet" from "down".
//! Pure: no clock, no I/O.

use std::fmt;

/// A real server's health as the engine reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Not enough results yet to say.
    Unknown,
    Up,
    Down,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        })
    }
}

/// The counter for one (virtual, real) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    failure_count: u32,
    failures: u32,
    health: Health,
}

impl Hysteresis {
    /// `failure_count` below 1 is treated as 1, as ldirectord does.
    pub fn new(failure_count: u32) -> Hysteresis {
        Hysteresis {
            failure_count: failure_count.max(1),
            failures: 0,
            health: Health::Unknown,
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Consecutive failures seen since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Feeds one probe result; returns the new health if it changed.
    pub fn observe(&mut self, success: bool) -> Option<Health> {
        let next = if success {
            self.failures = 0;
            Health::Up
        } else {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.failure_count {
                Health::Down
            } else {
                // A soft failure: keep whatever we said before.
                self.health
            }
        };
        let changed = next != self.health;
        self.health = next;
        changed.then_some(next)
    }

    /// Takes a new `failurecount` without losing the current state (reload).
    pub fn set_failure_count(&mut self, failure_count: u32) {
        self.failure_count = failure_count.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `results` and returns the transitions in order.
    fn run(failure_count: u32, results: &[bool]) -> Vec<Option<Health>> {
        let mut h = Hysteresis::new(failure_count);
        results.iter().map(|&ok| h.observe(ok)).collect()
    }

    use Health::{Down, Up};

    #[test]
    fn starts_unknown() {
        assert_eq!(Hysteresis::new(3).health(), Health::Unknown);
    }

    #[test]
    fn one_failure_is_down_with_the_default_count() {
        assert_eq!(
            run(1, &[false, false, true, false]),
            [Some(Down), None, Some(Up), Some(Down)]
        );
    }

    #[test]
    fn soft_failures_keep_up_until_the_count_is_reached() {
        assert_eq!(
            run(3, &[true, false, false, false, false]),
            [Some(Up), None, None, Some(Down), None]
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        assert_eq!(
            run(2, &[true, false, true, false, true, false, false]),
            [Some(Up), None, None, None, None, None, Some(Down)]
        );
    }

    #[test]
    fn unknown_stays_unknown_during_soft_failures() {
        let mut h = Hysteresis::new(3);
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(false), None);
        assert_eq!(h.health(), Health::Unknown);
        assert_eq!(h.failures(), 2);
        assert_eq!(h.observe(false), Some(Down));
    }

    #[test]
    fn zero_count_behaves_as_one() {
        assert_eq!(run(0, &[false]), [Some(Down)]);
    }

    #[test]
    fn lowering_the_count_applies_on_the_next_failure() {
        let mut h = Hysteresis::new(5);
        h.observe(true);
        h.observe(false);
        h.observe(false);
        h.set_failure_count(2);
        assert_eq!(h.health(), Up);
        assert_eq!(h.observe(false), Some(Down));
    }
}
