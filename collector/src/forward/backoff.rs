//! How long to wait before sending again after a destination asked to retry.

use std::time::Duration;

/// The first wait, doubled after each failure in a row.
const FIRST_WAIT: Duration = Duration::from_millis(200);
/// The longest wait between tries when the destination gave no hint.
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// The longest wait a destination's own hint is obeyed for.
const LONGEST_HINT: Duration = Duration::from_secs(300);

/// Exponential back-off with jitter, reset by a success.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next try. A destination's hint (RetryInfo, Retry-After) is
    /// obeyed, up to five minutes; otherwise the wait doubles from 200 ms to 30 s, and
    /// is drawn from its upper half so that collectors restarted together spread out.
    pub fn next_wait(&mut self, hint: Option<Duration>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if let Some(hint) = hint {
            return hint.min(LONGEST_HINT);
        }
        let doubled = FIRST_WAIT.saturating_mul(1 << self.failures.min(16).saturating_sub(1));
        doubled
            .min(LONGEST_WAIT)
            .mul_f64(rand::random_range(0.5..=1.0))
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_up_to_a_cap_and_obey_hints() {
        let mut backoff = Backoff::default();
        let first = backoff.next_wait(None);
        assert!(first >= FIRST_WAIT / 2 && first <= FIRST_WAIT, "{first:?}");
        let second = backoff.next_wait(None);
        assert!(
            second >= FIRST_WAIT && second <= FIRST_WAIT * 2,
            "{second:?}"
        );
        for _ in 0..40 {
            assert!(backoff.next_wait(None) <= LONGEST_WAIT);
        }
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(3600))),
            LONGEST_HINT
        );
        backoff.reset();
        assert!(backoff.next_wait(None) <= FIRST_WAIT);
    }
}
