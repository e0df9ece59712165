//! The metric points the viewer holds: per service its instruments, per instrument its
//! series (one per origin and attribute set), each series' points in time order; and
//! the Metrics view's published form.
//!
//! Memory is bounded: a series keeps at most [`MAX_POINTS_PER_SERIES`] points (past
//! it the oldest quarter goes, counted in `dropped`), and an instrument at most
//! [`MAX_SERIES_PER_INSTRUMENT`] series (points of further attribute sets are counted,
//! not kept).

use std::sync::Arc;

use oculus_otlp::metric::{Metric, MetricKind, Point};
use rustc_hash::FxHashMap;

pub use oculus_otlp::metric::{Exemplar, HistogramValue, PointValue, Temporality};

pub const MAX_POINTS_PER_SERIES: usize = 4_096;
pub const MAX_SERIES_PER_INSTRUMENT: usize = 1_000;

/// A series, by its instrument's and its own place in the store (neither ever moves).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesId {
    pub instrument: u32,
    pub series: u32,
}

/// One attribute set's points of an instrument, from one origin.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// The index's origin (service, scope, run, resource) the points came from.
    pub origin: u32,
    /// Its attributes as `key=value` pairs, space-separated, in the order sent.
    pub attributes: String,
    /// In time order; their attributes are left empty (`attributes` holds them).
    pub points: Vec<Point>,
    /// Points let go to bound memory, the oldest first.
    pub dropped: u64,
}

impl Series {
    fn insert(&mut self, mut point: Point) {
        point.attributes = Vec::new();
        let time = point.time_unix_nano;
        // Points arrive in time order but for a late export: those are put in place.
        if self
            .points
            .last()
            .is_none_or(|last| last.time_unix_nano <= time)
        {
            self.points.push(point);
        } else {
            let at = self.points.partition_point(|p| p.time_unix_nano <= time);
            self.points.insert(at, point);
        }
        if self.points.len() > MAX_POINTS_PER_SERIES {
            let gone = MAX_POINTS_PER_SERIES / 4;
            self.points.drain(..gone);
            self.dropped += gone as u64;
        }
    }
}

/// A service's instrument and its series.
#[derive(Clone, Debug, Default)]
pub struct Instrument {
    /// The index's interned service name.
    pub service: u32,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    pub series: Vec<Series>,
    series_by_key: FxHashMap<(u32, String), u32>,
    /// Points of attribute sets past [`MAX_SERIES_PER_INSTRUMENT`].
    pub dropped_points: u64,
}

/// Every metric point read so far.
#[derive(Debug, Default)]
pub struct MetricStore {
    pub instruments: Vec<Instrument>,
    by_name: FxHashMap<(u32, String), u32>,
    /// Changes with every point added: a view is built again only when it did.
    pub generation: u64,
}

impl MetricStore {
    /// Adds an exported metric's points, from `origin` of `service`.
    pub fn add(&mut self, service: u32, origin: u32, metric: &Metric) {
        self.generation += 1;
        let next = self.instruments.len() as u32;
        let at = *self
            .by_name
            .entry((service, metric.name.clone()))
            .or_insert(next);
        if at == next {
            self.instruments.push(Instrument {
                service,
                name: metric.name.clone(),
                ..Instrument::default()
            });
        }
        let instrument = &mut self.instruments[at as usize];
        // What describes the instrument is the latest export's, where it says something.
        if !metric.description.is_empty() {
            instrument.description.clone_from(&metric.description);
        }
        if !metric.unit.is_empty() {
            instrument.unit.clone_from(&metric.unit);
        }
        if metric.kind != MetricKind::Empty {
            instrument.kind = metric.kind;
        }
        for point in &metric.points {
            let attributes = attributes_text(&point.attributes);
            let next = instrument.series.len() as u32;
            let key = (origin, attributes);
            let series = match instrument.series_by_key.get(&key) {
                Some(&series) => series,
                None if instrument.series.len() >= MAX_SERIES_PER_INSTRUMENT => {
                    instrument.dropped_points += 1;
                    continue;
                }
                None => {
                    instrument.series.push(Series {
                        origin,
                        attributes: key.1.clone(),
                        ..Series::default()
                    });
                    instrument.series_by_key.insert(key, next);
                    next
                }
            };
            instrument.series[series as usize].insert(point.clone());
        }
    }

    pub fn series(&self, id: SeriesId) -> Option<(&Instrument, &Series)> {
        let instrument = self.instruments.get(id.instrument as usize)?;
        Some((instrument, instrument.series.get(id.series as usize)?))
    }

    /// Points held, for the memory benchmark.
    pub fn points(&self) -> usize {
        self.instruments
            .iter()
            .flat_map(|i| &i.series)
            .map(|s| s.points.len())
            .sum()
    }
}

/// Attributes as the user reads them: `key=value` pairs, space-separated.
pub fn attributes_text(attributes: &[(String, String)]) -> String {
    let pairs: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(" ")
}

/// The Metrics view of a tab: what its filter lets through, ready to draw.
#[derive(Clone, Debug, Default)]
pub struct MetricsView {
    /// The time range the sparklines span, in Unix nanoseconds.
    pub from_unix_nano: u64,
    pub to_unix_nano: u64,
    pub services: Vec<ServiceMetrics>,
    /// The selected series' chart, once it has points in the range.
    pub chart: Option<Chart>,
}

#[derive(Clone, Debug)]
pub struct ServiceMetrics {
    pub service: Arc<str>,
    pub instruments: Vec<InstrumentView>,
}

#[derive(Clone, Debug)]
pub struct InstrumentView {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    pub series: Vec<SeriesView>,
    pub dropped_points: u64,
}

/// A series' row: its attributes and a sparkline of what its chart shows.
#[derive(Clone, Debug)]
pub struct SeriesView {
    pub id: SeriesId,
    pub attributes: String,
    /// Points in the time range.
    pub points: usize,
    pub dropped: u64,
    /// The chart's first line, averaged into equal stretches of the time range; NaN
    /// where a stretch has no value.
    pub sparkline: Vec<f32>,
    /// The chart's first line's last value.
    pub latest: Option<f64>,
}

/// One line of a chart: (time in Unix nanoseconds, value).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartLine {
    pub label: String,
    pub points: Vec<(u64, f64)>,
}

/// An exemplar as the chart marks it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExemplarMark {
    pub time_unix_nano: u64,
    /// Where the dot goes on the value axis: on a sum's rate line, else its value.
    pub value: f64,
    /// Where it goes when a sum's totals are shown.
    pub total_value: f64,
    pub trace_id: u128,
    pub span_id: u64,
}

/// A histogram point's buckets: (lower bound, upper bound, count).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distribution {
    pub time_unix_nano: u64,
    pub buckets: Vec<(f64, f64, u64)>,
}

/// The selected series' chart, computed on the backend.
#[derive(Clone, Debug)]
pub struct Chart {
    pub series: SeriesId,
    pub title: String,
    pub kind: MetricKind,
    /// What the lines show and in what unit: "rate (By/s)", "value (ms)".
    pub axis_label: String,
    pub lines: Vec<ChartLine>,
    /// A sum's totals, which a toggle shows instead of its rate.
    pub totals: Option<ChartLine>,
    pub totals_label: String,
    pub exemplars: Vec<ExemplarMark>,
    /// A histogram's latest point's buckets (its own interval's counts).
    pub distribution: Option<Distribution>,
}

#[cfg(test)]
mod tests {
    use oculus_otlp::metric::{Metric, MetricKind, Point, PointValue};

    use super::*;

    fn point(time: u64, route: &str) -> Point {
        Point {
            attributes: vec![("route".into(), route.into())],
            time_unix_nano: time,
            value: PointValue::Int(time as i64),
            ..Point::default()
        }
    }

    #[test]
    fn series_are_per_attribute_set_in_time_order_and_bounded() {
        let mut store = MetricStore::default();
        let metric = |points| Metric {
            name: "requests".into(),
            unit: "1".into(),
            kind: MetricKind::Gauge,
            points,
            ..Metric::default()
        };
        store.add(
            3,
            1,
            &metric(vec![point(10, "/a"), point(30, "/a"), point(5, "/b")]),
        );
        store.add(3, 1, &metric(vec![point(20, "/a")]));
        assert_eq!(store.instruments.len(), 1);
        let instrument = &store.instruments[0];
        let times = |s: &Series| {
            s.points
                .iter()
                .map(|p| p.time_unix_nano)
                .collect::<Vec<_>>()
        };
        assert_eq!(instrument.series[0].attributes, "route=/a");
        assert_eq!(times(&instrument.series[0]), [10, 20, 30]);
        assert_eq!(times(&instrument.series[1]), [5]);
        // Another origin of the same service: a series of its own.
        store.add(3, 2, &metric(vec![point(1, "/a")]));
        assert_eq!(store.instruments[0].series.len(), 3);

        let many: Vec<Point> = (0..MAX_POINTS_PER_SERIES as u64 + 1)
            .map(|t| point(100 + t, "/c"))
            .collect();
        store.add(3, 1, &metric(many));
        let series = &store.instruments[0].series[3];
        assert_eq!(
            series.points.len(),
            MAX_POINTS_PER_SERIES + 1 - MAX_POINTS_PER_SERIES / 4
        );
        assert_eq!(series.dropped, (MAX_POINTS_PER_SERIES / 4) as u64);
        assert_eq!(series.points[0].time_unix_nano, 100 + series.dropped);
    }
}
