//! The trace list's rows: the traces a tab's filter listed, within its duration
//! bounds, in the tab's sort order, kept so while traces grow.
//!
//! A trace's duration, span and error counts change as its records arrive, so the
//! order is brought up to date before each publish: only the traces that new records
//! touched (and newly listed ones) are taken out and put back in, by their keys; the
//! rest stay where they are. It sorts trace numbers with their keys, never copies of
//! the traces.

use crate::filter::{CompiledFilter, SpanMatches};
use crate::model::{Index, TraceEntry};
use crate::snapshot::{SortKey, TraceSort};

/// A trace not in the rows.
const NOT_LISTED: u32 = u32::MAX;
/// A trace being moved to its new place, during `update`.
const MOVING: u32 = u32::MAX - 1;

/// The listed traces, sorted.
#[derive(Debug, Default)]
pub struct TraceOrder {
    sort: TraceSort,
    /// (key, trace), ascending; ties go by trace number, that is by first sight.
    sorted: Vec<(u64, u32)>,
    /// Per trace of the index, its place in `sorted` (`NOT_LISTED` if none).
    places: Vec<u32>,
    /// How many of the filter's listed traces (`SpanMatches::traces`) are taken in.
    taken: usize,
    /// Records of the index seen: those after them may have changed a trace.
    spans_seen: usize,
    logs_seen: usize,
    /// The keys of all traces must be read again (a new sort key, a new pass).
    stale: bool,
    /// `SpanMatches::reorders` when last seen: a reorder moves the listed traces.
    reorders_seen: u32,
}

impl TraceOrder {
    pub fn new(sort: TraceSort) -> Self {
        Self {
            sort,
            ..Self::default()
        }
    }

    pub fn sort(&self) -> TraceSort {
        self.sort
    }

    /// Changes the order; a new direction only reads the rows from the other end.
    pub fn set_sort(&mut self, sort: TraceSort) {
        if sort.key != self.sort.key {
            self.stale = true;
        }
        self.sort = sort;
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The trace (by its number in the index) in row `row`.
    pub fn trace_at(&self, row: usize) -> Option<u32> {
        let place = if self.sort.descending {
            self.sorted.len().checked_sub(row + 1)?
        } else {
            row
        };
        self.sorted.get(place).map(|&(_, trace)| trace)
    }

    /// The row of a trace, if it is listed.
    pub fn row_of(&self, trace: u32) -> Option<usize> {
        let place = *self.places.get(trace as usize)?;
        if place >= MOVING {
            return None;
        }
        let place = place as usize;
        Some(if self.sort.descending {
            self.sorted.len() - 1 - place
        } else {
            place
        })
    }

    /// Brings the rows up to date with the index and the filter's matches: the
    /// traces that records arrived for since the last update are placed again.
    pub fn update(&mut self, index: &Index, matches: &SpanMatches, filter: &CompiledFilter) {
        let new_records = index.spans.len() - self.spans_seen + index.logs.len() - self.logs_seen;
        let new_listed = matches.traces.len() - self.taken;
        if matches.reorders() != self.reorders_seen {
            // The listed traces moved: those past `taken` are no longer the new ones,
            // and arrival keys are places in that list.
            self.reorders_seen = matches.reorders();
            self.stale = true;
        }
        if !self.stale && new_records == 0 && new_listed == 0 {
            return;
        }
        // Past this, sorting all again costs less than placing each one.
        if self.stale || new_records + new_listed > self.sorted.len() / 2 {
            self.rebuild(index, matches, filter);
        } else {
            self.replace_changed(index, matches, filter);
        }
        self.taken = matches.traces.len();
        self.spans_seen = index.spans.len();
        self.logs_seen = index.logs.len();
        self.stale = false;
    }

    fn rebuild(&mut self, index: &Index, matches: &SpanMatches, filter: &CompiledFilter) {
        self.sorted.clear();
        self.sorted
            .extend(matches.traces.iter().filter_map(|&trace| {
                entry_key(self.sort.key, index, matches, filter, trace).map(|key| (key, trace))
            }));
        self.sorted.sort_unstable();
        self.places.clear();
        self.places.resize(index.traces.len(), NOT_LISTED);
        self.write_places(0);
    }

    /// Takes out the traces that changed and puts them back at their new places.
    fn replace_changed(&mut self, index: &Index, matches: &SpanMatches, filter: &CompiledFilter) {
        self.places.resize(index.traces.len(), NOT_LISTED);
        let listed = |trace: u32| matches.position(trace).is_some();
        let mut changed: Vec<u32> = matches.traces[self.taken..].to_vec();
        changed.extend(
            index
                .spans
                .iter_from(self.spans_seen)
                .map(|span| span.trace)
                .filter(|&trace| listed(trace)),
        );
        changed.extend(
            index
                .logs
                .iter_from(self.logs_seen)
                .filter(|log| log.trace_id.get() != 0)
                .filter_map(|log| index.trace_by_id(log.trace_id.get()))
                .filter(|&trace| listed(trace)),
        );
        changed.sort_unstable();
        changed.dedup();
        // Out: from the first place that moves, the rest close up.
        let mut first_moved = self.sorted.len();
        for &trace in &changed {
            let place = &mut self.places[trace as usize];
            if *place != NOT_LISTED {
                first_moved = first_moved.min(*place as usize);
                *place = MOVING;
            }
        }
        let places = &self.places;
        let mut kept = first_moved;
        for at in first_moved..self.sorted.len() {
            let entry = self.sorted[at];
            if places[entry.1 as usize] != MOVING {
                self.sorted[kept] = entry;
                kept += 1;
            }
        }
        self.sorted.truncate(kept);
        for &trace in &changed {
            self.places[trace as usize] = NOT_LISTED;
        }
        // In: at their new keys, if they are within the duration bounds.
        let mut moved: Vec<(u64, u32)> = changed
            .iter()
            .filter_map(|&trace| {
                entry_key(self.sort.key, index, matches, filter, trace).map(|key| (key, trace))
            })
            .collect();
        moved.sort_unstable();
        if let Some(first) = moved.first() {
            first_moved = first_moved.min(self.sorted.partition_point(|e| e < first));
        }
        merge(&mut self.sorted, &moved);
        self.write_places(first_moved);
    }

    fn write_places(&mut self, from: usize) {
        for (place, &(_, trace)) in self.sorted.iter().enumerate().skip(from) {
            self.places[trace as usize] = place as u32;
        }
    }
}

/// A listed trace's key, or `None` when its duration is out of the filter's bounds.
fn entry_key(
    key: SortKey,
    index: &Index,
    matches: &SpanMatches,
    filter: &CompiledFilter,
    trace: u32,
) -> Option<u64> {
    let entry = &index.traces[trace as usize];
    filter.passes_duration(duration(entry)).then(|| match key {
        SortKey::Start => entry.start,
        SortKey::Duration => duration(entry),
        SortKey::Spans => entry.spans.len() as u64,
        SortKey::Errors => u64::from(entry.errors),
        SortKey::Arrival => matches.position(trace).unwrap_or(usize::MAX) as u64,
    })
}

/// A trace's duration as the index knows it: from its earliest record to its latest.
pub fn duration(trace: &TraceEntry) -> u64 {
    trace.end.saturating_sub(trace.start)
}

/// Merges sorted `more` into sorted `into`, from the back, in place.
fn merge(into: &mut Vec<(u64, u32)>, more: &[(u64, u32)]) {
    if more.is_empty() {
        return;
    }
    let old = into.len();
    into.resize(old + more.len(), (0, 0));
    let (mut a, mut b, mut write) = (old, more.len(), old + more.len());
    while b > 0 {
        write -= 1;
        if a > 0 && into[a - 1] > more[b - 1] {
            into[write] = into[a - 1];
            a -= 1;
        } else {
            into[write] = more[b - 1];
            b -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Filter, step_spans};
    use crate::model::{BlockLoc, PreparedBlock, PreparedRecord, PreparedScope};

    /// A block of spans: (trace id, start, end, error) each.
    fn block(spans: &[(u128, u64, u64, bool)]) -> PreparedBlock {
        PreparedBlock {
            strings: vec![String::new()],
            scopes: vec![PreparedScope {
                service: "svc".to_owned(),
                ..PreparedScope::default()
            }],
            spans: spans
                .iter()
                .map(|&(trace_id, time, end, error)| PreparedRecord {
                    time,
                    end,
                    trace_id,
                    span_id: 1,
                    parent_span_id: 1,
                    error,
                    ..PreparedRecord::default()
                })
                .collect(),
            ..PreparedBlock::default()
        }
    }

    /// A small deterministic random source (no dependency for a test this size).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    fn rows(order: &TraceOrder) -> Vec<u32> {
        (0..order.len())
            .filter_map(|row| order.trace_at(row))
            .collect()
    }

    /// Random spans over `traces` trace ids, `per_block` at a time.
    fn grow(index: &mut Index, random: &mut Lcg, traces: u64, per_block: usize) {
        let spans: Vec<_> = (0..per_block)
            .map(|_| {
                let start = 1_000 + random.below(10_000);
                let id = u128::from(random.below(traces)) + 1;
                (id, start, start + random.below(5_000), random.below(7) == 0)
            })
            .collect();
        let loc = BlockLoc {
            segment: 0,
            offset: index.blocks.len() as u64,
            frame_bytes: 0,
        };
        index.add_prepared(&block(&spans), loc, 0);
    }

    #[test]
    fn traces_placed_again_as_they_grow_are_where_a_fresh_sort_puts_them() {
        for key in SortKey::ALL {
            for (bounds, descending) in [(("", ""), true), (("1us", "4us"), false)] {
                let filter = Filter {
                    min_duration: bounds.0.to_owned(),
                    max_duration: bounds.1.to_owned(),
                    ..Filter::default()
                };
                let mut compiled = CompiledFilter::at(&filter, 0);
                let sort = TraceSort { key, descending };
                let mut index = Index::default();
                let mut matches = SpanMatches::default();
                let mut order = TraceOrder::new(sort);
                let mut random = Lcg(key as u64);
                for round in 0..60 {
                    // A few spans at a time, so most updates move a few traces.
                    let per_block = if round == 0 { 400 } else { 1 + round % 5 };
                    grow(&mut index, &mut random, 300, per_block);
                    step_spans(&index, &mut compiled, &mut matches, 1 << 30);
                    order.update(&index, &matches, &compiled);
                    let mut fresh = TraceOrder::new(sort);
                    fresh.update(&index, &matches, &compiled);
                    assert_eq!(
                        rows(&order),
                        rows(&fresh),
                        "{sort:?} {bounds:?} round {round}"
                    );
                    for row in 0..order.len() {
                        let trace = order.trace_at(row).unwrap_or(u32::MAX);
                        assert_eq!(order.row_of(trace), Some(row));
                    }
                }
                let durations: Vec<u64> = rows(&order)
                    .iter()
                    .map(|&t| duration(&index.traces[t as usize]))
                    .collect();
                assert!(durations.iter().all(|d| compiled.passes_duration(*d)));
                if !bounds.0.is_empty() {
                    assert!(
                        order.len() < index.traces.len(),
                        "the bounds leave some out"
                    );
                }
            }
        }
    }

    #[test]
    fn a_new_direction_reads_the_same_rows_from_the_other_end() {
        let mut index = Index::default();
        grow(&mut index, &mut Lcg(7), 50, 200);
        let mut compiled = CompiledFilter::at(&Filter::default(), 0);
        let mut matches = SpanMatches::default();
        step_spans(&index, &mut compiled, &mut matches, 1 << 30);
        let mut order = TraceOrder::new(TraceSort {
            key: SortKey::Duration,
            descending: true,
        });
        order.update(&index, &matches, &compiled);
        let longest_first = rows(&order);
        let durations: Vec<u64> = longest_first
            .iter()
            .map(|&t| duration(&index.traces[t as usize]))
            .collect();
        assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
        order.set_sort(TraceSort {
            key: SortKey::Duration,
            descending: false,
        });
        order.update(&index, &matches, &compiled);
        let mut shortest_first = rows(&order);
        shortest_first.reverse();
        assert_eq!(shortest_first, longest_first);
    }

    /// Not a benchmark: prints what keeping 100k traces in order costs, for a look
    /// (`cargo test -p oculus-viewer --lib trace_order -- --nocapture`).
    #[test]
    fn keeping_many_traces_in_order_costs_little_per_update() {
        let mut index = Index::default();
        let mut random = Lcg(1);
        for _ in 0..10 {
            grow(&mut index, &mut random, 100_000, 40_000);
        }
        let mut compiled = CompiledFilter::at(&Filter::default(), 0);
        let mut matches = SpanMatches::default();
        step_spans(&index, &mut compiled, &mut matches, 1 << 30);
        let mut order = TraceOrder::new(TraceSort {
            key: SortKey::Duration,
            descending: true,
        });
        let started = std::time::Instant::now();
        order.update(&index, &matches, &compiled);
        let sorted = started.elapsed();
        let started = std::time::Instant::now();
        for _ in 0..10 {
            grow(&mut index, &mut random, 100_000, 100);
            step_spans(&index, &mut compiled, &mut matches, 1 << 30);
            order.update(&index, &matches, &compiled);
        }
        let updates = started.elapsed() / 10;
        println!(
            "{} traces: sorted in {sorted:?}; 100 new spans placed in {updates:?} (with the filter step)",
            order.len()
        );
        assert_eq!(order.len(), matches.traces.len());
    }
}
