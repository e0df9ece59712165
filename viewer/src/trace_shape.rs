//! A trace's shape, laid out once per trace view on the backend: its spans by depth
//! for the flame graph, and how busy each stretch of it is for the minimap.

use crate::critical_path::Interval;

/// Stretches the minimap divides a trace into.
pub const MINIMAP_BUCKETS: usize = 256;

/// What the shape reads of a span of the trace view.
#[derive(Clone, Copy, Debug)]
pub struct ShapeSpan<'a> {
    pub depth: u16,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// Its parts on the critical path.
    pub critical: &'a [Interval],
}

/// What the flame graph and the minimap draw from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceShape {
    /// At each depth, the spans there (by their position in the view), by start, so
    /// that drawing stops at the first one past the window.
    pub depths: Vec<Vec<u32>>,
    /// At each depth, the latest end of the spans up to each one in `depths`: where
    /// the first span reaching into a window is, found by a binary search.
    pub reach: Vec<Vec<u64>>,
    /// How many spans run in each of `MINIMAP_BUCKETS` equal stretches of the trace.
    pub busy: Vec<u32>,
    /// Whether the critical path runs through a span in each stretch.
    pub critical: Vec<bool>,
}

impl TraceShape {
    /// Where the spans at `depth` that may reach past `time` start: each before it
    /// ended before `time`, whatever `reaches` says of a time (true: at or after it).
    pub fn first_reaching(&self, depth: usize, reaches: impl Fn(u64) -> bool) -> usize {
        self.reach
            .get(depth)
            .map_or(0, |row| row.partition_point(|&end| !reaches(end)))
    }

    /// The shape of `spans`, a trace from `start_unix_nano` to `end_unix_nano`.
    pub fn new(spans: &[ShapeSpan<'_>], start_unix_nano: u64, end_unix_nano: u64) -> Self {
        let mut depths: Vec<Vec<u32>> = Vec::new();
        for (position, span) in spans.iter().enumerate() {
            let depth = usize::from(span.depth);
            if depths.len() <= depth {
                depths.resize_with(depth + 1, Vec::new);
            }
            depths[depth].push(position as u32);
        }
        for row in &mut depths {
            // Stable: siblings of one start keep their tree order.
            row.sort_by_key(|&s| spans[s as usize].start_unix_nano);
        }
        let reach = depths
            .iter()
            .map(|row| {
                row.iter()
                    .scan(0, |latest, &s| {
                        *latest = spans[s as usize].end_unix_nano.max(*latest);
                        Some(*latest)
                    })
                    .collect()
            })
            .collect();
        let duration_nano = end_unix_nano.saturating_sub(start_unix_nano).max(1);
        let bucket = |time: u64| -> usize {
            let offset = u128::from(time.saturating_sub(start_unix_nano));
            let at = offset * MINIMAP_BUCKETS as u128 / u128::from(duration_nano);
            (at as usize).min(MINIMAP_BUCKETS - 1)
        };
        // Each span adds one where it starts and takes it back after it ends; the
        // running sum is then the spans in each stretch, in one pass over both.
        let mut starts = vec![0i64; MINIMAP_BUCKETS + 1];
        let mut critical = vec![false; MINIMAP_BUCKETS];
        for span in spans {
            starts[bucket(span.start_unix_nano)] += 1;
            starts[bucket(span.end_unix_nano.max(span.start_unix_nano)) + 1] -= 1;
            for part in span.critical {
                let last = bucket(
                    part.end_unix_nano
                        .saturating_sub(1)
                        .max(part.start_unix_nano),
                );
                for marked in &mut critical[bucket(part.start_unix_nano)..=last] {
                    *marked = true;
                }
            }
        }
        let mut running = 0i64;
        let busy = starts[..MINIMAP_BUCKETS]
            .iter()
            .map(|&change| {
                running += change;
                running.max(0) as u32
            })
            .collect();
        Self {
            depths,
            reach,
            busy,
            critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(depth: u16, start: u64, end: u64, critical: &[(u64, u64)]) -> ShapeSpan<'static> {
        let critical: Vec<Interval> = critical
            .iter()
            .map(|&(start_unix_nano, end_unix_nano)| Interval {
                start_unix_nano,
                end_unix_nano,
            })
            .collect();
        ShapeSpan {
            depth,
            start_unix_nano: start,
            end_unix_nano: end,
            critical: critical.leak(),
        }
    }

    #[test]
    fn spans_are_laid_out_by_depth_then_start() {
        let spans = [
            span(0, 0, 256, &[(0, 256)]),
            span(1, 100, 200, &[]),
            span(2, 120, 130, &[]),
            span(1, 10, 50, &[]),
        ];
        let shape = TraceShape::new(&spans, 0, 256);
        assert_eq!(shape.depths, vec![vec![0], vec![3, 1], vec![2]]);
        assert_eq!(shape.reach, vec![vec![256], vec![50, 200], vec![130]]);
        // A window from 60 starts at the second span of depth 1; one from 40, the first.
        assert_eq!(shape.first_reaching(1, |end| end >= 60), 1);
        assert_eq!(shape.first_reaching(1, |end| end >= 40), 0);
        assert_eq!(shape.first_reaching(1, |end| end >= 201), 2);
        assert_eq!(shape.first_reaching(9, |_| true), 0, "no such depth");
    }

    #[test]
    fn the_minimap_counts_the_spans_running_in_each_stretch() {
        // 256 ns over 256 stretches: a stretch a nanosecond.
        let spans = [span(0, 0, 255, &[(0, 10), (200, 256)]), span(1, 5, 9, &[])];
        let shape = TraceShape::new(&spans, 0, 256);
        assert_eq!(&shape.busy[..12], &[1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 1, 1]);
        assert_eq!(shape.busy[255], 1, "the root's last stretch");
        assert_eq!(shape.critical.iter().filter(|&&c| c).count(), 10 + 56);
        assert!(shape.critical[9] && !shape.critical[10] && shape.critical[200]);
    }

    #[test]
    fn an_empty_trace_has_an_empty_minimap() {
        let shape = TraceShape::new(&[], 0, 0);
        assert!(shape.depths.is_empty());
        assert!(shape.busy.iter().all(|&b| b == 0));
    }
}
