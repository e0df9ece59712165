//! A tab's Metrics view, built from the metric store through the tab's filter while
//! the view is shown, and kept (shared by `Arc`) until the points, the filter or the
//! selection change.
//!
//! Its cost is bounded by what the store keeps (points per series, series per
//! instrument, see `metrics.rs`), not by the records read: a rebuild reads each kept
//! point of the series the filter lets through once.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::filter::CompiledFilter;
use crate::metric_math::{distribution, interval_counts, lines, sparkline, totals, value_near};
use crate::metrics::{
    Chart, ExemplarMark, InstrumentView, MetricsView, SeriesId, SeriesView, ServiceMetrics,
};
use crate::model::Index;
use crate::snapshot::TabId;
use crate::tab::Tab;
use oculus_otlp::metric::{MetricKind, Point};

/// Stretches in a series' sparkline.
pub const SPARKLINE_WIDTH: usize = 48;

/// A series the filter lets through, by its place in its instrument, and the range of
/// its points in the time range.
type ShownSeries = (u32, std::ops::Range<usize>);

/// What a built view was built from: the same again is the same view.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Built {
    tab: TabId,
    generation: u64,
    version: u64,
    compiled_at_unix_nano: u64,
    origins: usize,
    selected: Option<SeriesId>,
}

/// The tabs whose Metrics view is shown, and the last view built.
#[derive(Default)]
pub(crate) struct MetricProjection {
    /// Tabs showing the view, with the series each selected.
    shown: FxHashMap<TabId, Option<SeriesId>>,
    last: Option<(Built, Arc<MetricsView>)>,
}

impl MetricProjection {
    /// The UI shows (or stopped showing) a tab's Metrics view, with this series selected.
    pub fn show(&mut self, tab: TabId, shown: bool, selected: Option<SeriesId>) {
        if shown {
            self.shown.insert(tab, selected);
        } else {
            self.shown.remove(&tab);
        }
    }

    /// The view of a tab, if it is shown: the last one built when nothing changed.
    pub fn view(&mut self, id: TabId, tab: &mut Tab, index: &Index) -> Option<Arc<MetricsView>> {
        let selected = *self.shown.get(&id)?;
        let built = Built {
            tab: id,
            generation: index.metrics.generation,
            version: tab.version,
            compiled_at_unix_nano: tab.compiled_at_unix_nano,
            origins: index.origins.len(),
            selected,
        };
        if let Some((last, view)) = &self.last
            && *last == built
        {
            return Some(Arc::clone(view));
        }
        let view = Arc::new(build(index, &mut tab.compiled, selected));
        self.last = Some((built, Arc::clone(&view)));
        Some(view)
    }
}

/// The Metrics view of what `filter` lets through.
pub fn build(
    index: &Index,
    filter: &mut CompiledFilter,
    selected: Option<SeriesId>,
) -> MetricsView {
    let (from_bound, to_bound) = filter.time_bounds();
    let in_range = |points: &'_ [Point]| -> std::ops::Range<usize> {
        let start = points.partition_point(|p| p.time_unix_nano < from_bound);
        let end = to_bound.map_or(points.len(), |to| {
            points.partition_point(|p| p.time_unix_nano < to)
        });
        start..end.max(start)
    };
    // First the series shown and their points, to learn the time range they span.
    let mut shown: Vec<(u32, Vec<ShownSeries>)> = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0);
    for (i, instrument) in index.metrics.instruments.iter().enumerate() {
        let mut series = Vec::new();
        for (j, s) in instrument.series.iter().enumerate() {
            if !filter.passes_origin(index, s.origin) {
                continue;
            }
            let range = in_range(&s.points);
            if let (Some(a), Some(b)) = (
                s.points.get(range.start),
                range.end.checked_sub(1).and_then(|e| s.points.get(e)),
            ) {
                first = first.min(a.time_unix_nano);
                last = last.max(b.time_unix_nano);
            }
            series.push((j as u32, range));
        }
        if !series.is_empty() {
            shown.push((i as u32, series));
        }
    }
    let from_unix_nano = if from_bound > 0 {
        from_bound
    } else {
        first.min(last)
    };
    let to_unix_nano = to_bound.unwrap_or(last).max(from_unix_nano);

    let mut services: Vec<(u32, ServiceMetrics)> = Vec::new();
    let mut chart = None;
    for (i, series) in shown {
        let instrument = &index.metrics.instruments[i as usize];
        let mut rows = Vec::with_capacity(series.len());
        for (j, range) in series {
            let id = SeriesId {
                instrument: i,
                series: j,
            };
            let s = &instrument.series[j as usize];
            let points = &s.points[range];
            let lines = lines(instrument.kind, points);
            let first_line = lines
                .first()
                .map(|l| l.points.as_slice())
                .unwrap_or_default();
            rows.push(SeriesView {
                id,
                attributes: s.attributes.clone(),
                points: points.len(),
                dropped: s.dropped,
                sparkline: sparkline(first_line, from_unix_nano, to_unix_nano, SPARKLINE_WIDTH),
                latest: first_line.last().map(|p| p.1),
            });
            if selected == Some(id) {
                chart = Some(chart_of(
                    instrument.kind,
                    &instrument.name,
                    &instrument.unit,
                    s.attributes.as_str(),
                    id,
                    points,
                    lines,
                ));
            }
        }
        let view = InstrumentView {
            name: instrument.name.clone(),
            description: instrument.description.clone(),
            unit: instrument.unit.clone(),
            kind: instrument.kind,
            series: rows,
            dropped_points: instrument.dropped_points,
        };
        match services
            .iter_mut()
            .find(|(service, _)| *service == instrument.service)
        {
            Some((_, metrics)) => metrics.instruments.push(view),
            None => services.push((
                instrument.service,
                ServiceMetrics {
                    service: Arc::clone(index.strings.get(instrument.service)),
                    instruments: vec![view],
                },
            )),
        }
    }
    let mut services: Vec<ServiceMetrics> = services.into_iter().map(|(_, s)| s).collect();
    services.sort_by(|a, b| a.service.cmp(&b.service));
    for service in &mut services {
        service.instruments.sort_by(|a, b| a.name.cmp(&b.name));
    }
    MetricsView {
        from_unix_nano,
        to_unix_nano,
        services,
        chart,
    }
}

fn with_unit(what: &str, unit: &str) -> String {
    if unit.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({unit})")
    }
}

fn chart_of(
    kind: MetricKind,
    name: &str,
    unit: &str,
    attributes: &str,
    id: SeriesId,
    points: &[Point],
    lines: Vec<crate::metrics::ChartLine>,
) -> Chart {
    let title = if attributes.is_empty() {
        name.to_owned()
    } else {
        format!("{name} {{{attributes}}}")
    };
    let (axis_label, totals_line) = match kind {
        MetricKind::Sum { temporality, .. } => (
            with_unit("rate per second", &format!("{unit}/s")),
            Some(crate::metrics::ChartLine {
                label: "total".into(),
                points: totals(points, temporality),
            }),
        ),
        MetricKind::Histogram { .. } | MetricKind::ExponentialHistogram { .. } => {
            (with_unit("p50 / p95 / p99", unit), None)
        }
        MetricKind::Summary => (with_unit("quantiles", unit), None),
        MetricKind::Gauge | MetricKind::Empty => (with_unit("value", unit), None),
    };
    let first_line = lines
        .first()
        .map(|l| l.points.as_slice())
        .unwrap_or_default();
    let exemplars = points
        .iter()
        .flat_map(|p| &p.exemplars)
        .map(|e| {
            // A sum's exemplar is one measurement, not a rate: its dot sits on the line.
            let value = match kind {
                MetricKind::Sum { .. } => {
                    value_near(first_line, e.time_unix_nano).unwrap_or(e.value)
                }
                _ => e.value,
            };
            let total = totals_line
                .as_ref()
                .and_then(|t| value_near(&t.points, e.time_unix_nano))
                .unwrap_or(value);
            ExemplarMark {
                time_unix_nano: e.time_unix_nano,
                value,
                total_value: total,
                trace_id: e.trace_id,
                span_id: e.span_id,
            }
        })
        .collect();
    let distribution = match kind {
        MetricKind::Histogram { temporality }
        | MetricKind::ExponentialHistogram { temporality } => interval_counts(points, temporality)
            .last()
            .map(|(time, histogram, counts)| distribution(*time, histogram, counts)),
        _ => None,
    };
    Chart {
        series: id,
        title,
        kind,
        axis_label,
        lines,
        totals_label: with_unit("total", unit),
        totals: totals_line,
        exemplars,
        distribution,
    }
}
