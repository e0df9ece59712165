//! Preparing blocks from their bytes, the one way into the index, against the oracle
//! that prepares decoded blocks, and the times of mixed blocks against their input.
use oculus_store::BlockBuilder;
use oculus_store::block::{SpanColumns, event_time_offset};
use oculus_store::proto::{
    AnyValue, ArrayValue, Block, Event, KeyValue, KeyValueList, LogRecord, Resource, Scope,
    SourceLocation, Span, any_value::Value,
};
use proptest::prelude::*;
use prost::Message;

use oculus_viewer::raw::prepare_raw;

use crate::oracle::{expected, indexed};

fn value(value: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

/// A block with every kind of value, an empty body, events, trace references
/// and a missing resource.
fn block() -> Block {
    let mut b = BlockBuilder::new();
    let service = b.intern("service.name");
    let pid = b.intern("process.pid");
    let resource = b.add_resource(Resource {
        attributes: vec![
            KeyValue {
                key: service,
                value: value(Value::StringValue("checkout".into())),
            },
            KeyValue {
                key: pid,
                value: value(Value::IntValue(4242)),
            },
        ],
        ..Resource::default()
    });
    let name = b.intern("orders");
    let scope = b.add_scope(Scope {
        resource,
        name,
        ..Scope::default()
    });
    let orphan = b.add_scope(Scope {
        resource: 7,
        ..Scope::default()
    });
    b.set_base_time(1_700_000_000_000_000_000);
    let key = b.intern("k");
    let file = b.intern("src/main.rs");
    let event_name = b.intern("order.placed");
    let all_values = vec![
        value(Value::StringValue("text\nwith a newline".into())),
        value(Value::BoolValue(true)),
        value(Value::IntValue(-42)),
        value(Value::IntValue(i64::MIN)),
        value(Value::IntValue(0)),
        value(Value::DoubleValue(2.5)),
        value(Value::BytesValue(vec![0xde, 0xad])),
        value(Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(Value::IntValue(1)),
            }],
        })),
        value(Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key,
                value: value(Value::BoolValue(false)),
            }],
        })),
        Some(AnyValue { value: None }),
        None,
    ];
    for (i, body) in all_values.iter().enumerate() {
        let log = LogRecord {
            scope: if i % 2 == 0 { scope } else { orphan },
            severity_number: i as i32 * 3,
            body: body.clone(),
            event_name: if i >= 9 { event_name } else { 0 },
            attributes: all_values
                .iter()
                .map(|v| KeyValue {
                    key,
                    value: v.clone(),
                })
                .collect(),
            trace_id_high: i as u64,
            trace_id_low: 3,
            span_id: 9,
            source: Some(SourceLocation {
                file_path: file,
                line: 10 + i as u32,
                function: 0,
            }),
            ..LogRecord::default()
        };
        // The last record has only an observed time, as some log bridges send.
        let (time, observed) = if i + 1 == all_values.len() {
            (0, 1_700_000_000_000_000_099)
        } else {
            (1_700_000_000_000_000_000 + i as u64 * 7, 0)
        };
        b.push_log(log, time, observed);
    }
    for i in 0..4u64 {
        b.push_span(
            Span {
                scope,
                trace_id_high: 1,
                trace_id_low: i % 2,
                name,
                kind: 2,
                status_code: (i % 3) as i32,
                events: vec![Event {
                    time_offset_nano: 5,
                    name: event_name,
                    attributes: vec![KeyValue {
                        key,
                        value: value(Value::IntValue(i as i64)),
                    }],
                    ..Event::default()
                }],
                attributes: all_values[..3]
                    .iter()
                    .map(|v| KeyValue {
                        key,
                        value: v.clone(),
                    })
                    .collect(),
                ..Span::default()
            },
            SpanColumns {
                span_id: 100 + i,
                parent_span_id: if i == 0 { 0 } else { 100 },
                start_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
                end_unix_nano: 1_700_000_000_000_000_000 + i * 2000 + 500,
            },
        );
    }
    b.finish()
}

#[test]
fn both_paths_prepare_the_same() {
    let block = block();
    let raw = block.encode_to_vec();
    assert_eq!(
        indexed(&prepare_raw(&raw).expect("a valid block")),
        expected(&block)
    );
}

/// The same block as blocks were written before the log time columns: each
/// record holding its own offsets.
fn with_times_in_records(mut block: Block) -> Block {
    let columns = block.log_time_columns().expect("times in columns");
    let offsets: Vec<_> = block
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| columns.offsets(i, log.absent_times))
        .collect();
    for (log, offsets) in block.logs.iter_mut().zip(offsets) {
        (log.time_offset_nano, log.observed_time_offset_nano) = offsets;
        log.absent_times = 0;
    }
    block.log_time_offsets.clear();
    block.log_observed_offsets.clear();
    block
}

#[test]
fn blocks_with_times_in_records_prepare_the_same() {
    let columns = block();
    assert!(columns.log_time_columns().is_some());
    let records = with_times_in_records(columns.clone());
    assert!(records.log_time_columns().is_none());
    assert_eq!(records.log_times(), columns.log_times());
    let from_columns = prepare_raw(&columns.encode_to_vec()).expect("a valid block");
    let from_records = prepare_raw(&records.encode_to_vec()).expect("a valid block");
    assert_eq!(from_records, from_columns);
    assert_eq!(expected(&records), indexed(&from_columns));
    let times: Vec<u64> = indexed(&from_columns).logs.iter().map(|l| l.time).collect();
    assert_eq!(
        times[..2],
        [1_700_000_000_000_000_000, 1_700_000_000_000_000_007]
    );
    // No event time: the observed time stands in.
    assert_eq!(times.last(), Some(&1_700_000_000_000_000_099));
}

#[test]
fn the_stores_mixed_block_fixture_is_indexed_with_exact_times() {
    // The store's checked-in block of spans, logs and a metric in turn, read as a load does.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/fixtures/v1/mixed-block.oseg");
    let data = oculus_store::read_segment(&path).unwrap();
    let mut shown = Vec::new();
    oculus_store::SegmentBytes::new(&path, &data).scan_raw(|item| match item {
        oculus_store::RawItem::Block(raw) => {
            shown.push(indexed(&prepare_raw(raw.raw).expect("a valid block")));
        }
        oculus_store::RawItem::Corrupt(corruption) => panic!("{corruption}"),
    });
    let [shown] = shown.as_slice() else {
        panic!("one block expected, got {}", shown.len());
    };
    let logs: Vec<_> = shown.logs.iter().map(|l| l.time).collect();
    // The last record has no event time: its observed time stands in.
    assert_eq!(
        logs,
        [
            1_764_086_401_030_000_000,
            1_764_086_401_033_000_000,
            1_764_086_401_037_000_000
        ]
    );
    let spans: Vec<_> = shown
        .spans
        .iter()
        .map(|s| (s.time, s.end, s.events.clone()))
        .collect();
    assert_eq!(
        spans,
        [
            (
                1_764_086_401_031_000_000,
                1_764_086_401_039_000_000,
                vec![1_764_086_401_032_000_000]
            ),
            (1_764_086_401_034_000_000, 1_764_086_401_036_000_000, vec![]),
        ]
    );
    assert_eq!(shown.metric_points, 2);
}

#[test]
fn a_resource_is_held_once_however_many_records_it_has() {
    use oculus_viewer::model::{BlockLoc, Index};
    // The fixture's block, with its resource's attributes and without them.
    let held = |block: &Block| {
        let prepared = prepare_raw(&block.encode_to_vec()).unwrap();
        let mut index = Index::default();
        for number in 0..2_000 {
            let loc = BlockLoc {
                segment: 0,
                offset: number,
                frame_bytes: 0,
            };
            index.add_prepared(&prepared, loc, 0);
        }
        index
    };
    let with = held(&block());
    let mut bare = block();
    bare.resources[0].attributes.clear();
    let without = held(&bare);
    // One text for the one resource (and the empty one for none), whatever the records.
    assert_eq!(with.resources.len(), 2);
    assert!(with.logs.len() >= 2_000);
    assert_eq!(with.origins.len(), without.origins.len());
    let extra = with.overhead_bytes() - without.overhead_bytes();
    assert!(
        extra < 1024,
        "{extra} bytes more for {} records",
        with.logs.len() + with.spans.len()
    );
}

#[test]
fn damaged_bytes_are_an_error_not_a_panic() {
    let raw = block().encode_to_vec();
    for cut in [1, raw.len() / 3, raw.len() / 2, raw.len() - 1] {
        // A cut may land between fields and still parse; it must never panic.
        let _ = prepare_raw(&raw[..cut]);
    }
    let mut flipped = raw.clone();
    for i in (0..flipped.len()).step_by(7) {
        flipped[i] ^= 0x5a;
        let _ = prepare_raw(&flipped);
    }
}

/// A record of a block that mixes spans and logs, with the times it must show.
#[derive(Clone, Debug)]
enum Timed {
    Span {
        start: u64,
        end: u64,
        event: u64,
    },
    /// 0 is an absent time, as in OTLP.
    Log {
        time: u64,
        observed: u64,
    },
}

/// Times near a base on either side, absent, anywhere, and at the top of the range.
fn time() -> impl Strategy<Value = u64> {
    const BASE: u64 = 1_700_000_000_000_000_000;
    prop_oneof![
        6 => (-5_000_000_000i64..5_000_000_000).prop_map(|delta| BASE.wrapping_add_signed(delta)),
        2 => Just(0),
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

fn timed() -> impl Strategy<Value = Timed> {
    prop_oneof![
        (time(), time(), time()).prop_map(|(start, end, event)| Timed::Span { start, end, event }),
        (time(), time()).prop_map(|(time, observed)| Timed::Log { time, observed }),
    ]
}

proptest! {
    #[test]
    fn mixed_blocks_show_the_times_they_were_built_with(
        base_time in prop::option::of(time()),
        records in prop::collection::vec(timed(), 0..24),
    ) {
        let mut b = BlockBuilder::new();
        if let Some(base_time) = base_time {
            b.set_base_time(base_time);
        }
        let name = b.intern("mixed");
        let (mut spans, mut logs) = (Vec::new(), Vec::new());
        for (i, record) in records.iter().enumerate() {
            match *record {
                Timed::Span { start, end, event } => {
                    let span = Span {
                        name,
                        trace_id_low: i as u64 % 3 + 1,
                        events: vec![Event {
                            time_offset_nano: event_time_offset(start, event),
                            name,
                            ..Event::default()
                        }],
                        ..Span::default()
                    };
                    let columns = SpanColumns {
                        span_id: i as u64 + 1,
                        parent_span_id: 0,
                        start_unix_nano: start,
                        end_unix_nano: end,
                    };
                    b.push_span(span, columns);
                    spans.push((start, end, vec![event]));
                }
                Timed::Log { time, observed } => {
                    b.push_log(LogRecord::default(), time, observed);
                    // The index shows the observed time of a record without an event time.
                    logs.push(if time != 0 { time } else { observed });
                }
            }
        }
        let block = b.finish();
        let shown = indexed(&prepare_raw(&block.encode_to_vec()).expect("a valid block"));
        let shown_spans: Vec<_> = shown
            .spans
            .iter()
            .map(|s| (s.time, s.end, s.events.clone()))
            .collect();
        prop_assert_eq!(shown_spans, spans);
        let shown_logs: Vec<_> = shown.logs.iter().map(|l| l.time).collect();
        prop_assert_eq!(shown_logs, logs);
        prop_assert_eq!(shown, expected(&block));
    }
}
