//! The filter pass against a plain model: whatever the records, the filter and the
//! step sizes, the rows are those a record-by-record check would pick. Text chunks are
//! made tiny so that matches land on every kind of boundary.

use oculus_store::BlockBuilder;
use oculus_store::proto::{AnyValue, KeyValue, LogRecord, Resource, Scope, any_value::Value};
use oculus_viewer::filter::{CompiledFilter, Filter, LogMatches, attributes, step_logs};
use oculus_viewer::model::{BlockLoc, Index, Level};
use oculus_viewer::raw::prepare_raw;
use proptest::prelude::*;
use prost::Message as _;

const WORDS: [&str; 6] = ["alpha", "beta", "Gamma", "delta", "ALPHA beta", "x"];
const KEYS: [&str; 3] = ["k", "key", "kk"];

#[derive(Clone, Debug)]
struct Record {
    words: Vec<usize>,
    severity: i32,
    attributes: Vec<(usize, usize)>,
}

fn record() -> impl Strategy<Value = Record> {
    (
        prop::collection::vec(0..WORDS.len(), 0..4),
        0..25i32,
        prop::collection::vec((0..KEYS.len(), 0..WORDS.len()), 0..3),
    )
        .prop_map(|(words, severity, attributes)| Record {
            words,
            severity,
            attributes,
        })
}

fn message(record: &Record) -> String {
    record
        .words
        .iter()
        .map(|&w| WORDS[w])
        .collect::<Vec<_>>()
        .join(" ")
}

fn string(text: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(text.to_owned())),
    })
}

fn index(blocks: &[Vec<Record>]) -> Index {
    let mut index = Index::with_text_chunk_bytes(256);
    for (number, records) in blocks.iter().enumerate() {
        let mut b = BlockBuilder::new();
        let key = b.intern("service.name");
        let resource = b.add_resource(Resource {
            attributes: vec![KeyValue {
                key,
                value: string("model"),
            }],
            ..Resource::default()
        });
        let scope = b.add_scope(Scope {
            resource,
            ..Scope::default()
        });
        b.set_base_time(1_000);
        for record in records {
            let attributes = record
                .attributes
                .iter()
                .map(|&(k, v)| KeyValue {
                    key: b.intern(KEYS[k]),
                    value: string(WORDS[v]),
                })
                .collect();
            let log = LogRecord {
                scope,
                severity_number: record.severity,
                body: string(&message(record)),
                attributes,
                ..LogRecord::default()
            };
            b.push_log(log, 2_000, 0);
        }
        let loc = BlockLoc {
            segment: 0,
            offset: number as u64,
            frame_bytes: 0,
        };
        let prepared = prepare_raw(&b.finish().encode_to_vec()).unwrap();
        index.add_prepared(&prepared, loc, 0);
    }
    index
}

/// The record-by-record answer.
fn expected(index: &Index, filter: &Filter) -> Vec<u32> {
    let needle = filter.search.to_ascii_lowercase();
    index
        .logs
        .iter()
        .enumerate()
        .filter(|(_, log)| {
            let text = index.log_text.bytes(log.text).to_ascii_lowercase();
            let found = needle.is_empty()
                || text
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes());
            let attributes_match = filter.attributes.split_whitespace().all(|term| {
                let raw = index.log_text.bytes(log.text);
                match term.split_once('=') {
                    Some((key, value)) => {
                        attributes(raw).any(|(k, v)| k == key.as_bytes() && v == value.as_bytes())
                    }
                    None => match term.split_once('~') {
                        Some((key, part)) => attributes(raw).any(|(k, v)| {
                            k == key.as_bytes()
                                && v.to_ascii_lowercase()
                                    .windows(part.len())
                                    .any(|w| w == part.to_ascii_lowercase().as_bytes())
                        }),
                        None => true,
                    },
                }
            });
            found && attributes_match && log.level.effective() >= filter.min_level
        })
        .map(|(i, _)| i as u32)
        .collect()
}

fn filter() -> impl Strategy<Value = Filter> {
    let search = prop_oneof![
        Just(String::new()),
        (0..WORDS.len()).prop_map(|w| WORDS[w].to_owned()),
        Just("ha b".to_owned()),
        Just("A".to_owned()),
        Just("eta".to_owned()),
    ];
    let attributes = prop_oneof![
        Just(String::new()),
        (0..KEYS.len(), 0..WORDS.len()).prop_map(|(k, w)| format!("{}={}", KEYS[k], WORDS[w])),
        (0..KEYS.len()).prop_map(|k| format!("{}~ph", KEYS[k])),
    ];
    let level = prop_oneof![
        Just(Level::Unset),
        Just(Level::Debug),
        Just(Level::Warn),
        Just(Level::Error),
    ];
    (search, attributes, level).prop_map(|(search, attributes, min_level)| Filter {
        search,
        attributes,
        min_level,
        ..Filter::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn filter_steps_agree_with_a_record_by_record_check(
        blocks in prop::collection::vec(prop::collection::vec(record(), 0..12), 1..24),
        filter in filter(),
        step in 1usize..40,
    ) {
        let index = index(&blocks);
        let mut compiled = CompiledFilter::new(&filter);
        let mut matches = LogMatches::default();
        while matches.scanned < index.logs.len() {
            step_logs(&index, &mut compiled, &mut matches, step);
        }
        let rows: Vec<u32> = (0..matches.rows.len()).filter_map(|r| matches.rows.get(r)).collect();
        prop_assert_eq!(rows, expected(&index, &filter));
        // Level counts cover everything but the level threshold.
        let without_level = Filter { min_level: Level::Unset, ..filter.clone() };
        let total: u64 = matches.level_counts.iter().sum();
        prop_assert_eq!(total as usize, expected(&index, &without_level).len());
    }
}
