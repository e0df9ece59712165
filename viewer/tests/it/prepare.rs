//! Preparing blocks from their bytes, the one way into the index, against the oracle
//! that prepares decoded blocks.
use oculus_store::BlockBuilder;
use oculus_store::block::SpanColumns;
use oculus_store::proto::{
    AnyValue, ArrayValue, Block, Event, KeyValue, KeyValueList, LogRecord, Resource, Scope,
    SourceLocation, Span, any_value::Value,
};
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
    let resource = b.add_resource(Resource {
        attributes: vec![KeyValue {
            key: service,
            value: value(Value::StringValue("checkout".into())),
        }],
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
