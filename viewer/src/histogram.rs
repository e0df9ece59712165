//! Records per time bucket for the shown view of a tab: the strip above its list.
//!
//! What is counted is what the list shows. Logs: the rows of the tab's `LogMatches`,
//! stacked by level. Spans: the filter decides per trace (a trace is listed when one
//! of its spans passes), and telling which of a listed trace's spans passed would
//! mean running the filter again per span; so the histogram counts every span of the
//! traces `SpanMatches` lists (the duration bounds aside: they change as a trace
//! grows), by its start, as `Level::Info` or, failed, `Level::Error`. A span outside
//! a set time range is left out. A record without a time (0) is never counted.
//!
//! Buckets are aligned to whole multiples of their width in Unix time, so that two
//! neighbours always make one bucket of the double width. A pass starts once the
//! view's filter has seen every record, with a "nice" width (1, 2 or 5 × 10^n ns)
//! for the range it expects: the set time range, else from the first row's time to
//! the last's. Rows outside it (records arrive out of time order) and rows that
//! arrive later widen the buckets, which then merge in pairs whenever there would be
//! more than `MAX_BUCKETS`: never a recount. The pass walks the rows in steps of at
//! most `MAX_ROWS_PER_STEP` (and the records a filter step takes), so a recount over
//! ten million matches never holds the backend loop for long.

use std::sync::Arc;

use crate::filter::{CompiledFilter, Filter, LogMatches, SpanMatches};
use crate::model::{Index, Level};

/// Buckets at most; past this, neighbours merge in pairs.
pub const MAX_BUCKETS: usize = 160;
/// Buckets a fresh pass aims at for the range it expects, at most.
const TARGET_BUCKETS: u64 = 150;
/// The narrowest bucket.
const MIN_BUCKET_NANOS: u64 = 1_000;

/// What a histogram counts: the log table's records, or the trace list's spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Counted {
    #[default]
    Logs,
    Spans,
}

/// Counts per level, by `Level as usize`.
pub type LevelCounts = [u64; 7];

/// The histogram as published: what the strip draws.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub counted: Counted,
    /// The range shown, in Unix nanoseconds: the set time range's ends where set,
    /// else the first and last record counted (`end` exclusive).
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub bucket_nanos: u64,
    /// Bucket `i` holds the records from `(first_bucket + i) * bucket_nanos` on.
    pub first_bucket: u64,
    pub buckets: Vec<LevelCounts>,
    /// Records counted.
    pub total: u64,
    /// Every row of the list is counted.
    pub complete: bool,
}

impl Histogram {
    /// Where bucket `i` starts, in Unix nanoseconds.
    pub fn bucket_start(&self, i: usize) -> u64 {
        (self.first_bucket + i as u64).saturating_mul(self.bucket_nanos)
    }

    /// Records of ERROR and FATAL (failed spans).
    pub fn errors(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b[Level::Error as usize] + b[Level::Fatal as usize])
            .sum()
    }
}

/// The smallest nice width (1, 2 or 5 × 10^n ns) that cuts `span_nanos` into at most
/// `TARGET_BUCKETS` buckets.
pub fn nice_width(span_nanos: u64) -> u64 {
    let wanted = span_nanos.div_ceil(TARGET_BUCKETS).max(MIN_BUCKET_NANOS);
    let mut power = 1u64;
    loop {
        for mantissa in [1, 2, 5] {
            let width = power.saturating_mul(mantissa);
            if width >= wanted {
                return width;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// A stretch dragged across the strip as the tab's time range, in the filter bar's
/// from and to (which the user sees and can edit); it replaces a sliding window.
pub fn set_time_range(filter: &mut Filter, from_unix_nano: u64, to_unix_nano: u64) {
    let (from, to) = if from_unix_nano <= to_unix_nano {
        (from_unix_nano, to_unix_nano)
    } else {
        (to_unix_nano, from_unix_nano)
    };
    filter.since = None;
    filter.from = crate::time::format_moment(from);
    filter.to = crate::time::format_moment(to.max(from + 1));
}

/// No time range: every time again.
pub fn clear_time_range(filter: &mut Filter) {
    filter.since = None;
    filter.from.clear();
    filter.to.clear();
}

/// Whether the filter narrows the records by time.
pub fn has_time_range(filter: &Filter) -> bool {
    filter.since.is_some() || !filter.from.trim().is_empty() || !filter.to.trim().is_empty()
}

/// Aligned buckets that grow to cover what is added, merging in pairs past
/// `MAX_BUCKETS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buckets {
    width_nanos: u64,
    first: u64,
    counts: Vec<LevelCounts>,
    /// The earliest and latest time added or covered.
    low: u64,
    high: u64,
    total: u64,
}

impl Buckets {
    pub fn new(width_nanos: u64) -> Self {
        Self {
            width_nanos: width_nanos.max(1),
            first: 0,
            counts: Vec::new(),
            low: u64::MAX,
            high: 0,
            total: 0,
        }
    }

    pub fn width_nanos(&self) -> u64 {
        self.width_nanos
    }

    pub fn counts(&self) -> &[LevelCounts] {
        &self.counts
    }

    /// Counts a record at `time_unix_nano` of this level.
    pub fn add(&mut self, time_unix_nano: u64, level: Level) {
        self.cover(time_unix_nano);
        let at = (time_unix_nano / self.width_nanos - self.first) as usize;
        self.counts[at][level as usize] += 1;
        self.total += 1;
    }

    /// Grows the buckets to hold `time_unix_nano`, merging pairs while they would be
    /// too many.
    pub fn cover(&mut self, time_unix_nano: u64) {
        self.low = self.low.min(time_unix_nano);
        self.high = self.high.max(time_unix_nano);
        loop {
            let k = time_unix_nano / self.width_nanos;
            if self.counts.is_empty() {
                self.first = k;
                self.counts.push(LevelCounts::default());
                return;
            }
            let last = self.first + self.counts.len() as u64 - 1;
            let (low, high) = (self.first.min(k), last.max(k));
            if high - low < MAX_BUCKETS as u64 {
                if k < self.first {
                    let before = (self.first - k) as usize;
                    self.counts
                        .splice(0..0, std::iter::repeat_n(LevelCounts::default(), before));
                    self.first = k;
                } else if k > last {
                    self.counts.resize(
                        self.counts.len() + (k - last) as usize,
                        LevelCounts::default(),
                    );
                }
                return;
            }
            self.merge_pairs();
        }
    }

    /// Each two neighbours (aligned to the double width) into one.
    fn merge_pairs(&mut self) {
        let first = self.first / 2;
        let last = (self.first + self.counts.len() as u64 - 1) / 2;
        let mut merged = vec![LevelCounts::default(); (last - first + 1) as usize];
        for (i, counts) in self.counts.iter().enumerate() {
            let into = &mut merged[((self.first + i as u64) / 2 - first) as usize];
            for (sum, count) in into.iter_mut().zip(counts) {
                *sum += count;
            }
        }
        self.counts = merged;
        self.first = first;
        self.width_nanos = self.width_nanos.saturating_mul(2);
    }

    /// As published, the range shown being `start..end` where set.
    fn publish(
        &self,
        kind: Counted,
        (start, end): (Option<u64>, Option<u64>),
        complete: bool,
    ) -> Histogram {
        let seen = (self.low <= self.high).then_some((self.low, self.high.saturating_add(1)));
        Histogram {
            counted: kind,
            start_unix_nano: start.or(seen.map(|s| s.0)).unwrap_or(0),
            end_unix_nano: end.or(seen.map(|s| s.1)).unwrap_or(0),
            bucket_nanos: self.width_nanos,
            first_bucket: self.first,
            buckets: self.counts.clone(),
            total: self.total,
            complete,
        }
    }
}

/// Rows counted per step at most. A row costs a read of its entry, scattered over
/// the index (30-40 ns at ten million records): a filter's step takes many more
/// records in the same 8 ms, so the count keeps a bound of its own.
const MAX_ROWS_PER_STEP: usize = 131_072;

/// The pass that counts one view's rows of a tab; it starts over whenever the
/// tab's matches do (a new filter, a sliding range moved on).
#[derive(Debug)]
pub(crate) struct HistogramPass {
    kind: Counted,
    /// `None` until the view's filter first saw every record.
    counting: Option<Counting>,
    shown: Arc<Histogram>,
    /// Counting again over the same filter moved on in time: `shown` stays until the
    /// new counts are complete, so the strip never empties once a second.
    keep_shown: bool,
}

#[derive(Debug)]
struct Counting {
    buckets: Buckets,
    /// The set time range, from (inclusive) and to (exclusive).
    range: (Option<u64>, Option<u64>),
    /// Logs: rows counted. Spans: listed traces whose earlier spans were counted.
    rows_done: usize,
    /// Spans: spans looked at (counted if their trace was listed then).
    spans_done: usize,
}

impl HistogramPass {
    pub fn new(kind: Counted) -> Self {
        Self {
            kind,
            counting: None,
            shown: Arc::new(Histogram {
                counted: kind,
                ..Histogram::default()
            }),
            keep_shown: false,
        }
    }

    /// Starts counting over, showing the last counts meanwhile.
    pub fn restart(&mut self) {
        self.counting = None;
        self.keep_shown = true;
    }

    /// What the strip draws: rebuilt only after a step that counted something.
    pub fn shown(&self) -> &Arc<Histogram> {
        &self.shown
    }

    /// Whether rows are left to count (or the pass can start).
    pub fn has_work(&self, index: &Index, logs: &LogMatches, spans: &SpanMatches) -> bool {
        match (&self.counting, self.kind) {
            (None, Counted::Logs) => logs.is_complete(index),
            (None, Counted::Spans) => spans.is_complete(index),
            (Some(c), Counted::Logs) => c.rows_done < logs.len(),
            (Some(c), Counted::Spans) => {
                c.rows_done < spans.traces.len() || c.spans_done < index.spans.len()
            }
        }
    }

    /// Counts up to about `max` records.
    pub fn step(
        &mut self,
        index: &Index,
        compiled: &CompiledFilter,
        logs: &LogMatches,
        spans: &SpanMatches,
        max: usize,
    ) {
        let max = max.min(MAX_ROWS_PER_STEP);
        let counting = self
            .counting
            .get_or_insert_with(|| Counting::start(self.kind, index, compiled, logs, spans));
        match self.kind {
            Counted::Logs => counting.step_logs(index, logs, max),
            Counted::Spans => counting.step_spans(index, spans, max),
        }
        let complete = match self.kind {
            Counted::Logs => logs.is_complete(index) && counting.rows_done == logs.len(),
            Counted::Spans => {
                spans.is_complete(index)
                    && counting.rows_done == spans.traces.len()
                    && counting.spans_done == index.spans.len()
            }
        };
        let histogram = counting
            .buckets
            .publish(self.kind, counting.range, complete);
        self.keep_shown &= !complete;
        if !self.keep_shown && *self.shown != histogram {
            self.shown = Arc::new(histogram);
        }
    }
}

impl Counting {
    /// A pass over complete matches, its width chosen for the range expected.
    fn start(
        kind: Counted,
        index: &Index,
        compiled: &CompiledFilter,
        logs: &LogMatches,
        spans: &SpanMatches,
    ) -> Self {
        let (from, to) = compiled.time_bounds();
        let range = ((from > 0).then_some(from), to);
        let time = |i: Option<u32>| -> Option<u64> {
            let i = i? as usize;
            match kind {
                Counted::Logs => Some(index.logs.get(i)?.time),
                Counted::Spans => Some(index.traces.get(i)?.start),
            }
        };
        let (first, last) = match kind {
            Counted::Logs => (
                logs.get(0),
                logs.len().checked_sub(1).and_then(|r| logs.get(r)),
            ),
            Counted::Spans => (spans.traces.first().copied(), spans.traces.last().copied()),
        };
        let low = range.0.or(time(first)).unwrap_or(0);
        let high = range.1.or(time(last)).unwrap_or(low);
        let mut buckets = Buckets::new(nice_width(high.saturating_sub(low)));
        // A set range is shown whole, however few records it holds.
        if let Some(from) = range.0 {
            buckets.cover(from);
        }
        if let Some(to) = range.1 {
            buckets.cover(to.saturating_sub(1));
        }
        Self {
            buckets,
            range,
            rows_done: 0,
            spans_done: 0,
        }
    }

    fn in_range(&self, time: u64) -> bool {
        time != 0 && self.range.0.is_none_or(|f| time >= f) && self.range.1.is_none_or(|t| time < t)
    }

    fn step_logs(&mut self, index: &Index, logs: &LogMatches, max: usize) {
        let end = logs.len().min(self.rows_done.saturating_add(max));
        for row in self.rows_done..end {
            let Some(log) = logs.get(row).and_then(|i| index.logs.get(i as usize)) else {
                continue;
            };
            if log.time != 0 {
                self.buckets.add(log.time, log.level);
            }
        }
        self.rows_done = end;
    }

    /// Traces listed since the last step first, with their spans looked at before;
    /// then the new spans, counted when their trace is listed.
    fn step_spans(&mut self, index: &Index, spans: &SpanMatches, max: usize) {
        let mut work = 0;
        while let Some(&trace) = spans.traces.get(self.rows_done) {
            if work >= max {
                return;
            }
            let Some(entry) = index.traces.get(trace as usize) else {
                self.rows_done += 1;
                continue;
            };
            let earlier = entry
                .spans
                .partition_point(|&s| (s as usize) < self.spans_done);
            for &s in &entry.spans[..earlier] {
                if let Some(span) = index.spans.get(s as usize) {
                    self.count_span(span.start, span.error);
                }
            }
            work += earlier + 1;
            self.rows_done += 1;
        }
        let end = index
            .spans
            .len()
            .min(self.spans_done.saturating_add(max.saturating_sub(work)));
        for s in self.spans_done..end {
            if let Some(span) = index.spans.get(s)
                && spans.position(span.trace).is_some()
            {
                self.count_span(span.start, span.error);
            }
        }
        self.spans_done = end;
    }

    fn count_span(&mut self, start: u64, error: bool) {
        if self.in_range(start) {
            let level = if error { Level::Error } else { Level::Info };
            self.buckets.add(start, level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const SECOND: u64 = 1_000_000_000;

    #[track_caller]
    fn check_width(span_nanos: u64, expected: u64) {
        assert_eq!(nice_width(span_nanos), expected, "span {span_nanos}");
    }

    #[test]
    fn widths_are_nice_and_cut_a_range_into_60_to_150_buckets() {
        check_width(0, MIN_BUCKET_NANOS);
        check_width(150 * MS, MS);
        check_width(150 * MS + 1, 2 * MS);
        check_width(300 * MS, 2 * MS);
        check_width(301 * MS, 5 * MS);
        check_width(60 * SECOND, 500 * MS);
        check_width(3_600 * SECOND, 50 * SECOND);
        for span in [
            7 * MS,
            999 * MS,
            61 * SECOND,
            86_400 * SECOND,
            123_456_789_012,
        ] {
            let buckets = span / nice_width(span);
            assert!((60..=150).contains(&buckets), "{span}: {buckets} buckets");
        }
    }

    #[track_caller]
    fn check_buckets(width: u64, times: &[u64], expected: (u64, u64, &[u64])) {
        let mut buckets = Buckets::new(width);
        for &t in times {
            buckets.add(t, Level::Info);
        }
        let counts: Vec<u64> = buckets.counts().iter().map(|c| c.iter().sum()).collect();
        assert_eq!(
            (buckets.width_nanos(), buckets.first, counts.as_slice()),
            expected,
            "{times:?}"
        );
    }

    #[test]
    fn records_land_in_aligned_buckets_which_grow_both_ways() {
        check_buckets(10, &[], (10, 0, &[]));
        check_buckets(10, &[25], (10, 2, &[1]));
        check_buckets(10, &[25, 29, 30], (10, 2, &[2, 1]));
        // An earlier record puts buckets in front.
        check_buckets(10, &[25, 5], (10, 0, &[1, 0, 1]));
        check_buckets(10, &[25, 59], (10, 2, &[1, 0, 0, 1]));
    }

    #[test]
    fn past_the_most_buckets_neighbours_merge_in_pairs() {
        let last = MAX_BUCKETS as u64 * 10;
        // Buckets 0..=160 would be 161: pairs merge, aligned to 20.
        let mut buckets = Buckets::new(10);
        for t in (0..=last).step_by(10) {
            buckets.add(t, Level::Info);
        }
        assert_eq!(buckets.width_nanos(), 20);
        assert_eq!(buckets.first, 0);
        assert_eq!(buckets.counts().len(), 81);
        assert!(
            buckets.counts()[..80]
                .iter()
                .all(|c| c[Level::Info as usize] == 2)
        );
        assert_eq!(buckets.counts()[80][Level::Info as usize], 1);
        // Starting at an odd bucket, the first pair holds only one.
        check_buckets(
            10,
            &[10, 10 + last],
            (20, 0, &{
                let mut counts = vec![0; 81];
                counts[0] = 1;
                counts[80] = 1;
                counts
            }),
        );
        // Far apart: merged as often as it takes.
        let mut buckets = Buckets::new(1);
        buckets.add(0, Level::Error);
        buckets.add(1 << 20, Level::Info);
        assert!(buckets.counts().len() <= MAX_BUCKETS);
        assert_eq!(buckets.width_nanos(), 1 << 13);
        assert_eq!(buckets.counts()[0][Level::Error as usize], 1);
        assert_eq!(
            buckets.counts().last().expect("a bucket")[Level::Info as usize],
            1
        );
    }

    /// Counts by a plain loop: the width the buckets end at, each time divided by it.
    fn recount(width: u64, times: &[(u64, bool)]) -> std::collections::BTreeMap<u64, [u64; 2]> {
        let mut counts = std::collections::BTreeMap::new();
        for &(t, error) in times {
            let entry: &mut [u64; 2] = counts.entry(t / width).or_default();
            entry[usize::from(error)] += 1;
        }
        counts
    }

    proptest::proptest! {
        #[test]
        fn counting_as_records_come_equals_counting_them_all_at_once(
            width in 1u64..1_000,
            times in proptest::collection::vec((0u64..10_000_000, proptest::bool::ANY), 0..400),
            split in 0usize..400,
        ) {
            let level = |error: bool| if error { Level::Error } else { Level::Info };
            let mut incremental = Buckets::new(width);
            let split = split.min(times.len());
            for &(t, error) in &times[..split] {
                incremental.add(t, level(error));
            }
            // Published in between, then more arrive.
            let _ = incremental.publish(Counted::Logs, (None, None), false);
            for &(t, error) in &times[split..] {
                incremental.add(t, level(error));
            }
            let end_width = incremental.width_nanos();
            proptest::prop_assert!(incremental.counts().len() <= MAX_BUCKETS);
            proptest::prop_assert_eq!(incremental.total, times.len() as u64);
            let mut all_at_once = Buckets::new(end_width);
            for &(t, error) in &times {
                all_at_once.add(t, level(error));
            }
            let nonzero = |b: &Buckets| -> std::collections::BTreeMap<u64, [u64; 2]> {
                b.counts()
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.iter().sum::<u64>() > 0)
                    .map(|(i, c)| {
                        (b.first + i as u64, [c[Level::Info as usize], c[Level::Error as usize]])
                    })
                    .collect()
            };
            proptest::prop_assert_eq!(nonzero(&incremental), recount(end_width, &times));
            proptest::prop_assert_eq!(nonzero(&all_at_once), recount(end_width, &times));
        }
    }
}
