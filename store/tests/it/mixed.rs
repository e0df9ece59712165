//! Blocks that mix spans, log records and metric points read back the times they were
//! built with, in any order and with either log time absent. The oracle is the input.

use proptest::prelude::*;

use oculus_store::BlockBuilder;
use oculus_store::block::{SpanColumns, event_time_offset};
use oculus_store::frame::SegmentHeader;
use oculus_store::proto::{Block, BlockSummary, Event, LogRecord, Metric, Span};
use oculus_store::segment::{FsyncPolicy, SegmentWriter};

use crate::common::{BASE_TIME_UNIX_NANO, encode, scan_file};

/// One record given to the builder, with the times it must read back.
#[derive(Clone, Debug)]
enum Input {
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
    Metric {
        points: u32,
    },
}

/// A block's base time (`None`: never set, so 0) and its records in the order pushed.
#[derive(Clone, Debug)]
struct BlockInput {
    base_time: Option<u64>,
    records: Vec<Input>,
}

/// Times near the fixed base on either side, absent, anywhere, and at the top of the range.
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => (-5_000_000_000i64..5_000_000_000)
            .prop_map(|delta| BASE_TIME_UNIX_NANO.wrapping_add_signed(delta)),
        2 => Just(0),
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        3 => (time(), time(), time())
            .prop_map(|(start, end, event)| Input::Span { start, end, event }),
        3 => (time(), time()).prop_map(|(time, observed)| Input::Log { time, observed }),
        1 => (0u32..5).prop_map(|points| Input::Metric { points }),
    ]
}

fn block_input() -> impl Strategy<Value = BlockInput> {
    (
        prop::option::of(time()),
        prop::collection::vec(input(), 0..24),
    )
        .prop_map(|(base_time, records)| BlockInput { base_time, records })
}

/// The block the public builder makes of `input`.
fn build(input: &BlockInput) -> Block {
    let mut builder = BlockBuilder::new();
    if let Some(base_time) = input.base_time {
        builder.set_base_time(base_time);
    }
    let name = builder.intern("mixed");
    for (i, record) in input.records.iter().enumerate() {
        match *record {
            Input::Span { start, end, event } => {
                let span = Span {
                    name,
                    trace_id_low: i as u64 % 3,
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
                builder.push_span(span, columns);
            }
            Input::Log { time, observed } => builder.push_log(LogRecord::default(), time, observed),
            Input::Metric { points } => builder.block_mut().metrics.push(Metric {
                name,
                data_points: points,
                ..Metric::default()
            }),
        }
    }
    builder.finish()
}

/// Holds what was read back of one block, and its summary, to `input`.
fn check(input: &BlockInput, block: &Block, summary: &BlockSummary) -> Result<(), TestCaseError> {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let mut points = 0;
    let (mut min, mut max) = (u64::MAX, 0);
    let mut see = |time: u64| {
        if time != 0 {
            min = min.min(time);
            max = max.max(time);
        }
    };
    for record in &input.records {
        match *record {
            Input::Span { start, end, event } => {
                spans.push((start, end, event));
                see(start);
                see(end);
            }
            Input::Log { time, observed } => {
                logs.push((time, observed));
                see(if time != 0 { time } else { observed });
            }
            Input::Metric { points: p } => points += p,
        }
    }
    let read_spans: Vec<_> = block
        .span_columns()
        .iter()
        .zip(&block.spans)
        .map(|(columns, span)| {
            let start = columns.start_unix_nano;
            let event = start.wrapping_add(span.events[0].time_offset_nano as u64);
            (start, columns.end_unix_nano, event)
        })
        .collect();
    prop_assert_eq!(read_spans, spans);
    prop_assert_eq!(block.log_times(), logs);
    prop_assert_eq!(
        (summary.spans, summary.logs, summary.metric_points),
        (block.spans.len() as u32, block.logs.len() as u32, points)
    );
    // A block without a time has the range (0, 0).
    let range = if max == 0 { (0, 0) } else { (min, max) };
    prop_assert_eq!(
        (summary.min_time_unix_nano, summary.max_time_unix_nano),
        range
    );
    Ok(())
}

proptest! {
    #[test]
    fn mixed_blocks_read_back_the_times_they_were_built_with(
        inputs in prop::collection::vec(block_input(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment-00000001.oseg");
        let header = SegmentHeader {
            sequence: 1,
            created_unix_nano: BASE_TIME_UNIX_NANO,
        };
        let mut writer = SegmentWriter::create(&path, header, FsyncPolicy::Never).unwrap();
        let encoded: Vec<_> = inputs.iter().map(|input| encode(&build(input))).collect();
        writer.append(&encoded).unwrap();
        writer.seal().unwrap();

        let read = scan_file(&path);
        prop_assert!(read.scan.damage.is_empty(), "{:?}", read.scan.damage);
        prop_assert_eq!(read.blocks.len(), inputs.len());
        prop_assert_eq!(&read.scan.sealed_index.as_ref().unwrap().blocks, &read.scan.blocks);
        for ((input, block), summary) in inputs.iter().zip(&read.blocks).zip(&read.scan.blocks) {
            check(input, block, summary)?;
        }
    }
}
