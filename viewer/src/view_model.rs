//! View data derived from a snapshot once, when it arrives, rather than by each piece of
//! drawing every frame: the waterfall's rows, its zoom, and the text the copy buttons
//! put on the clipboard. Nothing here draws.

use std::fmt;

use crate::model::trace_hex;
use crate::snapshot::{Detail, LogRow, RecordRef, SourceRef, TraceView, WaterfallSpan};
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

    /// These rows over the trace view they were derived from.
    pub fn over<'a>(&'a self, view: &'a TraceView) -> Waterfall<'a> {
        Waterfall { view, rows: self }
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

/// The open trace and its rows, as the waterfall draws them.
#[derive(Clone, Copy, Debug)]
pub struct Waterfall<'a> {
    pub view: &'a TraceView,
    rows: &'a WaterfallRows,
}

impl<'a> Waterfall<'a> {
    pub fn len(&self) -> usize {
        self.rows.len()
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

/// The part of the trace the waterfall shows, as fractions of the trace's duration.
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

impl Zoom {
    /// Whether the whole trace is shown.
    pub fn is_whole(&self) -> bool {
        *self == Self::default()
    }

    /// Zoomed around its middle by `factor` (below 1 zooms in), within the trace.
    #[must_use]
    pub fn scaled(self, factor: f64) -> Self {
        let middle = (self.start + self.end) / 2.0;
        let half = ((self.end - self.start) * factor / 2.0).clamp(0.0005, 0.5);
        let start = (middle - half).max(0.0);
        Self {
            start,
            end: (start + 2.0 * half).min(1.0),
        }
    }

    /// Where a point `share` of the way through the trace falls in the shown part, as a
    /// share of that part (outside 0..1 when it is not shown).
    pub fn place(&self, share: f64) -> f64 {
        (share - self.start) / (self.end - self.start)
    }
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
    use super::{WaterfallRow, WaterfallRows, Zoom, detail_text, trace_markdown};
    use crate::model::Level;
    use crate::snapshot::{
        Detail, DetailRow, DetailSection, LogRow, RecordRef, TraceView, ValueKind, WaterfallSpan,
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
        }
    }

    /// Each row as (record, depth).
    fn rows(view: &TraceView, inline_logs: bool) -> Vec<(RecordRef, u16)> {
        let rows = WaterfallRows::new(view, inline_logs);
        let waterfall = rows.over(view);
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
                .over(&view)
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

    #[test]
    fn zoom_stays_within_the_trace() {
        let zoom = Zoom::default().scaled(0.5);
        assert_eq!(
            zoom,
            Zoom {
                start: 0.25,
                end: 0.75
            }
        );
        assert!((zoom.place(0.5) - 0.5).abs() < 1e-12);
        assert!(zoom.place(0.0) < 0.0);
        // Zooming out never shows more than the whole trace.
        assert!(zoom.scaled(2.0).scaled(2.0).is_whole());
        // Zooming in stops at a two-thousandth of it.
        let deepest = (0..40).fold(Zoom::default(), |zoom, _| zoom.scaled(0.5));
        assert!((deepest.end - deepest.start - 0.001).abs() < 1e-12);
    }
}
