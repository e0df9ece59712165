//! The status line's state: who collects, the damage found, the last notice and the
//! rate records arrive at.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::Index;
use crate::snapshot::{Damage, Loading, Receivers, Status};

/// Damage reports kept for the status line, newest last.
const MAX_DAMAGE: usize = 20;
/// How far back the rate of arriving records looks.
const RATE_WINDOW: Duration = Duration::from_secs(3);

/// What the status line reports besides the index's counts.
pub(crate) struct StatusLine {
    /// Who collects into the viewed directory.
    collector: String,
    receivers: Option<Receivers>,
    damage: Vec<Damage>,
    pub notice: Option<String>,
    pub rate: RateMeter,
}

impl StatusLine {
    pub fn new(collector: String, receivers: Option<Receivers>) -> Self {
        Self {
            collector,
            receivers,
            damage: Vec::new(),
            notice: None,
            rate: RateMeter::default(),
        }
    }

    /// Logs damage found while reading and keeps the newest reports for the UI.
    pub fn report_damage(&mut self, damage: Damage) {
        tracing::warn!(%damage, "damaged data");
        self.damage.push(damage);
        if self.damage.len() > MAX_DAMAGE {
            self.damage.remove(0);
        }
    }

    /// The status line as of `now`.
    pub fn status(&self, index: &Index, loading: Option<Loading>) -> Status {
        Status {
            logs: index.logs.len(),
            spans: index.spans.len(),
            traces: index.traces_with_spans,
            metric_points: index.metric_points,
            records_per_second: self.rate.per_second(),
            receiving: self.rate.receiving(),
            collector: self.collector.clone(),
            receivers: self.receivers,
            loading,
            damage: self.damage.clone(),
            notice: self.notice.clone(),
        }
    }
}

/// Records per second over the last few seconds.
#[derive(Default)]
pub(crate) struct RateMeter {
    samples: VecDeque<(Instant, usize)>,
}

impl RateMeter {
    pub fn record(&mut self, now: Instant, total: usize) {
        self.samples.push_back((now, total));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    fn per_second(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Whether records arrived within the window the rate is measured over: by the
    /// rate itself, so that the status line never says "idle" next to a rate above zero.
    fn receiving(&self) -> bool {
        self.per_second() > 0.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::RateMeter;

    #[test]
    fn idle_exactly_when_the_rate_is_zero() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        // A burst for a second, sampled every 20 ms as the backend does, then nothing.
        let mut total = 0;
        for tick in 0..500u64 {
            let now = start + Duration::from_millis(20 * tick);
            if tick < 50 {
                total += 4_000;
            }
            meter.record(now, total);
            assert_eq!(
                meter.receiving(),
                meter.per_second() > 0.0,
                "at {} ms: {:.0}/s",
                20 * tick,
                meter.per_second()
            );
        }
        assert!(!meter.receiving());
    }
}
