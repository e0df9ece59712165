//! What a metric series' chart shows, from its points: sums as rates per second or as
//! totals, as their temporality says; gauges as values; histograms as p50/p95/p99 over
//! time, interpolated within buckets; summaries as their quantiles.

use oculus_otlp::metric::{HistogramValue, MetricKind, Point, PointValue, Temporality};

use crate::metrics::{ChartLine, Distribution};

const NANOS_PER_SECOND: f64 = 1e9;

/// The percentiles a histogram's chart draws.
pub const PERCENTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

fn seconds(from_unix_nano: u64, to_unix_nano: u64) -> Option<f64> {
    (to_unix_nano > from_unix_nano)
        .then(|| (to_unix_nano - from_unix_nano) as f64 / NANOS_PER_SECOND)
}

/// A sum's rate per second at each point: a cumulative sum's change since the point
/// before (from its start after a restart: a new start time, or a monotonic sum that
/// fell), a delta sum's value over its interval.
pub fn rates(points: &[Point], temporality: Temporality, monotonic: bool) -> Vec<(u64, f64)> {
    let mut rates = Vec::with_capacity(points.len());
    let mut previous: Option<&Point> = None;
    for point in points {
        let value = point.value.as_f64();
        let time = point.time_unix_nano;
        let rate = match temporality {
            Temporality::Delta => {
                // The point's own interval, else the time since the point before.
                let from = if point.start_unix_nano != 0 && point.start_unix_nano < time {
                    Some(point.start_unix_nano)
                } else {
                    previous.map(|p| p.time_unix_nano)
                };
                from.and_then(|from| seconds(from, time)).map(|s| value / s)
            }
            Temporality::Cumulative | Temporality::Unspecified => match previous {
                Some(before) => {
                    let restarted = point.start_unix_nano != before.start_unix_nano
                        || (monotonic && value < before.value.as_f64());
                    if restarted {
                        // Counted from its new start, when it says it.
                        seconds(point.start_unix_nano, time).map(|s| value / s)
                    } else {
                        seconds(before.time_unix_nano, time)
                            .map(|s| (value - before.value.as_f64()) / s)
                    }
                }
                None => None,
            },
        };
        if let Some(rate) = rate {
            rates.push((time, rate));
        }
        previous = Some(point);
    }
    rates
}

/// A sum's total at each point: a cumulative sum's value, a delta sum's running sum.
pub fn totals(points: &[Point], temporality: Temporality) -> Vec<(u64, f64)> {
    let mut total = 0.0;
    points
        .iter()
        .map(|point| {
            let value = point.value.as_f64();
            total = match temporality {
                Temporality::Delta => total + value,
                Temporality::Cumulative | Temporality::Unspecified => value,
            };
            (point.time_unix_nano, total)
        })
        .collect()
}

/// Each histogram point's counts for its own interval: a cumulative point's counts less
/// the point before's (unless the series restarted or its bounds changed).
pub fn interval_counts(
    points: &[Point],
    temporality: Temporality,
) -> Vec<(u64, &HistogramValue, Vec<u64>)> {
    let mut out = Vec::with_capacity(points.len());
    let mut previous: Option<(&Point, &HistogramValue)> = None;
    for point in points {
        let PointValue::Histogram(histogram) = &point.value else {
            continue;
        };
        let counts = match (temporality, previous) {
            (Temporality::Cumulative, Some((before_point, before)))
                if before_point.start_unix_nano == point.start_unix_nano
                    && before.bounds == histogram.bounds
                    && before.count <= histogram.count =>
            {
                histogram
                    .counts
                    .iter()
                    .zip(before.counts.iter().chain(std::iter::repeat(&0)))
                    .map(|(now, then)| now.saturating_sub(*then))
                    .collect()
            }
            _ => histogram.counts.clone(),
        };
        out.push((point.time_unix_nano, histogram, counts));
        previous = Some((point, histogram));
    }
    out
}

/// Bucket `i`'s bounds: the first from the minimum (else zero, or its upper bound when
/// that is negative), the last to the maximum (else its lower bound).
fn bucket_bounds(bounds: &[f64], i: usize, min: Option<f64>, max: Option<f64>) -> (f64, f64) {
    let lower = match i.checked_sub(1).and_then(|j| bounds.get(j)) {
        Some(&lower) => lower,
        None => {
            let first = bounds.first().copied().unwrap_or(0.0);
            min.unwrap_or(first.min(0.0)).min(first)
        }
    };
    let upper = match bounds.get(i) {
        Some(&upper) => upper,
        None => max.unwrap_or(lower).max(lower),
    };
    (lower, upper)
}

/// The `quantile` (0 to 1) of a histogram's counts, interpolated linearly within the
/// bucket it falls in; `None` when the counts are all zero.
pub fn percentile(
    bounds: &[f64],
    counts: &[u64],
    min: Option<f64>,
    max: Option<f64>,
    quantile: f64,
) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = quantile.clamp(0.0, 1.0) * total as f64;
    let mut below = 0.0;
    for (i, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let count = count as f64;
        if below + count >= rank {
            let (lower, upper) = bucket_bounds(bounds, i, min, max);
            let value = lower + (upper - lower) * ((rank - below) / count);
            let value = min.map_or(value, |min| value.max(min));
            return Some(max.map_or(value, |max| value.min(max)));
        }
        below += count;
    }
    None
}

/// The buckets of a point's own interval, for the distribution bars.
pub fn distribution(
    time_unix_nano: u64,
    histogram: &HistogramValue,
    counts: &[u64],
) -> Distribution {
    Distribution {
        time_unix_nano,
        buckets: counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let (lower, upper) =
                    bucket_bounds(&histogram.bounds, i, histogram.min, histogram.max);
                (lower, upper, count)
            })
            .collect(),
    }
}

/// The lines a chart of these points draws, the first of which the sparkline shows.
pub fn lines(kind: MetricKind, points: &[Point]) -> Vec<ChartLine> {
    match kind {
        MetricKind::Sum {
            temporality,
            monotonic,
        } => vec![ChartLine {
            label: "rate".into(),
            points: rates(points, temporality, monotonic),
        }],
        MetricKind::Histogram { temporality }
        | MetricKind::ExponentialHistogram { temporality } => {
            let intervals = interval_counts(points, temporality);
            // A cumulative point's min and max are over all time, not its interval.
            let own_extremes = temporality == Temporality::Delta;
            PERCENTILES
                .iter()
                .map(|&(quantile, label)| ChartLine {
                    label: label.into(),
                    points: intervals
                        .iter()
                        .filter_map(|(time, histogram, counts)| {
                            let (min, max) = if own_extremes {
                                (histogram.min, histogram.max)
                            } else {
                                (None, None)
                            };
                            percentile(&histogram.bounds, counts, min, max, quantile)
                                .map(|value| (*time, value))
                        })
                        .collect(),
                })
                .collect()
        }
        MetricKind::Summary => summary_lines(points),
        MetricKind::Gauge | MetricKind::Empty => vec![ChartLine {
            label: "value".into(),
            points: points
                .iter()
                .map(|p| (p.time_unix_nano, p.value.as_f64()))
                .collect(),
        }],
    }
}

/// A line per quantile the summary's latest point reports.
fn summary_lines(points: &[Point]) -> Vec<ChartLine> {
    let quantiles: Vec<f64> = match points.last().map(|p| &p.value) {
        Some(PointValue::Summary(summary)) => summary.quantiles.iter().map(|q| q.0).collect(),
        _ => Vec::new(),
    };
    quantiles
        .iter()
        .map(|&quantile| ChartLine {
            label: format!("q{}", quantile * 100.0),
            points: points
                .iter()
                .filter_map(|p| match &p.value {
                    PointValue::Summary(summary) => summary
                        .quantiles
                        .iter()
                        .find(|q| q.0 == quantile)
                        .map(|q| (p.time_unix_nano, q.1)),
                    _ => None,
                })
                .collect(),
        })
        .collect()
}

/// A line averaged into `width` equal stretches of `[from, to]`; NaN where a stretch
/// has no point.
pub fn sparkline(
    line: &[(u64, f64)],
    from_unix_nano: u64,
    to_unix_nano: u64,
    width: usize,
) -> Vec<f32> {
    let mut sums = vec![(0.0f64, 0u32); width.max(1)];
    let span = to_unix_nano.saturating_sub(from_unix_nano).max(1) as f64;
    for &(time, value) in line {
        if time < from_unix_nano || time > to_unix_nano || !value.is_finite() {
            continue;
        }
        let at = ((time - from_unix_nano) as f64 / span * sums.len() as f64) as usize;
        let last = sums.len() - 1;
        let slot = &mut sums[at.min(last)];
        slot.0 += value;
        slot.1 += 1;
    }
    sums.iter()
        .map(|&(sum, n)| {
            if n == 0 {
                f32::NAN
            } else {
                (sum / f64::from(n)) as f32
            }
        })
        .collect()
}

/// The value a line has at `time`: its nearest point's.
pub fn value_near(line: &[(u64, f64)], time: u64) -> Option<f64> {
    let at = line.partition_point(|&(t, _)| t < time);
    let after = line.get(at);
    let before = at.checked_sub(1).and_then(|i| line.get(i));
    match (before, after) {
        (Some(b), Some(a)) => Some(if time - b.0 <= a.0 - time { b.1 } else { a.1 }),
        (Some(p), None) | (None, Some(p)) => Some(p.1),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use oculus_otlp::metric::{HistogramValue, Point, PointValue, Temporality};

    use super::*;

    const S: u64 = 1_000_000_000;

    fn sum_point(start: u64, time: u64, value: f64) -> Point {
        Point {
            start_unix_nano: start,
            time_unix_nano: time,
            value: PointValue::Double(value),
            ..Point::default()
        }
    }

    #[track_caller]
    fn check_rates(temporality: Temporality, points: &[(u64, u64, f64)], expected: &[(u64, f64)]) {
        let points: Vec<Point> = points
            .iter()
            .map(|&(start, time, value)| sum_point(start, time, value))
            .collect();
        assert_eq!(rates(&points, temporality, true), expected);
    }

    #[test]
    fn rates_follow_the_temporality() {
        // Cumulative: the change over the time between points.
        check_rates(
            Temporality::Cumulative,
            &[(0, S, 10.0), (0, 3 * S, 30.0), (0, 4 * S, 35.0)],
            &[(3 * S, 10.0), (4 * S, 5.0)],
        );
        // A restart (a new start, or a fall) counts from its start.
        check_rates(
            Temporality::Cumulative,
            &[(0, S, 10.0), (2 * S, 4 * S, 6.0)],
            &[(4 * S, 3.0)],
        );
        // Delta: each value over its own interval, else the time since the point before.
        check_rates(
            Temporality::Delta,
            &[(0, S, 10.0), (S, 3 * S, 8.0), (0, 5 * S, 4.0)],
            &[(3 * S, 4.0), (5 * S, 2.0)],
        );
    }

    #[test]
    fn an_up_down_counter_that_falls_did_not_restart() {
        let points = [sum_point(0, S, 10.0), sum_point(0, 3 * S, 4.0)];
        assert_eq!(
            rates(&points, Temporality::Cumulative, false),
            [(3 * S, -3.0)]
        );
    }

    #[test]
    fn totals_follow_the_temporality() {
        let points = [sum_point(0, S, 2.0), sum_point(0, 2 * S, 5.0)];
        assert_eq!(
            totals(&points, Temporality::Cumulative),
            [(S, 2.0), (2 * S, 5.0)]
        );
        assert_eq!(
            totals(&points, Temporality::Delta),
            [(S, 2.0), (2 * S, 7.0)]
        );
    }

    #[track_caller]
    fn check_percentile(
        counts: &[u64],
        min: Option<f64>,
        max: Option<f64>,
        q: f64,
        expected: Option<f64>,
    ) {
        let got = percentile(&[10.0, 20.0, 40.0], counts, min, max, q);
        match (got, expected) {
            (Some(got), Some(expected)) => {
                assert!((got - expected).abs() < 1e-9, "{got} != {expected}")
            }
            _ => assert_eq!(got, expected),
        }
    }

    #[test]
    fn percentiles_interpolate_within_their_bucket() {
        // 10 values in (10, 20]: the median halfway, p90 nine tenths of the way.
        check_percentile(&[0, 10, 0, 0], None, None, 0.5, Some(15.0));
        check_percentile(&[0, 10, 0, 0], None, None, 0.9, Some(19.0));
        // 4 in the first bucket (from 0, or from the minimum), 4 in (20, 40].
        check_percentile(&[4, 0, 4, 0], None, None, 0.25, Some(5.0));
        check_percentile(&[4, 0, 4, 0], Some(6.0), None, 0.25, Some(8.0));
        check_percentile(&[4, 0, 4, 0], None, None, 0.75, Some(30.0));
        // The last bucket reaches to the maximum.
        check_percentile(&[0, 0, 0, 2], None, Some(60.0), 0.5, Some(50.0));
        // Clamped to what was seen.
        check_percentile(&[0, 10, 0, 0], Some(12.0), Some(14.0), 0.99, Some(14.0));
        check_percentile(&[0, 0, 0, 0], None, None, 0.5, None);
    }

    #[test]
    fn a_cumulative_histogram_charts_each_interval_s_own_counts() {
        let histogram = |time, counts: Vec<u64>| Point {
            time_unix_nano: time,
            value: PointValue::Histogram(HistogramValue {
                count: counts.iter().sum(),
                bounds: vec![10.0, 20.0, 40.0],
                counts,
                ..HistogramValue::default()
            }),
            ..Point::default()
        };
        let points = [
            histogram(S, vec![0, 10, 0, 0]),
            histogram(2 * S, vec![0, 10, 4, 0]),
        ];
        let lines = lines(
            MetricKind::Histogram {
                temporality: Temporality::Cumulative,
            },
            &points,
        );
        let p50: Vec<_> = lines[0].points.clone();
        // The second interval holds only the 4 values in (20, 40]: its median is 30.
        assert_eq!(p50, [(S, 15.0), (2 * S, 30.0)]);
        assert_eq!(
            lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(),
            ["p50", "p95", "p99"]
        );
    }

    #[test]
    fn a_sparkline_averages_each_stretch() {
        let line = [(0, 1.0), (1, 3.0), (9, 5.0)];
        let spark = sparkline(&line, 0, 10, 2);
        assert_eq!(spark[0], 2.0);
        assert_eq!(spark[1], 5.0);
        assert!(sparkline(&line, 0, 10, 4)[2].is_nan());
        assert_eq!(value_near(&line, 7), Some(5.0));
        assert_eq!(value_near(&line, 2), Some(3.0));
    }
}
