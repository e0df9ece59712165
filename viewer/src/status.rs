//! The status line's state: who collects, the damage found, the last notice, the
//! rate records arrive at and what a live run's collector forwards.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use oculus_store::forwarding;

use crate::model::Index;
use crate::snapshot::{Damage, Forwarding, Loading, Receivers, Status};

/// Damage reports kept for the status line, newest last.
const MAX_DAMAGE: usize = 20;
/// How far back the rate of arriving records looks.
const RATE_WINDOW: Duration = Duration::from_secs(3);
/// How often the forwarding counts are read again; the collector replaces them about
/// once a second.
const FORWARDING_INTERVAL: Duration = Duration::from_secs(1);

/// What the status line reports besides the index's counts.
pub(crate) struct StatusLine {
    /// Who collects into the viewed directory.
    collector: String,
    receivers: Option<Receivers>,
    damage: Vec<Damage>,
    pub notice: Option<String>,
    pub rate: RateMeter,
    forwarding: Vec<Forwarding>,
    forwarding_read: Option<Instant>,
}

impl StatusLine {
    pub fn new(collector: String, receivers: Option<Receivers>) -> Self {
        Self {
            collector,
            receivers,
            damage: Vec::new(),
            notice: None,
            rate: RateMeter::default(),
            forwarding: Vec::new(),
            forwarding_read: None,
        }
    }

    /// Whether a second passed since the forwarding counts were last read.
    pub fn forwarding_due(&self, now: Instant) -> bool {
        self.forwarding_read
            .is_none_or(|read| now.duration_since(read) >= FORWARDING_INTERVAL)
    }

    /// Reads the forwarding counts of the live sessions again, if a second has passed;
    /// returns whether they changed. A run whose collector forwards nothing has no
    /// counts file.
    pub fn read_forwarding<'a>(
        &mut self,
        now: Instant,
        live: impl Iterator<Item = &'a Path>,
    ) -> bool {
        if !self.forwarding_due(now) {
            return false;
        }
        self.forwarding_read = Some(now);
        let forwarding: Vec<Forwarding> = live.flat_map(forwarding::read_status).collect();
        let changed = forwarding != self.forwarding;
        self.forwarding = forwarding;
        changed
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
            forwarding: self.forwarding.clone(),
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

/// An ended run's forwarding counts, as its collector last wrote them; a destination
/// whose cursor says the run was sent whole (by a later run of the collector, which
/// counts them in its own run) has nothing pending.
pub(crate) fn ended_run_forwarding(session: &Path) -> Vec<Forwarding> {
    let mut counts = forwarding::read_status(session);
    if counts.iter().all(|f| f.pending == 0) {
        return counts;
    }
    for cursor in forwarding::session_cursors(session)
        .into_iter()
        .filter(|c| c.done)
    {
        for f in counts
            .iter_mut()
            .filter(|f| f.destination == cursor.destination)
        {
            f.pending = 0;
            f.retrying = false;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

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

    #[test]
    fn forwarding_counts_are_read_from_live_sessions_once_a_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut status = StatusLine::new(String::new(), None);
        let start = Instant::now();
        status.read_forwarding(start, [dir.path()].into_iter());
        assert!(status.forwarding.is_empty(), "no file, no destination");
        std::fs::write(
            dir.path().join(forwarding::STATUS_FILE),
            r#"{"destinations":[{"destination":"grpc://jaeger:4317","forwarded":12345,"pending":2,"failed":1,"retrying":true,"error":"Unavailable: down"}]}"#,
        )
        .expect("written");
        status.read_forwarding(start + Duration::from_millis(500), [dir.path()].into_iter());
        assert!(
            status.forwarding.is_empty(),
            "read again only after a second"
        );
        status.read_forwarding(start + Duration::from_secs(1), [dir.path()].into_iter());
        assert_eq!(
            status.forwarding,
            [Forwarding {
                destination: "grpc://jaeger:4317".into(),
                forwarded: 12345,
                pending: 2,
                failed: 1,
                retrying: true,
                error: Some("Unavailable: down".into()),
            }]
        );
        std::fs::write(dir.path().join(forwarding::STATUS_FILE), "{").expect("written");
        status.read_forwarding(start + Duration::from_secs(2), [dir.path()].into_iter());
        assert!(
            status.forwarding.is_empty(),
            "an unreadable file shows nothing"
        );
    }
}
