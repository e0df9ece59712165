//! A trace's critical path and each span's self time, from its spans' times and parents.
//!
//! The critical path is Jaeger's: start at the end of the trace and walk back. At each
//! span, take the child that finished last before the current point, move the point to
//! that child's start and go on inside it; time no child covers belongs to the span
//! itself (a gap). A child is first cut to its parent (one that outlives its parent
//! counts up to the parent's end; one starting before it, from its start); a child
//! wholly outside its parent is never on the path.
//!
//! Several roots, and spans whose parent is not in the trace (orphans, which the caller
//! gives no parent), are all roots: they are walked as the children of the whole
//! trace, from the end of the root that finishes last, and the time between them
//! belongs to no span.
//!
//! Each span's children are sorted once (by end for the walk, by start for the self
//! time), and every span is visited once: O(n log n) in the trace's spans.

/// A span as the critical path sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSpan {
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// The parent's position in the trace's spans; `None` for a root or an orphan.
    pub parent: Option<usize>,
}

/// A stretch of time, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

impl Interval {
    pub fn duration_nano(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }
}

/// What the analysis says of one span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanTimes {
    /// Its duration less the time any of its children covers (counted once).
    pub self_nano: u64,
    /// The parts of it on the critical path, in time order, none touching another.
    pub critical: Vec<Interval>,
}

impl SpanTimes {
    /// How long the span is on the critical path.
    pub fn critical_nano(&self) -> u64 {
        self.critical.iter().map(Interval::duration_nano).sum()
    }
}

/// The self time and critical-path parts of each span, in the order given.
pub fn span_times(spans: &[PathSpan]) -> Vec<SpanTimes> {
    let tree = Tree::new(spans);
    // One buffer for every span's children, rather than one each.
    let mut covered = Vec::new();
    let mut times: Vec<SpanTimes> = (0..spans.len())
        .map(|span| SpanTimes {
            self_nano: tree.self_nano(spans, span, &mut covered),
            critical: Vec::new(),
        })
        .collect();
    tree.walk_critical_path(&mut times);
    for span in &mut times {
        // Found walking back from the end.
        span.critical.reverse();
    }
    times
}

/// The spans' children, each list in one shared vector, under a virtual root (the
/// last position) whose children are the roots and which spans the whole trace.
struct Tree {
    /// Where each span's children start in `children`; one more entry than spans.
    first_child: Vec<usize>,
    children: Vec<usize>,
    /// Each span cut to its parent (as cut), for the walk; `None` if wholly outside.
    clipped: Vec<Option<Interval>>,
}

impl Tree {
    fn new(spans: &[PathSpan]) -> Self {
        let root = spans.len();
        let parent_of = |span: usize| match spans[span].parent {
            Some(parent) if parent < spans.len() && parent != span => parent,
            _ => root,
        };
        let mut first_child = vec![0; root + 2];
        for span in 0..root {
            first_child[parent_of(span) + 1] += 1;
        }
        for node in 0..=root {
            first_child[node + 1] += first_child[node];
        }
        let mut filled = first_child.clone();
        let mut children = vec![0; root];
        for span in 0..root {
            let parent = parent_of(span);
            children[filled[parent]] = span;
            filled[parent] += 1;
        }
        let mut tree = Self {
            first_child,
            children,
            clipped: vec![None; root + 1],
        };
        tree.clip(spans);
        tree
    }

    fn children_of(&self, node: usize) -> &[usize] {
        &self.children[self.first_child[node]..self.first_child[node + 1]]
    }

    /// Cuts every span reached from the roots to its parent as cut, top down, then
    /// orders each span's children latest end first, for the walk.
    fn clip(&mut self, spans: &[PathSpan]) {
        let root = spans.len();
        let own = |span: usize| Interval {
            start_unix_nano: spans[span].start_unix_nano,
            end_unix_nano: spans[span].end_unix_nano.max(spans[span].start_unix_nano),
        };
        let roots = self.children_of(root);
        let whole = Interval {
            start_unix_nano: roots
                .iter()
                .map(|&r| own(r).start_unix_nano)
                .min()
                .unwrap_or(0),
            end_unix_nano: roots
                .iter()
                .map(|&r| own(r).end_unix_nano)
                .max()
                .unwrap_or(0),
        };
        self.clipped[root] = Some(whole);
        let mut queue = vec![root];
        while let Some(node) = queue.pop() {
            let Some(bounds) = self.clipped[node] else {
                continue;
            };
            let range = self.first_child[node]..self.first_child[node + 1];
            for &child in &self.children[range.clone()] {
                let child_own = own(child);
                let start = child_own.start_unix_nano.max(bounds.start_unix_nano);
                let end = child_own.end_unix_nano.min(bounds.end_unix_nano);
                self.clipped[child] = (start <= end).then_some(Interval {
                    start_unix_nano: start,
                    end_unix_nano: end,
                });
                queue.push(child);
            }
            let clipped = &self.clipped;
            self.children[range].sort_unstable_by_key(|&child| {
                std::cmp::Reverse(clipped[child].map_or(0, |c| c.end_unix_nano))
            });
        }
    }

    /// A span's duration less the union of its children's times, cut to it.
    fn self_nano(&self, spans: &[PathSpan], span: usize, covered: &mut Vec<(u64, u64)>) -> u64 {
        let start = spans[span].start_unix_nano;
        let end = spans[span].end_unix_nano.max(start);
        covered.clear();
        covered.extend(
            self.children_of(span)
                .iter()
                .map(|&c| {
                    let child = &spans[c];
                    (
                        child.start_unix_nano.max(start),
                        child.end_unix_nano.min(end),
                    )
                })
                .filter(|(from, to)| from < to),
        );
        covered.sort_unstable();
        let mut covered_nano = 0;
        let mut reached = start;
        for &(from, to) in covered.iter() {
            let from = from.max(reached);
            if to > from {
                covered_nano += to - from;
                reached = to;
            }
        }
        (end - start).saturating_sub(covered_nano)
    }

    /// Walks back from the end of the trace, adding to `times` the part of each span
    /// on the path. A stack, not recursion: a trace may nest 100,000 deep.
    fn walk_critical_path(&self, times: &mut [SpanTimes]) {
        let root = times.len();
        let Some(whole) = self.clipped[root] else {
            return;
        };
        // Each span's next child to consider: its children come latest end first and
        // the point only moves back, so a child passed over is never taken later.
        let mut next_child = self.first_child.clone();
        // The spans being walked, innermost last, each with its current point.
        let mut stack = vec![(root, whole.end_unix_nano)];
        while let Some(&mut (node, ref mut point)) = stack.last_mut() {
            let end = self.first_child[node + 1];
            let mut taken = None;
            while next_child[node] < end {
                let child = self.children[next_child[node]];
                next_child[node] += 1;
                if let Some(clipped) = self.clipped[child]
                    && clipped.end_unix_nano <= *point
                {
                    taken = Some((child, clipped));
                    break;
                }
            }
            let node_start = self.clipped[node].map_or(0, |c| c.start_unix_nano);
            match taken {
                Some((child, clipped)) => {
                    let gap_from = clipped.end_unix_nano;
                    let gap_to = *point;
                    *point = clipped.start_unix_nano;
                    add(times, node, gap_from, gap_to);
                    stack.push((child, clipped.end_unix_nano));
                }
                None => {
                    let to = *point;
                    add(times, node, node_start, to);
                    stack.pop();
                }
            }
        }
    }
}

/// Puts `from..to` of `node` on the path (nothing for the virtual root or an empty
/// stretch), joined to the part found just before (which starts where this one ends).
fn add(times: &mut [SpanTimes], node: usize, from: u64, to: u64) {
    let Some(span) = times.get_mut(node) else {
        return;
    };
    if from >= to {
        return;
    }
    match span.critical.last_mut() {
        Some(last) if last.start_unix_nano == to => last.start_unix_nano = from,
        _ => span.critical.push(Interval {
            start_unix_nano: from,
            end_unix_nano: to,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span from `start` to `end` under the span at `parent`.
    fn s(start: u64, end: u64, parent: Option<usize>) -> PathSpan {
        PathSpan {
            start_unix_nano: start,
            end_unix_nano: end,
            parent,
        }
    }

    /// Checks each span's critical-path parts and self time.
    #[track_caller]
    fn check(spans: &[PathSpan], expected: &[(&[(u64, u64)], u64)]) {
        let got: Vec<(Vec<(u64, u64)>, u64)> = span_times(spans)
            .into_iter()
            .map(|t| {
                (
                    t.critical
                        .iter()
                        .map(|i| (i.start_unix_nano, i.end_unix_nano))
                        .collect(),
                    t.self_nano,
                )
            })
            .collect();
        let expected: Vec<(Vec<(u64, u64)>, u64)> = expected
            .iter()
            .map(|(critical, self_nano)| (critical.to_vec(), *self_nano))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_lone_span_is_all_path_and_all_self() {
        check(&[s(0, 10, None)], &[(&[(0, 10)], 10)]);
    }

    #[test]
    fn sequential_children_are_all_on_the_path_with_the_gaps_to_the_parent() {
        check(
            &[
                s(0, 100, None),
                s(10, 40, Some(0)),
                s(40, 70, Some(0)),
                s(80, 90, Some(0)),
            ],
            &[
                (&[(0, 10), (70, 80), (90, 100)], 30),
                (&[(10, 40)], 30),
                (&[(40, 70)], 30),
                (&[(80, 90)], 10),
            ],
        );
    }

    #[test]
    fn of_overlapping_children_the_last_to_finish_wins() {
        // B ends last; A ended after B started, so only C (done before B) follows.
        check(
            &[
                s(0, 100, None),
                s(10, 60, Some(0)),
                s(50, 90, Some(0)),
                s(5, 30, Some(0)),
            ],
            &[
                (&[(0, 5), (30, 50), (90, 100)], 5 + 10),
                (&[], 50),
                (&[(50, 90)], 40),
                (&[(5, 30)], 25),
            ],
        );
    }

    #[test]
    fn an_async_child_that_outlives_its_parent_counts_up_to_the_parent_end() {
        check(
            &[s(0, 50, None), s(20, 200, Some(0))],
            &[(&[(0, 20)], 20), (&[(20, 50)], 180)],
        );
    }

    #[test]
    fn a_child_starting_before_its_parent_counts_from_the_parent_start() {
        check(
            &[s(10, 50, None), s(0, 30, Some(0))],
            &[(&[(30, 50)], 20), (&[(10, 30)], 30)],
        );
    }

    #[test]
    fn a_child_wholly_outside_its_parent_is_never_on_the_path() {
        check(
            &[s(0, 50, None), s(60, 80, Some(0)), s(10, 20, Some(0))],
            &[(&[(0, 10), (20, 50)], 40), (&[], 20), (&[(10, 20)], 10)],
        );
    }

    #[test]
    fn nested_spans_hand_the_path_down_and_back_up() {
        // root 0..100 > a 10..80 > (b 20..50 > c 30..40), d 55..70
        check(
            &[
                s(0, 100, None),
                s(10, 80, Some(0)),
                s(20, 50, Some(1)),
                s(30, 40, Some(2)),
                s(55, 70, Some(1)),
            ],
            &[
                (&[(0, 10), (80, 100)], 30),
                (&[(10, 20), (50, 55), (70, 80)], 70 - 30 - 15),
                (&[(20, 30), (40, 50)], 20),
                (&[(30, 40)], 10),
                (&[(55, 70)], 15),
            ],
        );
    }

    #[test]
    fn zero_length_spans_are_walked_but_take_no_time() {
        check(
            &[
                s(0, 10, None),
                s(10, 10, Some(0)),
                s(5, 5, Some(0)),
                s(5, 5, Some(2)),
            ],
            &[(&[(0, 10)], 10), (&[], 0), (&[], 0), (&[], 0)],
        );
    }

    #[test]
    fn roots_and_orphans_are_walked_from_the_last_to_finish() {
        // Two roots (the second an orphan whose parent never arrived): the path runs
        // through the later one; the first ended after it began, so it waited on
        // neither, like an overlapping child.
        check(
            &[
                s(0, 50, None),
                s(40, 90, None),
                s(10, 20, Some(0)),
                s(0, 30, None),
            ],
            &[(&[], 40), (&[(40, 90)], 50), (&[], 10), (&[(0, 30)], 30)],
        );
    }

    #[test]
    fn a_parent_out_of_range_or_its_own_makes_a_root() {
        check(
            &[s(0, 10, Some(7)), s(20, 30, Some(1))],
            &[(&[(0, 10)], 10), (&[(20, 30)], 10)],
        );
    }

    #[test]
    fn a_span_ending_before_its_start_lasts_nothing() {
        check(&[s(10, 5, None)], &[(&[], 0)]);
    }

    #[test]
    fn a_chain_of_100_000_spans_needs_no_recursion() {
        let spans: Vec<PathSpan> = (0..100_000u64)
            .map(|i| s(i, 200_000 - i, i.checked_sub(1).map(|p| p as usize)))
            .collect();
        let times = span_times(&spans);
        assert_eq!(times[0].critical_nano(), 2);
        assert_eq!(times[99_999].critical_nano(), 200_000 - 2 * 99_999);
        let total: u64 = times.iter().map(SpanTimes::critical_nano).sum();
        assert_eq!(total, 200_000);
    }
}
