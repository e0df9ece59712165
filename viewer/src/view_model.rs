//! View data derived from a snapshot once, when it arrives, rather than by each piece of
//! drawing every frame: the waterfall's rows, its zoom, and the text the copy buttons
//! put on the clipboard. Nothing here draws.

use std::fmt;

use crate::model::trace_hex;
use crate::snapshot::{Detail, LogRow, RecordRef, SourceRef, TraceView, WaterfallSpan};
use crate::ticks::{Tick, ticks};
use crate::time::format_duration;

/// A row of the waterfall, by its place in the trace view.
#[derive(Clone, Copy, Debug)]
enum RowRef {
    Span(usize),
    /// A log shown under its span.
    SpanLog {
        span: usize,
        log: usize,
    },
    /// A log whose span never arrived.
    OrphanLog(usize),
}

/// The rows of the open trace, with its logs inline when that is on; derived when a
/// snapshot arrives or the inline-logs toggle changes.
#[derive(Clone, Debug, Default)]
pub struct WaterfallRows {
    rows: Vec<RowRef>,
    /// The row of the span the trace was opened on.
    focus: Option<usize>,
}

impl WaterfallRows {
    pub fn new(view: &TraceView, inline_logs: bool) -> Self {
        let mut rows = Vec::with_capacity(view.spans.len());
        // The spans come in tree order; each open span's logs, in time order, go
        // between its children as their times fall, so a log after a child's start
        // shows after that child.
        let mut open: Vec<OpenSpan> = Vec::new();
        for (index, span) in view.spans.iter().enumerate() {
            while open.last().is_some_and(|top| top.depth >= span.depth) {
                if let Some(mut done) = open.pop() {
                    done.flush(view, u64::MAX, &mut rows);
                }
            }
            if let Some(parent) = open.last_mut() {
                parent.flush(view, span.start_unix_nano, &mut rows);
            }
            rows.push(RowRef::Span(index));
            open.push(OpenSpan::new(index, span, inline_logs));
        }
        while let Some(mut done) = open.pop() {
            done.flush(view, u64::MAX, &mut rows);
        }
        if inline_logs {
            rows.extend((0..view.orphan_logs.len()).map(RowRef::OrphanLog));
        }
        // A focus on a span not drawn (the trace is too large) shows the first row.
        let focus = view.focus.map(|focus| {
            rows.iter()
                .position(|row| matches!(row, RowRef::Span(span) if *span == focus))
                .unwrap_or(0)
        });
        Self { rows, focus }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row to select when the trace is first shown, if it was opened on a record.
    pub fn focus(&self) -> Option<usize> {
        self.focus
    }

    /// These rows over the trace view they were derived from, seen through `zoom`.
    pub fn over<'a>(&'a self, view: &'a TraceView, zoom: Zoom) -> Waterfall<'a> {
        Waterfall {
            view,
            rows: self,
            zoom,
        }
    }
}

/// A span whose rows are being laid out: its logs in time order, and how many of
/// them are placed.
struct OpenSpan {
    span: usize,
    depth: u16,
    logs: Vec<usize>,
    next: usize,
}

impl OpenSpan {
    /// A span laid out with its logs, or (logs not inline) without.
    fn new(index: usize, span: &WaterfallSpan, with_logs: bool) -> Self {
        let shown = if with_logs { span.logs.len() } else { 0 };
        let mut logs: Vec<usize> = (0..shown).collect();
        // Stable: logs of the same time keep their order of arrival.
        logs.sort_by_key(|&log| span.logs[log].time_unix_nano);
        Self {
            span: index,
            depth: span.depth,
            logs,
            next: 0,
        }
    }

    /// Places the logs at or before `until`.
    fn flush(&mut self, view: &TraceView, until: u64, rows: &mut Vec<RowRef>) {
        let span = &view.spans[self.span];
        while let Some(&log) = self.logs.get(self.next) {
            if span.logs[log].time_unix_nano > until {
                break;
            }
            rows.push(RowRef::SpanLog {
                span: self.span,
                log,
            });
            self.next += 1;
        }
    }
}

/// The open trace and its rows, as the waterfall draws them, and where its times fall
/// in the zoomed window: the drawing maps every time through here.
#[derive(Clone, Copy, Debug)]
pub struct Waterfall<'a> {
    pub view: &'a TraceView,
    rows: &'a WaterfallRows,
    zoom: Zoom,
}

impl<'a> Waterfall<'a> {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The part of the trace shown.
    pub fn zoom(&self) -> Zoom {
        self.zoom
    }

    /// The trace's duration, at least a nanosecond.
    pub fn duration_nanos(&self) -> f64 {
        self.view
            .end_unix_nano
            .saturating_sub(self.view.start_unix_nano)
            .max(1) as f64
    }

    /// How far through the trace a time is, as a share of its duration.
    pub fn share_of(&self, time_unix_nano: u64) -> f64 {
        time_unix_nano.saturating_sub(self.view.start_unix_nano) as f64 / self.duration_nanos()
    }

    /// The part of a span's bar in the window, or `None` when it lies wholly outside
    /// (no bar then, rather than one squashed onto an edge).
    pub fn visible_extent(&self, span: &WaterfallSpan) -> Option<Extent> {
        self.zoom.extent(
            self.share_of(span.start_unix_nano),
            self.share_of(span.end_unix_nano),
        )
    }

    /// The part of `start..end` (a stretch of the trace, such as a part of a span on the
    /// critical path) in the window, if any.
    pub fn visible_stretch(&self, start_unix_nano: u64, end_unix_nano: u64) -> Option<Extent> {
        self.zoom
            .extent(self.share_of(start_unix_nano), self.share_of(end_unix_nano))
    }

    /// The row of the span at `span` of the view (the flame graph's selection as the
    /// waterfall's); a scan, for a click.
    pub fn row_of_span(&self, span: usize) -> Option<usize> {
        self.rows
            .rows
            .iter()
            .position(|row| matches!(row, RowRef::Span(s) if *s == span))
    }

    /// The position in the view of the span at `row`, if a span is there.
    pub fn span_at_row(&self, row: usize) -> Option<usize> {
        match self.rows.rows.get(row)? {
            RowRef::Span(span) => Some(*span),
            _ => None,
        }
    }

    /// The side of the window a span outside it lies on.
    pub fn side_of(&self, span: &WaterfallSpan) -> Side {
        if self.share_of(span.end_unix_nano) < self.zoom.start() {
            Side::Before
        } else {
            Side::After
        }
    }

    /// Where a moment (a log, a span event) falls in the window, as a share of its
    /// width, if it is shown.
    pub fn visible_point(&self, time_unix_nano: u64) -> Option<f64> {
        self.zoom.point(self.share_of(time_unix_nano))
    }

    /// The time axis over the window, `width_px` wide, its labels `char_px` wide a
    /// character.
    pub fn ticks(&self, width_px: f32, char_px: f32) -> Vec<Tick> {
        let nanos = self.duration_nanos();
        ticks(
            self.zoom.start() * nanos,
            self.zoom.end() * nanos,
            width_px,
            char_px,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, row: usize) -> Option<WaterfallRow<'a>> {
        let view = self.view;
        Some(match *self.rows.rows.get(row)? {
            RowRef::Span(span) => WaterfallRow::Span(view.spans.get(span)?),
            RowRef::SpanLog { span, log } => {
                let span = view.spans.get(span)?;
                WaterfallRow::Log {
                    log: span.logs.get(log)?,
                    depth: span.depth + 1,
                }
            }
            RowRef::OrphanLog(log) => WaterfallRow::Log {
                log: view.orphan_logs.get(log)?,
                depth: 0,
            },
        })
    }
}

/// A row of the waterfall: a span, or a log shown under its span.
#[derive(Clone, Copy, Debug)]
pub enum WaterfallRow<'a> {
    Span(&'a WaterfallSpan),
    Log { log: &'a LogRow, depth: u16 },
}

impl<'a> WaterfallRow<'a> {
    pub fn record(&self) -> RecordRef {
        match self {
            WaterfallRow::Span(span) => RecordRef::Span(span.index),
            WaterfallRow::Log { log, .. } => RecordRef::Log(log.index),
        }
    }

    pub fn source(&self) -> Option<&'a SourceRef> {
        match *self {
            WaterfallRow::Span(span) => span.source.as_ref(),
            WaterfallRow::Log { log, .. } => log.source.as_ref(),
        }
    }
}

/// The part of the trace the waterfall shows (its window), as shares of the trace's
/// duration: 0 is the trace's start, 1 its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Zoom {
    start: f64,
    end: f64,
}

impl Default for Zoom {
    fn default() -> Self {
        Self {
            start: 0.0,
            end: 1.0,
        }
    }
}

/// The narrowest window, as a share of the trace: deep enough for a microsecond of a
/// second-long trace, and far from where `f64` shares lose their precision.
const NARROWEST: f64 = 1e-6;

/// Rounding error of shares, far below the narrowest window.
const SNAP: f64 = 1e-12;

impl Zoom {
    /// A window `width` wide from `start`, moved (not shrunk) to lie within the trace.
    fn spanning(start: f64, width: f64) -> Self {
        let width = width.clamp(NARROWEST, 1.0);
        let start = if start.is_finite() {
            start.clamp(0.0, 1.0 - width)
        } else {
            0.0
        };
        // Within rounding of an end of the trace, exactly there: what ends with the
        // trace is then not taken for going on past the window.
        if start <= SNAP {
            Self {
                start: 0.0,
                end: width,
            }
        } else if start + width >= 1.0 - SNAP {
            Self {
                start: 1.0 - width,
                end: 1.0,
            }
        } else {
            Self {
                start,
                end: start + width,
            }
        }
    }

    /// Whether the whole trace is shown.
    pub fn is_whole(&self) -> bool {
        self.start <= 0.0 && self.end >= 1.0
    }

    /// Where the window starts in the trace.
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Where the window ends in the trace.
    pub fn end(&self) -> f64 {
        self.end
    }

    pub fn width(&self) -> f64 {
        self.end - self.start
    }

    /// Zoomed around its middle by `factor` (below 1 zooms in), within the trace.
    #[must_use]
    pub fn scaled(self, factor: f64) -> Self {
        self.scaled_around(factor, 0.5)
    }

    /// Zoomed by `factor` around the point `at` of the window (a share of its width),
    /// which stays where it is unless the trace's ends stop the window.
    #[must_use]
    pub fn scaled_around(self, factor: f64, at: f64) -> Self {
        let at = at.clamp(0.0, 1.0);
        let pivot = self.at(at);
        let width = (self.width() * factor).clamp(NARROWEST, 1.0);
        Self::spanning(pivot - at * width, width)
    }

    /// The window from `from` to `to` (shares of the trace, in either order).
    #[must_use]
    pub fn region(from: f64, to: f64) -> Self {
        let (low, high) = (from.min(to).max(0.0), from.max(to).min(1.0));
        // Too narrow a region is widened around its middle.
        let width = (high - low).max(NARROWEST);
        Self::spanning((low + high - width) / 2.0, width)
    }

    /// Moved to be centred on `share` of the trace (a click on the minimap), stopped at
    /// the trace's ends.
    #[must_use]
    pub fn centred_on(self, share: f64) -> Self {
        let width = self.width();
        Self::spanning(share - width / 2.0, width)
    }

    /// Moved by `by` times its width (negative: earlier), stopped at the trace's ends.
    #[must_use]
    pub fn panned(self, by: f64) -> Self {
        let width = self.width();
        Self::spanning(self.start + by * width, width)
    }

    /// The share of the trace shown at `at`, a share of the window's width.
    pub fn at(&self, at: f64) -> f64 {
        self.start + at * self.width()
    }

    /// Where a point `share` of the way through the trace falls in the shown part, as a
    /// share of that part (outside 0..1 when it is not shown).
    pub fn place(&self, share: f64) -> f64 {
        (share - self.start) / self.width()
    }

    /// Where a point of the trace falls in the window, if it is shown.
    pub fn point(&self, share: f64) -> Option<f64> {
        (self.start..=self.end)
            .contains(&share)
            .then(|| self.place(share))
    }

    /// The part of `start..end` (shares of the trace) that the window shows, if any.
    pub fn extent(&self, start: f64, end: f64) -> Option<Extent> {
        let end = end.max(start);
        if end < self.start || start > self.end {
            return None;
        }
        Some(Extent {
            start: self.place(start).max(0.0),
            end: self.place(end).min(1.0),
            cut_before: start < self.start,
            cut_after: end > self.end,
        })
    }
}

/// The shown part of a span, as shares of the window's width (within 0..=1), and
/// whether it goes on past the window's edges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extent {
    pub start: f64,
    pub end: f64,
    /// It began before the window.
    pub cut_before: bool,
    /// It ends after the window.
    pub cut_after: bool,
}

/// Which side of the window a span it does not show lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

/// A trace as a Markdown outline: one item per span (indented under its parent) with
/// its service, duration and status, its logs as sub-items. For pasting into an issue.
pub fn trace_markdown(view: &TraceView) -> String {
    TraceMarkdown(view).to_string()
}

struct TraceMarkdown<'a>(&'a TraceView);

impl fmt::Display for TraceMarkdown<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.0;
        write!(
            out,
            "Trace `{}` ({} spans, {})\n\n",
            trace_hex(view.trace_id),
            view.spans.len(),
            format_duration(view.end_unix_nano.saturating_sub(view.start_unix_nano))
        )?;
        for span in &view.spans {
            let indent = "  ".repeat(usize::from(span.depth));
            writeln!(
                out,
                "{indent}- **{}** ({}, {}, +{}){}",
                span.name,
                span.service,
                format_duration(span.end_unix_nano.saturating_sub(span.start_unix_nano)),
                format_duration(span.start_unix_nano.saturating_sub(view.start_unix_nano)),
                if span.error { " ERROR" } else { "" },
            )?;
            for log in &span.logs {
                writeln!(out, "{indent}  - `{}` {}", log.level.label(), log.message)?;
            }
        }
        for log in &view.orphan_logs {
            writeln!(out, "- `{}` {}", log.level.label(), log.message)?;
        }
        Ok(())
    }
}

/// The detail pane as text: its title, then each section's rows as `key = value`.
pub fn detail_text(detail: &Detail) -> String {
    DetailText(detail).to_string()
}

struct DetailText<'a>(&'a Detail);

impl fmt::Display for DetailText<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = self.0;
        writeln!(out, "{}", detail.title)?;
        for section in &detail.sections {
            write!(out, "\n[{}]\n", section.title)?;
            for row in &section.rows {
                writeln!(out, "{} = {}", row.key, row.value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Extent, Side, WaterfallRow, WaterfallRows, WaterfallSpan, Zoom, detail_text, trace_markdown,
    };
    use crate::model::Level;
    use crate::snapshot::{
        Detail, DetailRow, DetailSection, LogRow, RecordRef, TraceView, ValueKind,
    };

    fn log(index: u32) -> LogRow {
        LogRow {
            index,
            time_unix_nano: 0,
            level: Level::Info,
            service: "s".into(),
            scope: "".into(),
            message: format!("log {index}"),
            highlights: Vec::new(),
            trace_id: 1,
            span_id: 0,
            source: None,
        }
    }

    fn span(index: u32, depth: u16, logs: Vec<LogRow>) -> WaterfallSpan {
        WaterfallSpan {
            index,
            depth,
            name: format!("span {index}"),
            service: "s".into(),
            start_unix_nano: 0,
            end_unix_nano: 1,
            error: false,
            events: Vec::new(),
            logs,
            highlights: Vec::new(),
            source: None,
            self_nano: 1,
            critical: Vec::new(),
        }
    }

    /// A root with one log, a child with two, and one log whose span never came.
    fn trace(focus: Option<usize>) -> TraceView {
        TraceView {
            trace_id: 1,
            start_unix_nano: 0,
            end_unix_nano: 1,
            spans: vec![span(10, 0, vec![log(1)]), span(11, 1, vec![log(2), log(3)])],
            orphan_logs: vec![log(4)],
            spans_left_out: 0,
            focus,
            shape: Default::default(),
        }
    }

    /// Each row as (record, depth).
    fn rows(view: &TraceView, inline_logs: bool) -> Vec<(RecordRef, u16)> {
        let rows = WaterfallRows::new(view, inline_logs);
        let waterfall = rows.over(view, Zoom::default());
        (0..waterfall.len())
            .filter_map(|row| waterfall.get(row))
            .map(|row| {
                let depth = match row {
                    WaterfallRow::Span(span) => span.depth,
                    WaterfallRow::Log { depth, .. } => depth,
                };
                (row.record(), depth)
            })
            .collect()
    }

    #[test]
    fn waterfall_rows_put_logs_under_their_spans_when_inline() {
        let view = trace(None);
        assert_eq!(
            rows(&view, true),
            [
                (RecordRef::Span(10), 0),
                (RecordRef::Log(1), 1),
                (RecordRef::Span(11), 1),
                (RecordRef::Log(2), 2),
                (RecordRef::Log(3), 2),
                (RecordRef::Log(4), 0),
            ]
        );
        assert_eq!(
            rows(&view, false),
            [(RecordRef::Span(10), 0), (RecordRef::Span(11), 1)]
        );
        assert_eq!(
            WaterfallRows::new(&view, true)
                .over(&view, Zoom::default())
                .get(6)
                .map(|r| r.record()),
            None
        );
    }

    #[test]
    fn a_spans_logs_fall_between_its_children_by_time() {
        let at = |index: u32, time: u64| LogRow {
            time_unix_nano: time,
            ..log(index)
        };
        let starting = |index: u32, depth: u16, start: u64, logs: Vec<LogRow>| WaterfallSpan {
            start_unix_nano: start,
            end_unix_nano: start + 10,
            ..span(index, depth, logs)
        };
        // The root logs before, between and after its two children, out of order;
        // the first child has a child and a log of its own.
        let view = TraceView {
            spans: vec![
                starting(10, 0, 0, vec![at(3, 25), at(1, 0), at(2, 12), at(4, 40)]),
                starting(11, 1, 5, vec![at(5, 7)]),
                starting(12, 2, 6, Vec::new()),
                starting(13, 1, 20, Vec::new()),
            ],
            orphan_logs: Vec::new(),
            ..trace(None)
        };
        let records: Vec<RecordRef> = rows(&view, true).into_iter().map(|(r, _)| r).collect();
        assert_eq!(
            records,
            [
                RecordRef::Span(10),
                RecordRef::Log(1),
                RecordRef::Span(11),
                RecordRef::Span(12),
                RecordRef::Log(5),
                RecordRef::Log(2),
                RecordRef::Span(13),
                RecordRef::Log(3),
                RecordRef::Log(4),
            ]
        );
    }

    #[test]
    fn the_focused_span_is_found_among_the_rows() {
        assert_eq!(WaterfallRows::new(&trace(None), true).focus(), None);
        assert_eq!(WaterfallRows::new(&trace(Some(1)), true).focus(), Some(2));
        assert_eq!(WaterfallRows::new(&trace(Some(1)), false).focus(), Some(1));
        // A span that is not drawn shows the first row.
        assert_eq!(WaterfallRows::new(&trace(Some(7)), true).focus(), Some(0));
    }

    #[test]
    fn copied_text_lists_every_row() {
        let markdown = trace_markdown(&trace(None));
        assert!(markdown.starts_with("Trace `"), "{markdown}");
        assert!(markdown.contains("\n  - **span 11** (s, "), "{markdown}");
        assert!(markdown.contains("\n    - `INFO` log 3\n"), "{markdown}");
        assert!(markdown.ends_with("\n- `INFO` log 4\n"), "{markdown}");
        let detail = Detail {
            record: RecordRef::Span(10),
            title: "span 10".to_owned(),
            trace_id: 1,
            span_id: 2,
            source: None,
            sections: vec![DetailSection {
                title: "Span".to_owned(),
                rows: vec![DetailRow {
                    key: "kind".to_owned(),
                    value: "SERVER".to_owned(),
                    opens: None,
                    kind: ValueKind::Plain,
                }],
            }],
        };
        assert_eq!(detail_text(&detail), "span 10\n\n[Span]\nkind = SERVER\n");
    }

    #[track_caller]
    fn assert_window(zoom: Zoom, start: f64, end: f64) {
        assert!(
            (zoom.start() - start).abs() < 1e-9 && (zoom.end() - end).abs() < 1e-9,
            "{zoom:?} is not {start}..{end}"
        );
    }

    #[test]
    fn zoom_stays_within_the_trace() {
        let zoom = Zoom::default().scaled(0.5);
        assert_window(zoom, 0.25, 0.75);
        assert!((zoom.place(0.5) - 0.5).abs() < 1e-12);
        assert!(zoom.place(0.0) < 0.0);
        // Zooming out never shows more than the whole trace.
        assert!(zoom.scaled(2.0).scaled(2.0).is_whole());
        assert_window(zoom.scaled(8.0), 0.0, 1.0);
    }

    #[test]
    fn zoom_to_a_region_shows_just_that_region() {
        let zoom = Zoom::region(0.6, 0.2);
        assert_window(zoom, 0.2, 0.6);
        // A region of the window, taken from where the window shows it.
        assert_window(Zoom::region(zoom.at(0.5), zoom.at(0.75)), 0.4, 0.5);
        // Past the trace's ends it stops at them.
        assert_window(Zoom::region(-0.5, 0.25), 0.0, 0.25);
        // A region of nothing is widened to the narrowest window, around its middle.
        let point = Zoom::region(0.3, 0.3);
        assert!(point.width() > 0.0 && (point.at(0.5) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn zooming_around_a_point_keeps_that_point_in_place() {
        for (factor, at) in [(0.5, 0.2), (0.8, 0.9), (1.5, 0.5), (0.1, 0.0), (0.3, 1.0)] {
            let before = Zoom::region(0.3, 0.7);
            let after = before.scaled_around(factor, at);
            assert!(
                (after.at(at) - before.at(at)).abs() < 1e-12,
                "{factor} at {at}: {before:?} -> {after:?}"
            );
            assert!((after.width() - before.width() * factor).abs() < 1e-12);
        }
        // Near an end, the trace's end stops the window rather than the point.
        let out = Zoom::region(0.8, 1.0).scaled_around(3.0, 0.9);
        assert_window(out, 0.4, 1.0);
    }

    #[test]
    fn panning_stops_at_both_ends_of_the_trace() {
        let zoom = Zoom::region(0.4, 0.6);
        assert_window(zoom.panned(0.5), 0.5, 0.7);
        assert_window(zoom.panned(-1.0), 0.2, 0.4);
        assert_window(zoom.panned(10.0), 0.8, 1.0);
        assert_window(zoom.panned(-10.0), 0.0, 0.2);
        // The whole trace has nowhere to go.
        assert!(Zoom::default().panned(0.3).is_whole());
    }

    #[test]
    fn centring_on_a_point_keeps_the_width_and_stops_at_the_ends() {
        let zoom = Zoom::region(0.4, 0.6);
        assert_window(zoom.centred_on(0.3), 0.2, 0.4);
        assert_window(zoom.centred_on(0.05), 0.0, 0.2);
        assert_window(zoom.centred_on(0.99), 0.8, 1.0);
        assert!(Zoom::default().centred_on(0.3).is_whole());
    }

    #[test]
    fn deep_zoom_stays_finite() {
        let mut zoom = Zoom::default();
        for step in 0..200 {
            zoom = zoom
                .scaled_around(0.5, 0.7)
                .panned(if step % 2 == 0 { 3.0 } else { -1.0 });
            assert!(
                zoom.start().is_finite() && zoom.end().is_finite(),
                "{zoom:?}"
            );
            assert!(zoom.width() > 0.0 && zoom.start() >= 0.0 && zoom.end() <= 1.0);
            assert!(zoom.place(0.0).is_finite() && zoom.place(1.0).is_finite());
        }
        // Stopped at the trace's end, it ends exactly there.
        assert_eq!(Zoom::region(0.6, 1.0).scaled_around(0.001, 1.0).end(), 1.0);
        assert_eq!(Zoom::region(0.9, 0.95).panned(5.0).end(), 1.0);
        // It stops at a millionth of the trace.
        assert!((zoom.width() - 1e-6).abs() < 1e-12, "{zoom:?}");
        let back = (0..40).fold(zoom, |zoom, _| zoom.scaled(2.0));
        assert!(back.is_whole());
    }

    #[test]
    fn spans_outside_the_window_have_no_extent() {
        // The window is the trace's second half.
        let mut view = trace(None);
        view.end_unix_nano = 100;
        let timed = |index: u32, start: u64, end: u64| WaterfallSpan {
            start_unix_nano: start,
            end_unix_nano: end,
            ..span(index, 0, Vec::new())
        };
        view.spans = vec![
            timed(1, 0, 40),
            timed(2, 30, 70),
            timed(3, 60, 80),
            timed(4, 0, 100),
        ];
        let rows = WaterfallRows::new(&view, false);
        let waterfall = rows.over(&view, Zoom::region(0.5, 1.0));
        let extents: Vec<Option<Extent>> = view
            .spans
            .iter()
            .map(|span| waterfall.visible_extent(span))
            .collect();
        assert_eq!(extents[0], None, "wholly before the window");
        assert_eq!(waterfall.side_of(&view.spans[0]), Side::Before);
        let crossing = extents[1].expect("crossing the window");
        assert!(crossing.cut_before && !crossing.cut_after);
        assert!(crossing.start == 0.0 && (crossing.end - 0.4).abs() < 1e-12);
        let inside = extents[2].expect("inside the window");
        assert!(!inside.cut_before && !inside.cut_after);
        assert!((inside.start - 0.2).abs() < 1e-12 && (inside.end - 0.6).abs() < 1e-12);
        let whole = extents[3].expect("over the whole trace");
        assert!(whole.cut_before && !whole.cut_after && whole.start == 0.0 && whole.end == 1.0);
        // Moments outside the window are not shown at its edges.
        assert_eq!(waterfall.visible_point(10), None);
        assert_eq!(waterfall.visible_point(75), Some(0.5));
        // Zoomed into the first half, a span after it lies after the window.
        let first_half = rows.over(&view, Zoom::region(0.0, 0.5));
        assert_eq!(first_half.visible_extent(&view.spans[2]), None);
        assert_eq!(first_half.side_of(&view.spans[2]), Side::After);
        assert!(
            first_half
                .visible_extent(&view.spans[3])
                .is_some_and(|extent| extent.cut_after)
        );
    }
}
