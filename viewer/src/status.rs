//! The status line's state: who collects, the damage found, the last notice and the
//! rate records arrive at.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::Index;
use crate::snapshot::{Damage, Status};

/// Damage reports kept for the status line, newest last.
const MAX_DAMAGE: usize = 20;

/// What the status line reports besides the index's counts.
pub(crate) struct StatusLine {
    /// Who collects into the viewed directory.
    collector: String,
    damage: Vec<Damage>,
    pub notice: Option<String>,
    pub rate: RateMeter,
}

impl StatusLine {
    pub fn new(collector: String) -> Self {
        Self {
            collector,
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
    pub fn status(&self, index: &Index, loading: Option<(u64, u64)>, now: Instant) -> Status {
        Status {
            logs: index.logs.len(),
            spans: index.spans.len(),
            traces: index.traces.len(),
            metric_points: index.metric_points,
            records_per_second: self.rate.per_second(),
            receiving: self.rate.receiving(now),
            collector: self.collector.clone(),
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
    last_growth: Option<Instant>,
}

impl RateMeter {
    pub fn record(&mut self, now: Instant, total: usize) {
        if self.samples.back().is_some_and(|&(_, last)| total > last) {
            self.last_growth = Some(now);
        }
        self.samples.push_back((now, total));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > Duration::from_secs(3))
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

    fn receiving(&self, now: Instant) -> bool {
        self.last_growth
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(2))
    }
}
