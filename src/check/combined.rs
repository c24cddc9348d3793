//! `checktype=N`: which probe to run next, as ldirectord's `_check_real`
//! decides it with its per-real `num_connects` counter.
//!
//! The first round negotiates. A successful negotiate allows N plain connects
//! before the next negotiate; a failed connect forces a negotiate next round;
//! a failed negotiate is retried (as a negotiate) until it succeeds. Pure.

/// Which of the two probes a round runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Connect,
    Negotiate,
}

/// The cursor for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined {
    connects: u32,
    /// Connects since the last successful negotiate; `None` forces a negotiate.
    done: Option<u32>,
}

impl Combined {
    pub fn new(connects: u32) -> Combined {
        Combined {
            connects,
            done: None,
        }
    }

    pub fn next(&self) -> Step {
        match self.done {
            Some(done) if done < self.connects => Step::Connect,
            _ => Step::Negotiate,
        }
    }

    pub fn record(&mut self, step: Step, success: bool) {
        self.done = match (step, success) {
            (Step::Negotiate, true) => Some(0),
            (Step::Negotiate, false) => self.done,
            (Step::Connect, true) => self.done.map(|d| d.saturating_add(1)),
            (Step::Connect, false) => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::Step::{Connect, Negotiate};
    use super::*;

    /// Runs the cursor over `results` and returns the steps it chose.
    fn steps(n: u32, results: &[bool]) -> Vec<Step> {
        let mut c = Combined::new(n);
        results
            .iter()
            .map(|&ok| {
                let step = c.next();
                c.record(step, ok);
                step
            })
            .collect()
    }

    #[test]
    fn negotiates_first_then_n_connects() {
        assert_eq!(
            steps(2, &[true; 7]),
            [Negotiate, Connect, Connect, Negotiate, Connect, Connect, Negotiate]
        );
    }

    #[test]
    fn a_failed_connect_forces_a_negotiate() {
        assert_eq!(
            steps(3, &[true, true, false, true, true]),
            [Negotiate, Connect, Connect, Negotiate, Connect]
        );
    }

    #[test]
    fn a_failed_negotiate_is_retried_as_a_negotiate() {
        assert_eq!(
            steps(3, &[false, false, true, true]),
            [Negotiate, Negotiate, Negotiate, Connect]
        );
    }

    #[test]
    fn zero_connects_always_negotiates() {
        assert_eq!(steps(0, &[true, true]), [Negotiate, Negotiate]);
    }
}
