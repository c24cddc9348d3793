//! One value reused for a short while: what a scrape reads of the kernel,
//! so that a flood of scrapes cannot turn into a flood of netlink dumps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The last value made for a key. The lock is held while a value is made,
/// so that callers arriving together wait for one making instead of each
/// making their own.
pub struct Recent<K, V> {
    fresh_for: Duration,
    last: Mutex<Option<(Instant, K, V)>>,
}

impl<K: PartialEq, V: Clone> Recent<K, V> {
    pub fn new(fresh_for: Duration) -> Self {
        Recent {
            fresh_for,
            last: Mutex::new(None),
        }
    }

    /// The last value if it was made for `key` less than `fresh_for`
    /// before `now`, else a new one from `make` (kept for the next calls).
    pub fn get(&self, key: K, now: Instant, make: impl FnOnce(&K) -> V) -> V {
        // A panic in `make` leaves at worst a stale value: keep using it.
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, k, v)) = &*last {
            if *k == key && now.saturating_duration_since(*at) < self.fresh_for {
                return v.clone();
            }
        }
        let v = make(&key);
        *last = Some((now, key, v.clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn callers_within_the_period_share_one_making() {
        let made = AtomicU32::new(0);
        let make = |k: &u8| {
            made.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            *k
        };
        let second = Duration::from_secs(1);
        let recent = Recent::new(second);
        let t0 = Instant::now();
        // Eight at once: one making, the others wait for it.
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(recent.get(1, t0, make), 1));
            }
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
        recent.get(1, t0 + second - Duration::from_millis(1), make);
        assert_eq!(made.load(Ordering::SeqCst), 1, "still fresh");
        recent.get(1, t0 + second, make);
        assert_eq!(made.load(Ordering::SeqCst), 2, "stale: made again");
        // Another key (other services after a reload): made again at once.
        assert_eq!(recent.get(2, t0 + second, make), 2);
        assert_eq!(made.load(Ordering::SeqCst), 3);
    }
}
