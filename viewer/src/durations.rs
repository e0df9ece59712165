//! Durations added a batch at a time, with exact nearest-rank percentiles.
//!
//! The values are kept as a few sorted runs (a batch is sorted when it is sealed, and
//! runs of similar length are merged, up to `MAX_MERGE` values at once) so that adding
//! a batch never costs more than sorting it and one bounded merge, and a rank is found
//! by a binary search over the value with a `partition_point` in each run.

/// The most values one merge moves: about a millisecond of copying.
const MAX_MERGE: usize = 1 << 20;

/// A multiset of durations in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Durations {
    /// Sorted, each about half the length of the one before or shorter.
    runs: Vec<Vec<u64>>,
    /// Added since the last `seal`.
    pending: Vec<u64>,
    max: u64,
}

impl Durations {
    pub fn push(&mut self, nanos: u64) {
        self.pending.push(nanos);
        self.max = self.max.max(nanos);
    }

    /// Values added, sealed or not.
    pub fn len(&self) -> usize {
        self.runs.iter().map(Vec::len).sum::<usize>() + self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Sorts what was added since the last seal into a run of its own, then merges the
    /// last runs while they are of similar length.
    pub fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut run = std::mem::take(&mut self.pending);
        run.sort_unstable();
        self.runs.push(run);
        while let [.., before, last] = &self.runs[..]
            && before.len() <= 2 * last.len()
            && before.len() + last.len() <= MAX_MERGE
        {
            let (Some(last), Some(before)) = (self.runs.pop(), self.runs.pop()) else {
                return;
            };
            self.runs.push(merge(&before, &last));
        }
    }

    /// The value of rank `rank` (1 for the smallest) among the sealed values, if there
    /// are that many.
    fn at_rank(&self, rank: usize) -> Option<u64> {
        let sealed: usize = self.runs.iter().map(Vec::len).sum();
        if rank == 0 || rank > sealed {
            return None;
        }
        // The smallest value with at least `rank` values at or below it: one of them.
        let mut low = 0_u64;
        let mut high = self
            .runs
            .iter()
            .filter_map(|run| run.last().copied())
            .max()?;
        while low < high {
            let middle = low + (high - low) / 2;
            let at_or_below: usize = self
                .runs
                .iter()
                .map(|run| run.partition_point(|&value| value <= middle))
                .sum();
            if at_or_below >= rank {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Some(low)
    }

    /// The `percent`th percentile of the sealed values by nearest rank: the value of
    /// rank ⌈percent × n / 100⌉ (at least 1) in ascending order, so always one of them.
    pub fn percentile(&self, percent: u32) -> Option<u64> {
        let sealed: usize = self.runs.iter().map(Vec::len).sum();
        let rank = (sealed * percent as usize).div_ceil(100).max(1);
        self.at_rank(rank)
    }
}

fn merge(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if x <= y {
            out.push(x);
            i += 1;
        } else {
            out.push(y);
            j += 1;
        }
    }
    out.extend_from_slice(a.get(i..).unwrap_or_default());
    out.extend_from_slice(b.get(j..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The reference: sort everything, take the value at the nearest rank.
    fn reference(values: &[u64], percent: u32) -> Option<u64> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = (sorted.len() * percent as usize).div_ceil(100).max(1);
        sorted.get(rank - 1).copied()
    }

    fn durations(batches: &[Vec<u64>]) -> Durations {
        let mut durations = Durations::default();
        for batch in batches {
            for &value in batch {
                durations.push(value);
            }
            durations.seal();
        }
        durations
    }

    #[track_caller]
    fn check(values: &[u64], expected: [Option<u64>; 4]) {
        let durations = durations(&[values.to_vec()]);
        let got = [50, 95, 99, 100].map(|p| durations.percentile(p));
        assert_eq!(got, expected, "{values:?}");
    }

    #[test]
    fn nearest_rank_percentiles_of_small_sets() {
        check(&[], [None; 4]);
        // One value is every percentile.
        check(&[7], [Some(7); 4]);
        check(&[3, 1], [Some(1), Some(3), Some(3), Some(3)]);
        // Ties: the value repeated is the answer, not something between.
        check(&[5, 5, 5, 9], [Some(5), Some(9), Some(9), Some(9)]);
        // 1..=100: the pth percentile is p.
        let hundred: Vec<u64> = (1..=100).rev().collect();
        check(&hundred, [Some(50), Some(95), Some(99), Some(100)]);
        check(&[0, 0, 0], [Some(0); 4]);
    }

    #[test]
    fn the_max_counts_values_not_yet_sealed() {
        let mut durations = Durations::default();
        durations.push(3);
        assert_eq!(durations.max(), 3);
        assert_eq!(durations.percentile(50), None);
        durations.seal();
        assert_eq!(durations.percentile(50), Some(3));
    }

    proptest! {
        #[test]
        fn percentiles_equal_a_sort_and_nearest_rank(
            batches in prop::collection::vec(
                prop::collection::vec(prop_oneof![0_u64..50, any::<u64>()], 0..40),
                1..30,
            ),
            percent in 0_u32..=100,
        ) {
            let durations = durations(&batches);
            let all: Vec<u64> = batches.concat();
            prop_assert_eq!(durations.len(), all.len());
            prop_assert_eq!(durations.percentile(percent), reference(&all, percent));
            prop_assert_eq!(durations.max(), all.iter().copied().max().unwrap_or(0));
        }
    }
}
