//! The Metrics view: per service its instruments, a sparkline per series, and the
//! selected series' chart (rates or totals, values, percentiles, a histogram's
//! buckets) with its exemplars, each of which opens its trace.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Ui, Vec2};

use crate::action::Action;
use crate::metrics::{Chart, ChartLine, Distribution, InstrumentView, MetricsView, SeriesView};
use crate::model::trace_hex;
use crate::time::format_clock;

use super::Screen;
use super::style::weak_color;

const SPARKLINE_SIZE: Vec2 = Vec2::new(140.0, 18.0);
const CHART_HEIGHT: f32 = 240.0;
const DISTRIBUTION_HEIGHT: f32 = 110.0;
const EXEMPLAR_RADIUS: f32 = 4.0;
/// How far from a dot a click still hits it, in points.
const EXEMPLAR_HIT: f32 = 7.0;
const LINE_COLORS: [Color32; 3] = [
    Color32::from_rgb(90, 160, 255),
    Color32::from_rgb(240, 170, 60),
    Color32::from_rgb(230, 80, 80),
];
const EXEMPLAR_COLOR: Color32 = Color32::from_rgb(80, 200, 120);

/// A number as the chart labels it: up to three decimals, no trailing zeros.
pub fn format_value(value: f64) -> String {
    if value != 0.0 && (value.abs() >= 1e9 || value.abs() < 1e-3) {
        return format!("{value:.3e}");
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The label of a series' row, which is also its chart's title.
pub fn series_label(instrument: &InstrumentView, series: &SeriesView) -> String {
    if series.attributes.is_empty() {
        instrument.name.clone()
    } else {
        format!("{} {{{}}}", instrument.name, series.attributes)
    }
}

/// An instrument's heading: its name, unit and kind.
pub fn instrument_label(instrument: &InstrumentView) -> String {
    let unit = if instrument.unit.is_empty() {
        "no unit"
    } else {
        instrument.unit.as_str()
    };
    format!("{} · {unit} · {}", instrument.name, instrument.kind.label())
}

/// Whether the shown tab's lists are empty though metric points came: a service that
/// sends only metrics.
pub fn only_metrics(screen: &Screen<'_>) -> bool {
    let snapshot = screen.snapshot;
    screen.snapshot_is_current()
        && snapshot.status.metric_points > 0
        && snapshot.logs.total == 0
        && snapshot.traces.total == 0
        && snapshot.logs.progress.is_none()
        && snapshot.traces.progress.is_none()
}

/// Above empty lists: where the metrics are.
pub fn tell_of_metrics(ui: &mut Ui, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.label("No logs or spans here, but metric points came: M shows this tab's metrics.");
        if ui.button("Show metrics").clicked() {
            actions.push(Action::ShowAnalysis(Some(
                crate::snapshot::Analysis::Metrics,
            )));
        }
    });
}

pub fn metrics(ui: &mut Ui, screen: &Screen<'_>, actions: &mut Vec<Action>) {
    let Some(view) = screen
        .snapshot
        .metrics
        .as_deref()
        .filter(|_| screen.snapshot_is_current())
    else {
        ui.label("Reading the metrics…");
        return;
    };
    if view.services.is_empty() {
        ui.label("No metric points in this tab: its services sent none in its time range.");
        ui.label("M or Esc shows the lists again.");
        return;
    }
    let tab = screen.tab();
    let list_width = (ui.available_width() * 0.42).clamp(320.0, 640.0);
    egui::Panel::left("metric instruments")
        .resizable(true)
        .default_size(list_width)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("metric instruments")
                .show(ui, |ui| instruments(ui, view, tab.metric_series, actions));
        });
    egui::ScrollArea::vertical()
        .id_salt("metric chart")
        .show(ui, |ui| match &view.chart {
            Some(chart) => chart_panel(ui, chart, tab.metric_totals, actions),
            None => {
                ui.label("Select a series to chart it.");
            }
        });
}

fn instruments(
    ui: &mut Ui,
    view: &MetricsView,
    selected: Option<crate::metrics::SeriesId>,
    actions: &mut Vec<Action>,
) {
    for service in &view.services {
        ui.heading(&*service.service);
        for instrument in &service.instruments {
            ui.add_space(4.0);
            ui.strong(instrument_label(instrument));
            if !instrument.description.is_empty() {
                ui.label(egui::RichText::new(&instrument.description).color(weak_color(ui)));
            }
            if instrument.dropped_points > 0 {
                ui.label(format!(
                    "{} points of further attribute sets not kept",
                    instrument.dropped_points
                ));
            }
            for series in &instrument.series {
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(SPARKLINE_SIZE, Sense::hover());
                    draw_sparkline(ui, rect, &series.sparkline);
                    let latest = series.latest.map_or_else(|| "-".to_owned(), format_value);
                    ui.label(egui::RichText::new(latest).monospace());
                    let label = series_label(instrument, series);
                    let chosen = selected == Some(series.id);
                    if ui.selectable_label(chosen, label).clicked() {
                        actions.push(Action::SelectMetricSeries(series.id));
                    }
                    if series.dropped > 0 {
                        ui.label(
                            egui::RichText::new(format!("{} older points dropped", series.dropped))
                                .color(weak_color(ui)),
                        );
                    }
                });
            }
        }
        ui.add_space(8.0);
    }
}

fn draw_sparkline(ui: &Ui, rect: Rect, values: &[f32]) {
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (low, high) = finite.fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if low > high {
        return;
    }
    let span = (high - low).max(f32::EPSILON);
    let step = rect.width() / values.len().max(1) as f32;
    let stroke = Stroke::new(1.2, LINE_COLORS[0]);
    let mut run: Vec<Pos2> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        if value.is_finite() {
            let x = rect.left() + step * (i as f32 + 0.5);
            let y = rect.bottom() - 2.0 - (value - low) / span * (rect.height() - 4.0);
            run.push(Pos2::new(x, y));
        } else if !run.is_empty() {
            draw_run(painter, std::mem::take(&mut run), stroke);
        }
    }
    draw_run(painter, run, stroke);
}

fn draw_run(painter: &egui::Painter, run: Vec<Pos2>, stroke: Stroke) {
    match run.len() {
        0 => {}
        1 => {
            painter.circle_filled(run[0], 1.5, stroke.color);
        }
        _ => {
            painter.add(egui::Shape::line(run, stroke));
        }
    }
}

/// The chart's geometry: time and value ranges onto a rectangle.
struct Frame {
    rect: Rect,
    from: u64,
    to: u64,
    low: f64,
    high: f64,
}

impl Frame {
    fn of(rect: Rect, lines: &[&ChartLine], extra_values: impl Iterator<Item = f64>) -> Frame {
        let points = lines.iter().flat_map(|l| l.points.iter());
        let (mut from, mut to) = (u64::MAX, 0);
        let (mut low, mut high) = (f64::MAX, f64::MIN);
        for &(time, value) in points {
            from = from.min(time);
            to = to.max(time);
            low = low.min(value);
            high = high.max(value);
        }
        for value in extra_values {
            low = low.min(value);
            high = high.max(value);
        }
        if low > high {
            (low, high) = (0.0, 1.0);
        }
        // Rates, counts and durations read best from zero.
        low = low.min(0.0);
        if (high - low).abs() < f64::EPSILON {
            high = low + 1.0;
        }
        Frame {
            rect,
            from: from.min(to),
            to,
            low,
            high: high + (high - low) * 0.05,
        }
    }

    fn x(&self, time: u64) -> f32 {
        let span = self.to.saturating_sub(self.from).max(1) as f64;
        let share = time.saturating_sub(self.from) as f64 / span;
        self.rect.left() + (share * f64::from(self.rect.width())) as f32
    }

    fn y(&self, value: f64) -> f32 {
        let share = ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0);
        self.rect.bottom() - (share * f64::from(self.rect.height())) as f32
    }
}

fn chart_panel(ui: &mut Ui, chart: &Chart, totals_shown: bool, actions: &mut Vec<Action>) {
    ui.heading(&chart.title);
    let totals = chart.totals.as_ref().filter(|_| totals_shown);
    if chart.totals.is_some() {
        ui.horizontal(|ui| {
            if ui.selectable_label(!totals_shown, "Rate").clicked() {
                actions.push(Action::SetMetricTotals(false));
            }
            if ui.selectable_label(totals_shown, "Total").clicked() {
                actions.push(Action::SetMetricTotals(true));
            }
        });
    }
    let lines: Vec<&ChartLine> = match totals {
        Some(totals) => vec![totals],
        None => chart.lines.iter().collect(),
    };
    let axis_label = if totals.is_some() {
        &chart.totals_label
    } else {
        &chart.axis_label
    };
    ui.horizontal(|ui| {
        ui.label(axis_label.as_str());
        for (i, line) in lines.iter().enumerate() {
            let color = LINE_COLORS[i % LINE_COLORS.len()];
            ui.label(egui::RichText::new(format!("— {}", line.label)).color(color));
        }
        if !chart.exemplars.is_empty() {
            ui.label(
                egui::RichText::new("dots: exemplars (click: their trace)").color(EXEMPLAR_COLOR),
            );
        }
    });
    let exemplar_value = |e: &crate::metrics::ExemplarMark| {
        if totals.is_some() {
            e.total_value
        } else {
            e.value
        }
    };
    let width = ui.available_width().max(200.0);
    let (outer, response) = ui.allocate_exact_size(Vec2::new(width, CHART_HEIGHT), Sense::click());
    let left_margin = 64.0;
    let rect = Rect::from_min_max(
        outer.min + Vec2::new(left_margin, 6.0),
        outer.max - Vec2::new(8.0, 20.0),
    );
    let frame = Frame::of(rect, &lines, chart.exemplars.iter().map(exemplar_value));
    let painter = ui.painter_at(outer);
    let text = ui.visuals().text_color();
    let weak = weak_color(ui);
    painter.rect_stroke(rect, 0.0, Stroke::new(1.0, weak), egui::StrokeKind::Inside);
    let font = FontId::proportional(11.0);
    for share in [0.0, 0.5, 1.0] {
        let value = frame.low + (frame.high - frame.low) * share;
        let y = frame.y(value);
        painter.text(
            Pos2::new(rect.left() - 4.0, y),
            Align2::RIGHT_CENTER,
            format_value(value),
            font.clone(),
            text,
        );
    }
    for (time, align) in [
        (frame.from, Align2::LEFT_TOP),
        (frame.to, Align2::RIGHT_TOP),
    ] {
        painter.text(
            Pos2::new(frame.x(time), rect.bottom() + 3.0),
            align,
            format_clock(time),
            font.clone(),
            text,
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let color = LINE_COLORS[i % LINE_COLORS.len()];
        let run: Vec<Pos2> = line
            .points
            .iter()
            .map(|&(t, v)| Pos2::new(frame.x(t), frame.y(v)))
            .collect();
        for &point in &run {
            painter.circle_filled(point, 2.0, color);
        }
        draw_run(&painter, run, Stroke::new(1.5, color));
    }
    let dots: Vec<(Pos2, &crate::metrics::ExemplarMark)> = chart
        .exemplars
        .iter()
        .map(|e| {
            (
                Pos2::new(frame.x(e.time_unix_nano), frame.y(exemplar_value(e))),
                e,
            )
        })
        .collect();
    for (at, _) in &dots {
        painter.circle(*at, EXEMPLAR_RADIUS, EXEMPLAR_COLOR, Stroke::new(1.0, text));
    }
    let pointer = response.hover_pos();
    let near_dot = pointer.and_then(|p| {
        dots.iter()
            .filter(|(at, _)| at.distance(p) <= EXEMPLAR_HIT)
            .min_by(|a, b| a.0.distance(p).total_cmp(&b.0.distance(p)))
    });
    if let Some((_, exemplar)) = near_dot {
        response.clone().on_hover_text(format!(
            "exemplar {} at {}\ntrace {}: click to open it",
            format_value(exemplar.value),
            format_clock(exemplar.time_unix_nano),
            trace_hex(exemplar.trace_id)
        ));
        if response.clicked() && exemplar.trace_id != 0 {
            actions.push(Action::OpenTrace {
                trace: exemplar.trace_id,
                focus: None,
            });
        }
    } else if let Some(pointer) = pointer
        && rect.contains(pointer)
    {
        hover_values(ui, &painter, &frame, &lines, pointer, &response);
    }
    if !chart.exemplars.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Exemplars:");
            for exemplar in chart.exemplars.iter().filter(|e| e.trace_id != 0) {
                let hex = trace_hex(exemplar.trace_id);
                let label = format!(
                    "trace {} ({})",
                    &hex[..8.min(hex.len())],
                    format_value(exemplar.value)
                );
                if ui.button(label).on_hover_text(hex).clicked() {
                    actions.push(Action::OpenTrace {
                        trace: exemplar.trace_id,
                        focus: None,
                    });
                }
            }
        });
    }
    if let Some(distribution) = &chart.distribution {
        distribution_bars(ui, distribution);
    }
}

/// Under the pointer: each line's value nearest in time, with its time.
fn hover_values(
    ui: &Ui,
    painter: &egui::Painter,
    frame: &Frame,
    lines: &[&ChartLine],
    pointer: Pos2,
    response: &egui::Response,
) {
    let nearest = lines.first().and_then(|line| {
        line.points.iter().min_by(|a, b| {
            (frame.x(a.0) - pointer.x)
                .abs()
                .total_cmp(&(frame.x(b.0) - pointer.x).abs())
        })
    });
    let Some(&(time, _)) = nearest else {
        return;
    };
    let x = frame.x(time);
    painter.vline(x, frame.rect.y_range(), Stroke::new(1.0, weak_color(ui)));
    let mut text = format_clock(time);
    for line in lines {
        if let Some(&(_, value)) = line.points.iter().find(|p| p.0 == time) {
            text.push_str(&format!("\n{}: {}", line.label, format_value(value)));
        }
    }
    response.clone().on_hover_text(text);
}

fn distribution_bars(ui: &mut Ui, distribution: &Distribution) {
    ui.add_space(6.0);
    ui.label(format!(
        "Buckets of the latest point, at {}",
        format_clock(distribution.time_unix_nano)
    ));
    let width = ui.available_width().max(200.0);
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(width, DISTRIBUTION_HEIGHT), Sense::hover());
    let painter = ui.painter_at(rect);
    let most = distribution
        .buckets
        .iter()
        .map(|b| b.2)
        .max()
        .unwrap_or(0)
        .max(1);
    let count = distribution.buckets.len().max(1);
    let bar_width = rect.width() / count as f32;
    let chart = Rect::from_min_max(rect.min, rect.max - Vec2::new(0.0, 14.0));
    let text = ui.visuals().text_color();
    let mut hovered = None;
    for (i, &(lower, upper, n)) in distribution.buckets.iter().enumerate() {
        let left = chart.left() + bar_width * i as f32;
        let height = n as f32 / most as f32 * chart.height();
        let bar = Rect::from_min_max(
            Pos2::new(left + 1.0, chart.bottom() - height),
            Pos2::new(left + bar_width - 1.0, chart.bottom()),
        );
        painter.rect_filled(bar, 1.0, LINE_COLORS[0]);
        if i % (count / 8).max(1) == 0 {
            painter.text(
                Pos2::new(left, chart.bottom() + 1.0),
                Align2::LEFT_TOP,
                format_value(upper),
                FontId::proportional(10.0),
                text,
            );
        }
        if response
            .hover_pos()
            .is_some_and(|p| p.x >= left && p.x < left + bar_width)
        {
            hovered = Some((lower, upper, n));
        }
    }
    if let Some((lower, upper, n)) = hovered {
        response.on_hover_text(format!(
            "({}, {}]: {n}",
            format_value(lower),
            format_value(upper)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn values_read_short() {
        for (value, text) in [
            (5.0, "5"),
            (2.5, "2.5"),
            (0.125, "0.125"),
            (1234.5678, "1234.568"),
            (0.0, "0"),
            (-3.0, "-3"),
            (2e10, "2.000e10"),
        ] {
            assert_eq!(format_value(value), text);
        }
    }
}
