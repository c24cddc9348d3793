//! A fixed-bucket histogram of probe durations, the shape Prometheus expects
//! (cumulative buckets, count and sum), cheap enough to keep per real server.

use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from a loopback connect (under a
/// millisecond) to the longest deadline a probe gets by default (30 s).
pub const BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    counts: [u64; BOUNDS.len() + 1],
    sum: f64,
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram::default()
    }

    pub fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.counts[i] += 1;
        self.sum += secs;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of all observations, in seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `(upper bound, observations at or below it)` for every bound, then
    /// `(+Inf, count)`.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        BOUNDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts)
            .map(|(b, n)| {
                acc += n;
                (b, acc)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let mut h = Histogram::new();
        h.observe(Duration::from_millis(1)); // exactly on the first bound
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60)); // beyond every bound
        let c = h.cumulative();
        assert_eq!(c.len(), BOUNDS.len() + 1);
        assert_eq!(c[0], (0.001, 1));
        assert_eq!(c[4], (0.025, 1));
        assert_eq!(c[5], (0.05, 2));
        assert_eq!(c[BOUNDS.len() - 1], (10.0, 2));
        assert_eq!(c[BOUNDS.len()], (f64::INFINITY, 3));
        assert_eq!(h.count(), 3);
        assert!((h.sum() - 60.031).abs() < 1e-9, "{}", h.sum());
    }
}
