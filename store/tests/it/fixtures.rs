//! Checked-in segments of format version 1 (store/fixtures/v1) must keep loading: the
//! first two as version 1 was first written, the third with log times in columns, the
//! fourth a block that mixes spans, log records and a metric, the fifth with each
//! block's services in the index (the first four's indexes name none).
//!
//! The reading tests name exact values by hand rather than asking the generator, so a
//! format change that breaks version 1 fails here. Regenerate the files with
//! `OCULUS_WRITE_FIXTURES=1 cargo test -p oculus-store --test it fixtures`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oculus_store::block::{LogTimeChain, SpanColumns, event_time_offset, join_trace_id};
use oculus_store::frame::{HEADER_LEN, SegmentHeader};
use oculus_store::proto::{
    AnyValue, Block, BlockSummary, Event, KeyValue, KeyValueList, LogRecord, Metric, Resource,
    Scope, SourceLocation, Span, SpanKind, StatusCode, any_value::Value,
};
use oculus_store::segment::{FsyncPolicy, SegmentWriter};
use oculus_store::{BlockBuilder, SessionWriter, WriterOptions, check};
use prost::Message;

use crate::common::{data_dir_with, encode, scan_file, string_attr};

const SEALED: &str = "sealed.oseg";
const TORN: &str = "torn-tail.oseg";
/// Log records as written since their times moved into the block's columns.
const LOG_TIME_COLUMNS: &str = "log-time-columns.oseg";
/// One block holding every kind of record, interleaved: each kind chains its own times.
const MIXED: &str = "mixed-block.oseg";
/// Sealed since indexes name each block's services.
const INDEXED_SERVICES: &str = "indexed-services.oseg";
/// 2025-11-25T16:00:00Z.
const CREATED_UNIX_NANO: u64 = 1_764_086_400_000_000_000;
const T0: u64 = CREATED_UNIX_NANO + 1_000_000_000;
const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const ROOT_SPAN_ID: u64 = 0x00f0_67aa_0ba9_02b7;
const CHILD_SPAN_ID: u64 = 0x5399_5c3f_42cd_8ad8;
/// How much of the last frame the torn fixture holds.
const TORN_BYTES: u64 = 37;

/// The fixture directory; written first when `OCULUS_WRITE_FIXTURES=1`.
fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1");
        if std::env::var_os("OCULUS_WRITE_FIXTURES").is_some_and(|v| v == "1") {
            write_v1(&dir);
        }
        dir
    })
}

// Just enough of OTLP's metrics schema to encode and decode one gauge.
#[derive(Clone, PartialEq, Message)]
struct OtlpMetric {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    description: String,
    #[prost(string, tag = "3")]
    unit: String,
    #[prost(message, optional, tag = "5")]
    gauge: Option<OtlpGauge>,
}

#[derive(Clone, PartialEq, Message)]
struct OtlpGauge {
    #[prost(message, repeated, tag = "1")]
    data_points: Vec<OtlpNumberDataPoint>,
}

#[derive(Clone, PartialEq, Message)]
struct OtlpNumberDataPoint {
    #[prost(fixed64, tag = "3")]
    time_unix_nano: u64,
    #[prost(sfixed64, tag = "6")]
    as_int: i64,
}

fn int(value: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::IntValue(value)),
    })
}

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(value.to_owned())),
    })
}

/// A builder with the checkout service's resource and scope.
fn checkout_builder(base_time: u64) -> (BlockBuilder, u32) {
    let mut builder = BlockBuilder::new();
    builder.set_base_time(base_time);
    let service = builder.intern("service.name");
    let version = builder.intern("service.version");
    let resource = builder.add_resource(Resource {
        attributes: vec![
            string_attr(service, "checkout"),
            string_attr(version, "2.3.1"),
        ],
        ..Resource::default()
    });
    let name = builder.intern("checkout::http");
    let scope_version = builder.intern("0.9.0");
    let scope = builder.add_scope(Scope {
        resource,
        name,
        version: scope_version,
        ..Scope::default()
    });
    (builder, scope)
}

fn spans_block() -> Block {
    let (mut b, scope) = checkout_builder(T0);
    let (trace_id_high, trace_id_low) = oculus_store::block::split_trace_id(&TRACE_ID).unwrap();
    let method = b.intern("http.request.method");
    let status = b.intern("http.response.status_code");
    let root = Span {
        scope,
        trace_id_high,
        trace_id_low,
        flags: 1,
        name: b.intern("POST /checkout"),
        kind: SpanKind::Server as i32,
        attributes: vec![
            string_attr(method, "POST"),
            KeyValue {
                key: status,
                value: int(201),
            },
        ],
        status_code: StatusCode::Ok as i32,
        source: Some(SourceLocation {
            file_path: b.intern("src/checkout.rs"),
            line: 87,
            function: b.intern("checkout::handle"),
        }),
        ..Span::default()
    };
    let db = b.intern("db.system.name");
    let attempt = b.intern("attempt");
    let child = Span {
        scope,
        trace_id_high,
        trace_id_low,
        flags: 1,
        name: b.intern("SELECT orders"),
        kind: SpanKind::Client as i32,
        attributes: vec![string_attr(db, "postgresql")],
        events: vec![Event {
            time_offset_nano: event_time_offset(T0 + 2_000_000, T0 + 3_000_000),
            name: b.intern("retry"),
            attributes: vec![KeyValue {
                key: attempt,
                value: int(2),
            }],
            dropped_attributes_count: 0,
        }],
        status_code: StatusCode::Error as i32,
        status_message: "deadlock detected".into(),
        source: Some(SourceLocation {
            file_path: b.intern("src/db.rs"),
            line: 212,
            function: b.intern("checkout::db::load_orders"),
        }),
        ..Span::default()
    };
    b.push_span(
        root,
        SpanColumns {
            span_id: ROOT_SPAN_ID,
            parent_span_id: 0,
            start_unix_nano: T0,
            end_unix_nano: T0 + 12_500_000,
        },
    );
    b.push_span(
        child,
        SpanColumns {
            span_id: CHILD_SPAN_ID,
            parent_span_id: ROOT_SPAN_ID,
            start_unix_nano: T0 + 2_000_000,
            end_unix_nano: T0 + 5_000_000,
        },
    );
    b.finish()
}

fn logs_block() -> Block {
    let (mut b, scope) = checkout_builder(T0 + 5_000_000);
    let (trace_id_high, trace_id_low) = oculus_store::block::split_trace_id(&TRACE_ID).unwrap();
    let order = b.intern("order.id");
    // Version 1 blocks as first written: each log record holds its own time offsets
    // (newer blocks keep them in the block's log time columns).
    let mut chain = LogTimeChain::new(T0 + 5_000_000);
    let shipped_times = chain.log_time_offsets(T0 + 5_000_000, T0 + 5_100_000);
    // The observed time is stored relative to the event time.
    assert_eq!(shipped_times, (Some(0), Some(100_000)));
    let shipped = LogRecord {
        scope,
        time_offset_nano: shipped_times.0,
        observed_time_offset_nano: shipped_times.1,
        severity_number: 9,
        severity_text: b.intern("INFO"),
        body: text("order 42 shipped"),
        attributes: vec![KeyValue {
            key: order,
            value: int(42),
        }],
        trace_id_high,
        trace_id_low,
        span_id: ROOT_SPAN_ID,
        flags: 1,
        source: Some(SourceLocation {
            file_path: b.intern("src/checkout.rs"),
            line: 91,
            function: b.intern("checkout::handle"),
        }),
        ..LogRecord::default()
    };
    let declined = LogRecord {
        scope,
        time_offset_nano: chain.log_time_offsets(T0 + 6_000_000, 0).0,
        severity_number: 13,
        severity_text: b.intern("WARN"),
        body: text("payment declined: insufficient funds"),
        attributes: vec![KeyValue {
            key: order,
            value: int(43),
        }],
        ..LogRecord::default()
    };
    let event = b.intern("event");
    let cart = b.intern("cart.items");
    let structured = LogRecord {
        scope,
        time_offset_nano: chain.log_time_offsets(T0 + 7_000_000, 0).0,
        severity_number: 17,
        severity_text: b.intern("ERROR"),
        body: Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: event,
                        value: text("cart_empty"),
                    },
                    KeyValue {
                        key: cart,
                        value: int(0),
                    },
                ],
            })),
        }),
        event_name: b.intern("checkout.failed"),
        ..LogRecord::default()
    };
    b.block_mut().logs.extend([shipped, declined, structured]);
    b.finish()
}

/// Log records with both times, only an event time and only an observed time, their
/// times in the block's columns.
/// Log records of two resources: `payments`, and one without `service.name`; a third
/// resource, `billing`, has no scope and so no record.
fn services_block() -> Block {
    let mut b = BlockBuilder::new();
    b.set_base_time(T0 + 50_000_000);
    let service = b.intern("service.name");
    let host = b.intern("host.name");
    let payments = b.add_resource(Resource {
        attributes: vec![string_attr(service, "payments")],
        ..Resource::default()
    });
    let unnamed = b.add_resource(Resource {
        attributes: vec![string_attr(host, "box-7")],
        ..Resource::default()
    });
    b.add_resource(Resource {
        attributes: vec![string_attr(service, "billing")],
        ..Resource::default()
    });
    let info = b.intern("INFO");
    for (resource, body, time) in [
        (payments, "card charged", T0 + 50_000_000),
        (unnamed, "disk 91% full", T0 + 51_000_000),
    ] {
        let scope = b.add_scope(Scope {
            resource,
            ..Scope::default()
        });
        let log = LogRecord {
            scope,
            severity_number: 9,
            severity_text: info,
            body: text(body),
            ..LogRecord::default()
        };
        b.push_log(log, time, time);
    }
    b.finish()
}

fn log_columns_block() -> Block {
    let (mut b, scope) = checkout_builder(T0 + 20_000_000);
    let info = b.intern("INFO");
    for (body, time, observed) in [
        ("both times", T0 + 20_000_000, T0 + 20_000_500),
        ("event time only", T0 + 21_000_000, 0),
        ("observed time only", 0, T0 + 22_000_000),
    ] {
        let log = LogRecord {
            scope,
            severity_number: 9,
            severity_text: info,
            body: text(body),
            ..LogRecord::default()
        };
        b.push_log(log, time, observed);
    }
    b.finish()
}

/// A gauge of two integer points, as the verbatim OTLP a block keeps.
fn push_gauge(b: &mut BlockBuilder, scope: u32, name: &str, points: [(u64, i64); 2]) {
    let otlp = OtlpMetric {
        name: name.into(),
        description: "Requests being served".into(),
        unit: "{request}".into(),
        gauge: Some(OtlpGauge {
            data_points: points
                .iter()
                .map(|&(time_unix_nano, as_int)| OtlpNumberDataPoint {
                    time_unix_nano,
                    as_int,
                })
                .collect(),
        }),
    };
    let name = b.intern(&otlp.name);
    b.block_mut().metrics.push(Metric {
        scope,
        name,
        otlp_metric: otlp.encode_to_vec(),
        data_points: 2,
    });
}

fn metric_block() -> Block {
    let (mut b, scope) = checkout_builder(T0 + 10_000_000);
    push_gauge(
        &mut b,
        scope,
        "checkout.in_flight",
        [(T0 + 10_000_000, 3), (T0 + 20_000_000, 5)],
    );
    b.finish()
}

/// Log records (with both times, only an event time, only an observed time) and spans
/// pushed in turn, a log first, then a metric: a block only other writers than the
/// collector make, whose times each kind chains apart.
fn mixed_block() -> Block {
    let (mut b, scope) = checkout_builder(T0 + 30_000_000);
    let (trace_id_high, trace_id_low) = oculus_store::block::split_trace_id(&TRACE_ID).unwrap();
    let info = b.intern("INFO");
    let log = |b: &mut BlockBuilder, body: &str, time: u64, observed: u64| {
        let log = LogRecord {
            scope,
            severity_number: 9,
            severity_text: info,
            body: text(body),
            ..LogRecord::default()
        };
        b.push_log(log, time, observed);
    };
    let span = |b: &mut BlockBuilder, name: &str, ids: (u64, u64), times: (u64, u64)| {
        let span = Span {
            scope,
            trace_id_high,
            trace_id_low,
            name: b.intern(name),
            kind: SpanKind::Server as i32,
            ..Span::default()
        };
        let columns = SpanColumns {
            span_id: ids.0,
            parent_span_id: ids.1,
            start_unix_nano: times.0,
            end_unix_nano: times.1,
        };
        (span, columns)
    };
    log(&mut b, "both times", T0 + 30_000_000, T0 + 30_000_400);
    let (mut cart, columns) = span(
        &mut b,
        "GET /cart",
        (ROOT_SPAN_ID, 0),
        (T0 + 31_000_000, T0 + 39_000_000),
    );
    cart.events.push(Event {
        time_offset_nano: event_time_offset(T0 + 31_000_000, T0 + 32_000_000),
        name: b.intern("cache.miss"),
        ..Event::default()
    });
    b.push_span(cart, columns);
    log(&mut b, "event time only", T0 + 33_000_000, 0);
    let (load, columns) = span(
        &mut b,
        "SELECT carts",
        (CHILD_SPAN_ID, ROOT_SPAN_ID),
        (T0 + 34_000_000, T0 + 36_000_000),
    );
    b.push_span(load, columns);
    log(&mut b, "observed time only", 0, T0 + 37_000_000);
    push_gauge(
        &mut b,
        scope,
        "checkout.in_flight",
        [(T0 + 35_000_000, 4), (T0 + 38_000_000, 6)],
    );
    b.finish()
}

/// Writes the version 1 fixtures missing from `dir`. The files there are kept: each
/// holds the form of its time (the first four were sealed before indexes named
/// services, and rewritten now would name them).
fn write_v1(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let header = |sequence| SegmentHeader {
        sequence,
        created_unix_nano: CREATED_UNIX_NANO,
    };
    let indexed = dir.join(INDEXED_SERVICES);
    if !indexed.exists() {
        let mut writer = SegmentWriter::create(&indexed, header(5), FsyncPolicy::Never).unwrap();
        writer
            .append(&[encode(&spans_block()), encode(&services_block())])
            .unwrap();
        writer.seal().unwrap();
    }
    if dir.join(SEALED).exists() {
        return;
    }
    let sealed = dir.join(SEALED);
    let mut writer = SegmentWriter::create(&sealed, header(1), FsyncPolicy::Never).unwrap();
    for block in [spans_block(), logs_block(), metric_block()] {
        writer.append(&[encode(&block)]).unwrap();
    }
    writer.seal().unwrap();

    let torn = dir.join(TORN);
    let _ = std::fs::remove_file(&torn);
    let mut writer = SegmentWriter::create(&torn, header(2), FsyncPolicy::Never).unwrap();
    writer
        .append(&[encode(&spans_block()), encode(&logs_block())])
        .unwrap();
    drop(writer);
    let cut = encode(&metric_block()).frame;
    crate::common::append_raw(&torn, &cut[..TORN_BYTES as usize]);

    let columns = dir.join(LOG_TIME_COLUMNS);
    let _ = std::fs::remove_file(&columns);
    let mut writer = SegmentWriter::create(&columns, header(3), FsyncPolicy::Never).unwrap();
    writer.append(&[encode(&log_columns_block())]).unwrap();
    writer.seal().unwrap();

    let mixed = dir.join(MIXED);
    let _ = std::fs::remove_file(&mixed);
    let mut writer = SegmentWriter::create(&mixed, header(4), FsyncPolicy::Never).unwrap();
    writer.append(&[encode(&mixed_block())]).unwrap();
    writer.seal().unwrap();
}

#[test]
fn v1_mixed_block_loads_with_exact_times() {
    let path = fixture_dir().join(MIXED);
    let read = scan_file(&path);
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    let [block] = read.blocks.as_slice() else {
        panic!("one block expected, got {}", read.blocks.len());
    };
    let [summary] = read.scan.blocks.as_slice() else {
        panic!("one summary expected, got {}", read.scan.blocks.len());
    };
    assert_eq!(
        (summary.spans, summary.logs, summary.metric_points),
        (2, 3, 2)
    );
    assert_eq!(
        (summary.min_time_unix_nano, summary.max_time_unix_nano),
        (1_764_086_401_030_000_000, 1_764_086_401_039_000_000)
    );
    assert_eq!(block.base_time_unix_nano, 1_764_086_401_030_000_000);

    let bodies: Vec<_> = block.logs.iter().map(|l| l.body.clone()).collect();
    assert_eq!(
        bodies,
        [
            text("both times"),
            text("event time only"),
            text("observed time only")
        ]
    );
    assert_eq!(
        block.log_times(),
        [
            (1_764_086_401_030_000_000, 1_764_086_401_030_000_400),
            (1_764_086_401_033_000_000, 0),
            (0, 1_764_086_401_037_000_000),
        ]
    );

    let names: Vec<_> = block.spans.iter().map(|s| block.str(s.name)).collect();
    assert_eq!(names, ["GET /cart", "SELECT carts"]);
    assert_eq!(
        block.span_columns(),
        [
            SpanColumns {
                span_id: 0x00f0_67aa_0ba9_02b7,
                parent_span_id: 0,
                start_unix_nano: 1_764_086_401_031_000_000,
                end_unix_nano: 1_764_086_401_039_000_000,
            },
            SpanColumns {
                span_id: 0x5399_5c3f_42cd_8ad8,
                parent_span_id: 0x00f0_67aa_0ba9_02b7,
                start_unix_nano: 1_764_086_401_034_000_000,
                end_unix_nano: 1_764_086_401_036_000_000,
            },
        ]
    );
    let event = &block.spans[0].events[0];
    assert_eq!(block.str(event.name), "cache.miss");
    assert_eq!(
        1_764_086_401_031_000_000 + event.time_offset_nano as u64,
        1_764_086_401_032_000_000
    );

    // The metric's points keep their own times, in its verbatim OTLP bytes.
    let metric = &block.metrics[0];
    assert_eq!(block.str(metric.name), "checkout.in_flight");
    let otlp = OtlpMetric::decode(metric.otlp_metric.as_slice()).unwrap();
    let points: Vec<_> = otlp
        .gauge
        .unwrap()
        .data_points
        .iter()
        .map(|p| (p.time_unix_nano, p.as_int))
        .collect();
    assert_eq!(
        points,
        [
            (1_764_086_401_035_000_000, 4),
            (1_764_086_401_038_000_000, 6)
        ]
    );
}

#[test]
fn v1_log_time_columns_load_with_exact_times() {
    let read = scan_file(&fixture_dir().join(LOG_TIME_COLUMNS));
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    let [block] = read.blocks.as_slice() else {
        panic!("one block expected, got {}", read.blocks.len());
    };
    assert!(block.log_time_columns().is_some());
    assert!(
        block
            .logs
            .iter()
            .all(|l| l.time_offset_nano.is_none() && l.observed_time_offset_nano.is_none())
    );
    assert_eq!(
        block.log_times(),
        [
            (1_764_086_401_020_000_000, 1_764_086_401_020_000_500),
            (1_764_086_401_021_000_000, 0),
            (0, 1_764_086_401_022_000_000),
        ]
    );
    assert_eq!(block.logs[2].body, text("observed time only"));
}

#[test]
fn v1_sealed_segment_loads_with_exact_contents() {
    let path = fixture_dir().join(SEALED);
    let read = scan_file(&path);
    let scan = &read.scan;
    assert_eq!(
        scan.header,
        Some(SegmentHeader {
            sequence: 1,
            created_unix_nano: 1_764_086_400_000_000_000
        })
    );
    assert!(scan.damage.is_empty(), "{:?}", scan.damage);
    assert!(!scan.torn_tail);
    assert!(scan.footer.is_some());
    let counts: Vec<_> = scan
        .blocks
        .iter()
        .map(|b| (b.spans, b.logs, b.metric_points))
        .collect();
    assert_eq!(counts, vec![(2, 0, 0), (0, 3, 0), (0, 0, 2)]);
    assert_eq!(scan.blocks[0].offset, HEADER_LEN as u64);
    // Sealed before indexes named services: the index names none, and says so.
    let index = scan.sealed_index.as_ref().unwrap();
    assert!(!index.has_services);
    let without_services: Vec<_> = scan
        .blocks
        .iter()
        .map(|block| BlockSummary {
            services: Vec::new(),
            ..block.clone()
        })
        .collect();
    assert_eq!(index.blocks, without_services);
    assert_eq!(read.blocks.len(), 3);

    // Spans: names, ids, times, attributes and source locations.
    let spans = &read.blocks[0];
    let resource = &spans.resources[0];
    assert_eq!(spans.str(resource.attributes[0].key), "service.name");
    assert_eq!(resource.attributes[0].value, text("checkout"));
    assert_eq!(spans.str(spans.scopes[0].name), "checkout::http");
    let root = &spans.spans[0];
    assert_eq!(spans.str(root.name), "POST /checkout");
    assert_eq!(
        join_trace_id(root.trace_id_high, root.trace_id_low),
        hex("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let columns = spans.span_columns();
    assert_eq!(
        columns[0],
        SpanColumns {
            span_id: 0x00f0_67aa_0ba9_02b7,
            parent_span_id: 0,
            start_unix_nano: 1_764_086_401_000_000_000,
            end_unix_nano: 1_764_086_401_012_500_000,
        }
    );
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(
        spans.str(root.attributes[1].key),
        "http.response.status_code"
    );
    assert_eq!(root.attributes[1].value, int(201));
    let source = root.source.unwrap();
    assert_eq!(
        (spans.str(source.file_path), source.line),
        ("src/checkout.rs", 87)
    );
    assert_eq!(spans.str(source.function), "checkout::handle");
    let child = &spans.spans[1];
    assert_eq!(spans.str(child.name), "SELECT orders");
    assert_eq!(columns[1].parent_span_id, columns[0].span_id);
    assert_eq!(child.status_code, StatusCode::Error as i32);
    assert_eq!(child.status_message, "deadlock detected");
    assert_eq!(spans.str(child.events[0].name), "retry");
    assert_eq!(
        columns[1].start_unix_nano + child.events[0].time_offset_nano as u64,
        1_764_086_401_003_000_000
    );
    let source = child.source.unwrap();
    assert_eq!(
        (spans.str(source.file_path), source.line),
        ("src/db.rs", 212)
    );

    // Logs: bodies, severities, trace context.
    let logs = &read.blocks[1];
    let shipped = &logs.logs[0];
    assert_eq!(shipped.body, text("order 42 shipped"));
    assert_eq!(
        (shipped.severity_number, logs.str(shipped.severity_text)),
        (9, "INFO")
    );
    assert_eq!(
        logs.log_times()[0],
        (1_764_086_401_005_000_000, 1_764_086_401_005_100_000)
    );
    assert_eq!(
        join_trace_id(shipped.trace_id_high, shipped.trace_id_low),
        hex("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(shipped.span_id, 0x00f0_67aa_0ba9_02b7);
    let source = shipped.source.unwrap();
    assert_eq!(
        (logs.str(source.file_path), source.line),
        ("src/checkout.rs", 91)
    );
    assert_eq!(
        logs.logs[1].body,
        text("payment declined: insufficient funds")
    );
    assert_eq!(logs.str(logs.logs[1].severity_text), "WARN");
    let structured = &logs.logs[2];
    assert_eq!(logs.str(structured.event_name), "checkout.failed");
    match structured.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::KvlistValue(list)) => {
            assert_eq!(logs.str(list.values[0].key), "event");
            assert_eq!(list.values[0].value, text("cart_empty"));
        }
        other => panic!("structured body is {other:?}"),
    }

    // The metric keeps its verbatim OTLP bytes.
    let metrics = &read.blocks[2];
    let metric = &metrics.metrics[0];
    assert_eq!(metrics.str(metric.name), "checkout.in_flight");
    assert_eq!(metric.data_points, 2);
    let otlp = OtlpMetric::decode(metric.otlp_metric.as_slice()).unwrap();
    assert_eq!(otlp.unit, "{request}");
    let points: Vec<i64> = otlp
        .gauge
        .unwrap()
        .data_points
        .iter()
        .map(|p| p.as_int)
        .collect();
    assert_eq!(points, vec![3, 5]);

    let report = check(&path, |_, _| {}).unwrap();
    assert_eq!(
        (report.segments, report.sealed_segments, report.blocks),
        (1, 1, 3)
    );
    assert_eq!((report.spans, report.logs, report.metric_points), (2, 3, 2));
    assert!(report.damage.is_empty() && report.open_tails.is_empty());
}

#[test]
fn v1_torn_segment_loads_and_recovers() {
    let path = fixture_dir().join(TORN);
    let len = std::fs::metadata(&path).unwrap().len();
    let read = scan_file(&path);
    assert_eq!(read.scan.header.unwrap().sequence, 2);
    assert!(read.scan.torn_tail);
    assert!(read.scan.damage.is_empty());
    assert!(read.scan.footer.is_none());
    assert_eq!(read.scan.valid_len, len - 37);
    assert_eq!(read.blocks.len(), 2);
    let spans = &read.blocks[0];
    assert_eq!(spans.str(spans.spans[1].name), "SELECT orders");
    assert_eq!(read.blocks[1].logs[0].body, text("order 42 shipped"));

    let report = check(&path, |_, _| {}).unwrap();
    assert_eq!(report.open_tails, vec![(path.clone(), 37)]);
    assert_eq!((report.blocks, report.spans, report.logs), (2, 2, 3));
    assert!(report.damage.is_empty());

    // Recovery of a copy seals it with both blocks and cuts exactly the torn bytes.
    let (root, paths) = data_dir_with(&[(&path, "segment-00000002.oseg")]);
    let (writer, recovery) = SessionWriter::open(root.path(), WriterOptions::default()).unwrap();
    drop(writer);
    assert_eq!(recovery.sealed, vec![(paths[0].clone(), 37)]);
    let recovered = scan_file(&paths[0]);
    assert_eq!(recovered.blocks, read.blocks);
    assert_eq!(recovered.scan.footer.unwrap().index_offset, len - 37);
}

#[test]
fn v1_indexed_services_fixture_names_each_blocks_services() {
    let path = fixture_dir().join(INDEXED_SERVICES);
    let read = scan_file(&path);
    assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
    let index = read.scan.sealed_index.as_ref().unwrap();
    assert!(index.has_services);
    let services: Vec<&[String]> = index.blocks.iter().map(|b| &b.services[..]).collect();
    assert_eq!(
        services,
        [
            &["checkout".to_owned()][..],
            &["payments".to_owned(), "unknown_service".to_owned()]
        ]
    );
    // What the index says is what the blocks' resources say.
    assert_eq!(index.blocks, read.scan.blocks);
    assert_eq!(read.blocks, [spans_block(), services_block()]);
}

#[test]
fn v1_fixtures_match_their_generator() {
    // Keeps the generator (the fixtures' documentation) honest about what they hold.
    let generated = tempfile::tempdir().unwrap();
    write_v1(generated.path());
    for name in [SEALED, TORN, LOG_TIME_COLUMNS, MIXED, INDEXED_SERVICES] {
        let checked_in = scan_file(&fixture_dir().join(name));
        let fresh = scan_file(&generated.path().join(name));
        assert_eq!(checked_in.blocks, fresh.blocks, "{name}");
        assert_eq!(checked_in.scan.header, fresh.scan.header, "{name}");
        assert_eq!(checked_in.scan.torn_tail, fresh.scan.torn_tail, "{name}");
        let counts = |r: &crate::common::Read| {
            r.scan
                .blocks
                .iter()
                .map(|b| (b.spans, b.logs, b.metric_points))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&checked_in), counts(&fresh), "{name}");
    }
    let expected = [spans_block(), logs_block(), metric_block()];
    assert_eq!(scan_file(&fixture_dir().join(SEALED)).blocks, expected);
    assert_eq!(
        scan_file(&fixture_dir().join(MIXED)).blocks,
        [mixed_block()]
    );
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
