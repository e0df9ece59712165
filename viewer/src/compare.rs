//! Two tabs' operations side by side (two runs, say): each operation's figures in the
//! shown tab and in the baseline, ranked by how much it regressed.
//!
//! The rank is a score: the p95 ratio (shown over baseline), or, when the error rate
//! rose, 1 + 10 × its rise (a rise of 5 points scores as a p95 one and a half times
//! longer), whichever is larger. An operation is a regression when its p95 grew by
//! `REGRESSION_RATIO` or more, or its error rate by `REGRESSION_ERROR_RISE`. One
//! only in the shown tab scores 1 (new, nothing to compare); one only in the baseline
//! scores 0 (gone).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::model::TraceId;
use crate::operation::{OperationKey, OperationRow};

/// A p95 this many times the baseline's is a regression.
pub const REGRESSION_RATIO: f64 = 1.2;
/// An error rate this much above the baseline's (a share, 0.05 is 5 points) is one.
pub const REGRESSION_ERROR_RISE: f64 = 0.05;
/// What a rise of the error rate weighs against the p95 ratio in the score.
const ERROR_RISE_WEIGHT: f64 = 10.0;

/// A span by its trace and its place in the index: what "Slowest traces" opens.
pub type SpanAt = (TraceId, u32);

/// One operation in both tabs.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparedRow {
    pub key: OperationKey,
    /// The shown tab's figures, if the operation is in it.
    pub shown: Option<OperationRow>,
    /// The baseline's.
    pub baseline: Option<OperationRow>,
    pub score: f64,
    pub regression: bool,
    /// The operation's slowest span in the shown tab and in the baseline.
    pub slowest: [Option<SpanAt>; 2],
}

impl ComparedRow {
    /// A figure's change from the baseline: (absolute, relative to the baseline's).
    pub fn change(&self, figure: impl Fn(&OperationRow) -> f64) -> Option<(f64, Option<f64>)> {
        let shown = figure(self.shown.as_ref()?);
        let baseline = figure(self.baseline.as_ref()?);
        let relative = (baseline != 0.0).then(|| (shown - baseline) / baseline);
        Some((shown - baseline, relative))
    }
}

/// The comparison the operations view shows.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// The baseline's tab (a `snapshot::TabId`, named here without importing the
    /// snapshot, which holds this).
    pub baseline_tab: u64,
    /// The largest regression first.
    pub rows: Vec<ComparedRow>,
    /// Share of the spans the baseline's table examined, while it is computed.
    pub progress: Option<f32>,
}

/// The regression score and verdict of one operation in both tabs.
fn score(shown: Option<&OperationRow>, baseline: Option<&OperationRow>) -> (f64, bool) {
    match (shown, baseline) {
        (Some(shown), Some(baseline)) => {
            let ratio = shown.p95_nano as f64 / baseline.p95_nano.max(1) as f64;
            let rise = shown.error_rate() - baseline.error_rate();
            let score = ratio.max(1.0 + ERROR_RISE_WEIGHT * rise);
            (
                score,
                ratio >= REGRESSION_RATIO || rise >= REGRESSION_ERROR_RISE,
            )
        }
        (Some(_), None) => (1.0, false),
        _ => (0.0, false),
    }
}

/// Both tabs' operations, the largest regression first (ties by key); `slowest`
/// names an operation's slowest span in the shown tab (0) or the baseline (1).
pub fn compare(
    shown: Vec<OperationRow>,
    baseline: Vec<OperationRow>,
    slowest: impl Fn(usize, &OperationKey) -> Option<SpanAt>,
) -> Vec<ComparedRow> {
    let mut both: FxHashMap<OperationKey, [Option<OperationRow>; 2]> = FxHashMap::default();
    for (side, rows) in [shown, baseline].into_iter().enumerate() {
        for row in rows {
            let key = row.key.clone();
            both.entry(key).or_default()[side] = Some(row);
        }
    }
    let mut rows: Vec<ComparedRow> = both
        .into_iter()
        .map(|(key, [shown, baseline])| {
            let (score, regression) = score(shown.as_ref(), baseline.as_ref());
            ComparedRow {
                slowest: [slowest(0, &key), slowest(1, &key)],
                key,
                shown,
                baseline,
                score,
                regression,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    rows
}

/// What a comparison was asked against: the baseline tab and its filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareRequest {
    /// The baseline's tab (a `snapshot::TabId`).
    pub tab: u64,
    pub filter: Arc<crate::filter::Filter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, count: u64, errors: u64, p95_nano: u64) -> OperationRow {
        OperationRow {
            key: OperationKey {
                service: "api".into(),
                name: name.into(),
            },
            count,
            errors,
            p50_nano: p95_nano / 2,
            p95_nano,
            p99_nano: p95_nano,
            max_nano: p95_nano,
        }
    }

    #[track_caller]
    fn check(shown: Vec<OperationRow>, baseline: Vec<OperationRow>, expected: &[(&str, bool)]) {
        let rows = compare(shown, baseline, |_, _| None);
        let got: Vec<(&str, bool)> = rows.iter().map(|r| (&*r.key.name, r.regression)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_largest_regression_comes_first() {
        // b's p95 tripled: first; a is as it was; c is new; d is gone.
        check(
            vec![
                row("a", 10, 0, 100),
                row("b", 10, 0, 300),
                row("c", 1, 0, 5),
            ],
            vec![
                row("a", 10, 0, 100),
                row("b", 10, 0, 100),
                row("d", 1, 0, 5),
            ],
            &[("b", true), ("a", false), ("c", false), ("d", false)],
        );
        // Errors rising from 0 to 50%: a score of 6, above a p95 twice as long.
        check(
            vec![row("a", 10, 5, 100), row("b", 10, 0, 200)],
            vec![row("a", 10, 0, 100), row("b", 10, 0, 100)],
            &[("a", true), ("b", true)],
        );
        // Faster is no regression, and ranks last.
        check(
            vec![row("a", 10, 0, 50), row("b", 10, 0, 110)],
            vec![row("a", 10, 0, 100), row("b", 10, 0, 100)],
            &[("b", false), ("a", false)],
        );
    }

    #[test]
    fn a_change_is_absolute_and_relative_to_the_baseline() {
        let rows = compare(
            vec![row("a", 30, 0, 150)],
            vec![row("a", 10, 0, 100)],
            |_, _| None,
        );
        assert_eq!(
            rows[0].change(|r| r.p95_nano as f64),
            Some((50.0, Some(0.5)))
        );
        assert_eq!(rows[0].change(|r| r.count as f64), Some((20.0, Some(2.0))));
    }
}
