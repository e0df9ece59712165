//! The backend over real collector output: live arrival, filters, search, traces.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use oculus_viewer::filter::Filter;
use oculus_viewer::model::{Level, trace_hex};
use oculus_viewer::snapshot::{Item, RecordRef, UiEvent, ViewKind};

use crate::common::{
    REQUESTS, eventually, export_demo, loaded_engine, options, recorded_run, runtime,
    start_collector,
};

fn show(engine: &mut oculus_viewer::Engine, filter: Filter) -> oculus_viewer::snapshot::Snapshot {
    show_view(engine, filter, ViewKind::Logs)
}

/// A tab with `filter` showing `view`, filtered to the end.
fn show_view(
    engine: &mut oculus_viewer::Engine,
    filter: Filter,
    view: ViewKind,
) -> oculus_viewer::snapshot::Snapshot {
    engine.handle(UiEvent::ShowTab {
        tab: 1,
        filter: Box::new(filter),
        version: 1,
    });
    engine.handle(UiEvent::Viewport {
        tab: 1,
        view,
        top: 0,
        rows: 10_000,
        follow: false,
        selected: None,
        sort: oculus_viewer::snapshot::TraceSort::default(),
    });
    engine.finish();
    engine.snapshot()
}

#[test]
fn records_arrive_while_the_collector_writes() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let collector = runtime.block_on(start_collector(dir.path()));
    let mut engine = oculus_viewer::Engine::new(options(dir.path()), runtime.handle().clone());
    engine.poll();
    assert_eq!(engine.index().logs.len(), 0);
    // Long enough for the directories' times to settle, so that new files must be
    // noticed by a listing that looks at changed directories only.
    std::thread::sleep(Duration::from_millis(1500));
    engine.poll();

    runtime.block_on(export_demo(&collector, "live-service", 3));
    let accepted = collector.counters().clone();
    // Everything the collector accepted shows up from the active segment.
    eventually("the records of the active segment", || {
        engine.poll();
        engine.index().logs.len() + engine.index().spans.len() > 0
            && accepted.spans.load(Ordering::Relaxed) == engine.index().spans.len() as u64
            && accepted.logs.load(Ordering::Relaxed) == engine.index().logs.len() as u64
    });
    let snapshot = show(&mut engine, Filter::default());
    assert_eq!(snapshot.services.len(), 1);
    assert_eq!(&*snapshot.services[0], "live-service");
    assert_eq!(snapshot.logs.total, engine.index().logs.len());

    // A second run of the service appears without reopening anything.
    let before = engine.index().spans.len();
    runtime.block_on(export_demo(&collector, "second-service", 1));
    eventually("the second service", || {
        engine.poll();
        engine.index().spans.len() > before
    });
    let snapshot = show(&mut engine, Filter::default());
    assert_eq!(snapshot.services.len(), 2);
    runtime.block_on(collector.shutdown()).unwrap();
    // The seal is read too, and nothing is read twice.
    let total = engine.index().logs.len();
    std::thread::sleep(Duration::from_millis(50));
    engine.poll();
    assert_eq!(engine.index().logs.len(), total);
}

#[test]
fn filters_narrow_and_count_levels() {
    let dir = recorded_run();
    let runtime = runtime();
    let mut engine = loaded_engine(dir.path(), &runtime);
    let all = show(&mut engine, Filter::default());
    assert!(all.logs.total > 0);
    assert_eq!(all.logs.total, engine.index().logs.len());
    assert_eq!(
        all.level_counts.iter().sum::<u64>() as usize,
        all.logs.total
    );

    // The level threshold keeps that level and above, and the counts stay.
    let errors = show(
        &mut engine,
        Filter {
            min_level: Level::Error,
            ..Filter::default()
        },
    );
    let expected =
        all.level_counts[Level::Error as usize] + all.level_counts[Level::Fatal as usize];
    assert!(expected > 0, "the demo fails some requests");
    assert_eq!(errors.logs.total as u64, expected);
    assert!(errors.logs.rows.iter().all(|r| r.level >= Level::Error));
    assert_eq!(errors.level_counts, all.level_counts);

    // Search: case-insensitive substring over messages, with highlights.
    let searched = show(
        &mut engine,
        Filter {
            search: "QUERY failed".into(),
            ..Filter::default()
        },
    );
    assert!(searched.logs.total > 0 && searched.logs.total < all.logs.total);
    for row in &searched.logs.rows {
        assert_eq!(row.highlights.len(), 1, "{}", row.message);
        assert_eq!(&row.message[row.highlights[0].clone()], "query failed");
    }
    // A regex, and a bad one that says why.
    let regex = show(
        &mut engine,
        Filter {
            search: "^(query|request) failed".into(),
            regex: true,
            ..Filter::default()
        },
    );
    assert!(regex.logs.total > searched.logs.total);
    let bad = show(
        &mut engine,
        Filter {
            search: "(".into(),
            regex: true,
            ..Filter::default()
        },
    );
    assert_eq!(bad.logs.total, 0);
    assert!(bad.filter_error.unwrap().contains("regular expression"));

    // Attribute terms and a trace id combine with the rest.
    let trace = searched.logs.rows[0].trace_id;
    let one_trace = show(
        &mut engine,
        Filter {
            trace_id: trace_hex(trace),
            ..Filter::default()
        },
    );
    assert!(one_trace.logs.total > 1);
    assert!(one_trace.logs.rows.iter().all(|r| r.trace_id == trace));
    let scoped = show(
        &mut engine,
        Filter {
            scope: "ORDERS".into(),
            ..Filter::default()
        },
    );
    assert_eq!(scoped.logs.total, all.logs.total);
    assert!(scoped.logs.rows.iter().all(|r| r.scope.contains("orders")));
    let other_scope = show(
        &mut engine,
        Filter {
            scope: "payments".into(),
            ..Filter::default()
        },
    );
    assert_eq!(other_scope.logs.total, 0);
}

#[test]
fn traces_hold_their_spans_and_logs() {
    let dir = recorded_run();
    let runtime = runtime();
    let mut engine = loaded_engine(dir.path(), &runtime);
    assert_eq!(engine.index().traces.len() as u64, REQUESTS);
    let snapshot = show_view(&mut engine, Filter::default(), ViewKind::Traces);
    assert_eq!(snapshot.traces.total as u64, REQUESTS);
    let failed = snapshot.traces.rows.iter().filter(|t| t.errors > 0).count();
    assert!(failed > 0 && failed < REQUESTS as usize);
    // Newest first.
    assert!(
        snapshot
            .traces
            .rows
            .windows(2)
            .all(|w| w[0].start_unix_nano >= w[1].start_unix_nano)
    );

    // From a log to its span: the waterfall focuses the span that emitted it.
    let log = engine
        .index()
        .logs
        .iter()
        .position(|l| l.trace_id.get() != 0 && l.span_id != 0)
        .unwrap();
    let log_entry = engine.index().logs[log];
    engine.handle(UiEvent::OpenTrace {
        tab: 1,
        trace: log_entry.trace_id.get(),
        focus: Some(RecordRef::Log(log as u32)),
    });
    let trace = engine.snapshot().trace.unwrap();
    assert_eq!(trace.trace_id, log_entry.trace_id.get());
    // An unchanged trace is shared with the next snapshot, not rebuilt or copied.
    let again = engine.snapshot().trace.unwrap();
    assert!(Arc::ptr_eq(&trace, &again));
    assert_eq!(trace.spans[0].depth, 0, "the root comes first");
    assert!(trace.spans.iter().skip(1).all(|s| s.depth > 0));
    // Span events are marks within their span.
    let marked: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| !s.events.is_empty())
        .collect();
    assert!(!marked.is_empty());
    for span in marked {
        assert!(
            span.events
                .iter()
                .all(|&t| t >= span.start_unix_nano && t <= span.end_unix_nano)
        );
    }
    let focused = &trace.spans[trace.focus.unwrap()];
    assert!(focused.logs.iter().any(|l| l.index == log as u32));
    // Each span's logs carry its span id; every log of the trace is placed.
    let placed: usize =
        trace.spans.iter().map(|s| s.logs.len()).sum::<usize>() + trace.orphan_logs.len();
    let entry = engine
        .index()
        .trace_by_id(log_entry.trace_id.get())
        .unwrap();
    assert_eq!(placed, engine.index().traces[entry as usize].logs.len());
    for span in &trace.spans {
        let span_id = engine.index().spans[span.index as usize].span_id;
        assert!(span.logs.iter().all(|l| l.span_id == span_id));
    }

    // The detail of a span is read back from its segment.
    let root = trace.spans[0].index;
    engine.handle(UiEvent::Select(Some(RecordRef::Span(root))));
    let detail = engine.snapshot().detail.unwrap();
    // The detail is built once per selection and shared with every snapshot.
    assert!(Arc::ptr_eq(&detail, &engine.snapshot().detail.unwrap()));
    assert_eq!(detail.trace_id, log_entry.trace_id.get());
    let span_section = &detail.sections[0];
    assert_eq!(span_section.title, "Span");
    assert!(
        span_section
            .rows
            .iter()
            .any(|row| row.key == "parent span id" && row.value == "(root)")
    );
    assert!(detail.sections.iter().any(|s| {
        s.title == "Resource"
            && s.rows
                .iter()
                .any(|row| row.key == "service.name" && row.value == "checkout")
    }));
    // The record's trace id is the one row that opens a trace (this span has no links).
    let opening: Vec<_> = detail
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .filter_map(|row| row.opens.map(|trace| (row.key.as_str(), trace)))
        .collect();
    assert_eq!(opening, [("trace id", detail.trace_id)]);
    let source = detail.source.clone().unwrap();
    assert!(source.file.ends_with("orders.rs"), "{}", source.file);

    // e/E in the logs view: the next error row from the top.
    engine.handle(UiEvent::Viewport {
        tab: 1,
        view: ViewKind::Logs,
        top: 0,
        rows: 1,
        follow: false,
        selected: None,
        sort: oculus_viewer::snapshot::TraceSort::default(),
    });
    engine.finish();
    engine.handle(UiEvent::Find {
        tab: 1,
        view: ViewKind::Logs,
        from: Some(engine.index().logs.len() - 1),
        forward: true,
        errors_only: true,
        request: 7,
    });
    let found = engine.snapshot().found.unwrap();
    assert_eq!(found.request, 7);
    assert_eq!(found.found, None, "nothing after the end");
    engine.handle(UiEvent::Find {
        tab: 1,
        view: ViewKind::Logs,
        from: None,
        forward: true,
        errors_only: true,
        request: 8,
    });
    let (row, item) = engine.snapshot().found.unwrap().found.unwrap();
    engine.handle(UiEvent::Viewport {
        tab: 1,
        view: ViewKind::Logs,
        top: row,
        rows: 1,
        follow: false,
        selected: None,
        sort: oculus_viewer::snapshot::TraceSort::default(),
    });
    let log = engine.snapshot().logs.row(row).cloned().unwrap();
    assert_eq!(log.level, Level::Error);
    assert_eq!(item, Item::Record(RecordRef::Log(log.index)));
}

#[test]
fn stored_blocks_prepare_the_same_from_bytes_and_from_messages() {
    use prost::Message;
    let dir = recorded_run();
    let mut blocks = 0;
    for segment in oculus_store::resolve(dir.path()).unwrap().segments {
        let data = oculus_store::read_segment(&segment.path).unwrap();
        oculus_store::SegmentBytes::new(&segment.path, &data).scan(|item| {
            if let oculus_store::SegmentItem::Block { block, .. } = item {
                let raw = block.encode_to_vec();
                let from_bytes = oculus_viewer::raw::prepare_raw(&raw).unwrap();
                assert_eq!(
                    crate::oracle::indexed(&from_bytes),
                    crate::oracle::expected(&block)
                );
                blocks += 1;
            }
        });
    }
    assert!(blocks > 0);
}

/// Damage in a stored run reaches the status line with file and offset: a sealed
/// segment cut short (it has a successor, so its missing footer is damage, not a tail
/// still being written) and a damaged header, which costs no record.
#[test]
fn damage_in_a_stored_run_is_reported_and_costs_only_the_damaged_frames() {
    use oculus_store::{Corruption, CorruptionKind};
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let session = runtime.block_on(async {
        let loopback = "127.0.0.1:0".parse().unwrap();
        let mut config = oculus_collector::Config::new(loopback, loopback, dir.path().into());
        config.writer.max_segment_bytes = 4_000;
        let collector = oculus_collector::Collector::start(config).await.unwrap();
        export_demo(&collector, "checkout", REQUESTS).await;
        let session = collector.session().to_path_buf();
        collector.shutdown().await.unwrap();
        session
    });
    let segments = oculus_store::Session { path: session }.segments().unwrap();
    assert!(segments.len() >= 3, "{segments:?}");
    let intact = loaded_engine(dir.path(), &runtime);
    let records =
        |engine: &oculus_viewer::Engine| engine.index().logs.len() + engine.index().spans.len();
    let all = records(&intact);

    // The first segment cut inside its last block; a header bit flipped in the second.
    let first = oculus_store::segment::read_index(&segments[0])
        .unwrap()
        .unwrap();
    let last_block = first.blocks.last().unwrap();
    let cut_at = last_block.offset + u64::from(last_block.frame_bytes) / 2;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segments[0])
        .unwrap();
    file.set_len(cut_at).unwrap();
    let mut second = std::fs::read(&segments[1]).unwrap();
    second[20] ^= 0x01;
    std::fs::write(&segments[1], &second).unwrap();

    let mut damaged = loaded_engine(dir.path(), &runtime);
    damaged.finish();
    let reported: Vec<String> = damaged
        .snapshot()
        .status
        .damage
        .iter()
        .map(ToString::to_string)
        .collect();
    let expected = [
        Corruption::new(
            &segments[0],
            last_block.offset,
            CorruptionKind::MissingFooter,
        ),
        Corruption::new(&segments[1], 0, CorruptionKind::HeaderChecksum),
    ];
    for damage in expected {
        assert!(
            reported.contains(&damage.to_string()),
            "{damage} not in {reported:#?}"
        );
    }
    let lost = (last_block.logs + last_block.spans) as usize;
    assert_eq!(records(&damaged), all - lost);
}

/// A trace id that only log records carried is no trace to look at: the trace list
/// and the status line's count leave it out, and an unfiltered tab has nothing
/// filtered out.
#[test]
fn trace_ids_only_logs_carried_are_not_counted_as_traces() {
    use oculus_store::block::SpanColumns;
    use oculus_store::proto::{LogRecord, Resource, Scope, Span};
    use oculus_store::{BlockBuilder, SessionWriter, WriterOptions, encode_block};

    let dir = tempfile::tempdir().unwrap();
    let mut b = BlockBuilder::new();
    let resource = b.add_resource(Resource::default());
    let scope = b.add_scope(Scope {
        resource,
        ..Scope::default()
    });
    // Trace 1 has a span and a log; trace 2 only a log.
    for (trace, with_span) in [(1u64, true), (2, false)] {
        b.push_log(
            LogRecord {
                scope,
                trace_id_low: trace,
                ..LogRecord::default()
            },
            1_000,
            1_000,
        );
        if with_span {
            b.push_span(
                Span {
                    scope,
                    trace_id_low: trace,
                    ..Span::default()
                },
                SpanColumns {
                    span_id: 1,
                    parent_span_id: 0,
                    start_unix_nano: 1_000,
                    end_unix_nano: 2_000,
                },
            );
        }
    }
    let (mut writer, _) = SessionWriter::open(dir.path(), WriterOptions::default()).unwrap();
    writer
        .append(&[encode_block(&b.finish(), 3).unwrap()])
        .unwrap();
    writer.close().unwrap();

    let runtime = runtime();
    let mut engine = loaded_engine(dir.path(), &runtime);
    assert_eq!(engine.index().logs.len(), 2);
    let snapshot = show_view(&mut engine, Filter::default(), ViewKind::Traces);
    assert_eq!(snapshot.traces.total, 1);
    assert_eq!(
        snapshot.status.traces, 1,
        "the status line counts traces with spans"
    );
    assert_eq!(snapshot.traces.rows[0].trace_id, 1);
}
