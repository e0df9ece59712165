//! The transcoder (protobuf straight to a block) and the struct path (decode, then
//! normalize) must store the same thing for any request.

use oculus_collector::{normalize, transcode};
use oculus_otlp::export;
use oculus_store::proto::Block;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use prost::Message;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("code.file.path".to_owned()),
        Just("code.filepath".to_owned()),
        Just("code.line.number".to_owned()),
        Just("code.lineno".to_owned()),
        Just("code.function.name".to_owned()),
        Just("code.function".to_owned()),
        Just("code.namespace".to_owned()),
        Just("code.module.name".to_owned()),
        Just("http.route".to_owned()),
        Just("service.name".to_owned()),
        "[a-z.]{0,12}",
        "\\PC{0,6}",
    ]
}

fn scalar() -> impl Strategy<Value = any_value::Value> {
    prop_oneof![
        "\\PC{0,12}".prop_map(any_value::Value::StringValue),
        "[0-9]{1,4}".prop_map(any_value::Value::StringValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        any::<i64>().prop_map(any_value::Value::IntValue),
        (-5i64..5000).prop_map(any_value::Value::IntValue),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(any_value::Value::DoubleValue),
        vec(any::<u8>(), 0..6).prop_map(any_value::Value::BytesValue),
        any::<i32>().prop_map(any_value::Value::StringValueStrindex),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = option::of(scalar()).prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
            }),
            vec((key(), option::of(inner)), 0..3).prop_map(|pairs| AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value,
                            ..KeyValue::default()
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec((key(), option::of(any_value()), 0i32..2), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value, key_strindex)| KeyValue {
                key,
                value,
                key_strindex,
            })
            .collect()
    })
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), len..=len),
        1 => Just(Vec::new()),
        1 => Just(vec![0; len]),
        1 => vec(any::<u8>(), 1..20),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1_700_000_000_000_000_000u64..1_700_000_100_000_000_000,
        any::<u64>()
    ]
}

fn span() -> impl Strategy<Value = Span> {
    let ids = (
        id(16),
        id(8),
        prop_oneof![Just(Vec::new()), id(8)],
        "[a-z=,]{0,8}",
        any::<u32>(),
    );
    let body = (
        "\\PC{0,10}",
        -1i32..7,
        time(),
        time(),
        attributes(),
        any::<u32>(),
    );
    let events = vec((time(), "[a-z]{0,6}", attributes(), any::<u32>()), 0..3);
    let links = vec(
        (
            id(16),
            id(8),
            "[a-z=]{0,4}",
            attributes(),
            any::<u32>(),
            any::<u32>(),
        ),
        0..2,
    );
    let status = option::of(("\\PC{0,6}", -1i32..3));
    (ids, body, events, links, status, any::<u32>(), any::<u32>()).prop_map(
        |(ids, body, events, links, status, dropped_events, dropped_links)| Span {
            trace_id: ids.0,
            span_id: ids.1,
            parent_span_id: ids.2,
            trace_state: ids.3,
            flags: ids.4,
            name: body.0,
            kind: body.1,
            start_time_unix_nano: body.2,
            end_time_unix_nano: body.3,
            attributes: body.4,
            dropped_attributes_count: body.5,
            events: events
                .into_iter()
                .map(
                    |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
                        time_unix_nano,
                        name,
                        attributes,
                        dropped_attributes_count,
                    },
                )
                .collect(),
            dropped_events_count: dropped_events,
            links: links
                .into_iter()
                .map(
                    |(
                        trace_id,
                        span_id,
                        trace_state,
                        attributes,
                        dropped_attributes_count,
                        flags,
                    )| Link {
                        trace_id,
                        span_id,
                        trace_state,
                        attributes,
                        dropped_attributes_count,
                        flags,
                    },
                )
                .collect(),
            dropped_links_count: dropped_links,
            status: status.map(|(message, code)| Status { message, code }),
        },
    )
}

fn entity_ref() -> impl Strategy<Value = EntityRef> {
    (
        "[a-z:/.]{0,6}",
        "[a-z]{0,6}",
        vec("[a-z.]{0,6}", 0..3),
        vec("[a-z.]{0,6}", 0..2),
    )
        .prop_map(
            |(schema_url, r#type, id_keys, description_keys)| EntityRef {
                schema_url,
                r#type,
                id_keys,
                description_keys,
            },
        )
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    option::of(
        (attributes(), any::<u32>(), vec(entity_ref(), 0..3)).prop_map(
            |(attributes, dropped_attributes_count, entity_refs)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs,
            },
        ),
    )
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::of(
        ("[a-z]{0,6}", "[0-9.]{0,4}", attributes(), any::<u32>()).prop_map(
            |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            },
        ),
    )
}

pub fn traces_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope_spans =
        (scope(), vec(span(), 0..5), "[a-z:/.]{0,8}").prop_map(|(scope, spans, schema_url)| {
            ScopeSpans {
                scope,
                spans,
                schema_url,
            }
        });
    let resource_spans = (resource(), vec(scope_spans, 0..3), "[a-z:/.]{0,8}").prop_map(
        |(resource, scope_spans, schema_url)| ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        },
    );
    vec(resource_spans, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

fn log() -> impl Strategy<Value = LogRecord> {
    let times = (
        time(),
        time(),
        -2i32..25,
        "[A-Z]{0,5}",
        option::of(any_value()),
    );
    let rest = (
        attributes(),
        any::<u32>(),
        any::<u32>(),
        prop_oneof![Just(Vec::new()), id(16)],
        prop_oneof![Just(Vec::new()), id(8)],
        "[a-z.]{0,6}",
    );
    (times, rest).prop_map(|(times, rest)| LogRecord {
        time_unix_nano: times.0,
        observed_time_unix_nano: times.1,
        severity_number: times.2,
        severity_text: times.3,
        body: times.4,
        attributes: rest.0,
        dropped_attributes_count: rest.1,
        flags: rest.2,
        trace_id: rest.3,
        span_id: rest.4,
        event_name: rest.5,
    })
}

pub fn logs_request() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope_logs = (scope(), vec(log(), 0..5), "[a-z:/.]{0,8}").prop_map(
        |(scope, log_records, schema_url)| ScopeLogs {
            scope,
            log_records,
            schema_url,
        },
    );
    let resource_logs = (resource(), vec(scope_logs, 0..3), "[a-z:/.]{0,8}").prop_map(
        |(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        },
    );
    vec(resource_logs, 0..3).prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

/// Source locations, resolved to text, in record order.
fn sources(block: &Block) -> Vec<Option<(String, u32, String)>> {
    let resolve = |source: Option<oculus_store::proto::SourceLocation>| {
        source.map(|s| {
            (
                block.str(s.file_path).to_owned(),
                s.line,
                block.str(s.function).to_owned(),
            )
        })
    };
    block
        .spans
        .iter()
        .map(|s| resolve(s.source))
        .chain(block.logs.iter().map(|l| resolve(l.source)))
        .collect()
}

fn check_same(
    normalized: normalize::Normalized,
    transcoded: transcode::Transcoded,
) -> Result<Block, TestCaseError> {
    let stored =
        Block::decode(transcoded.raw.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let expected = normalized.block;
    prop_assert_eq!(transcoded.rejected, normalized.rejected);
    prop_assert_eq!(&transcoded.reject_reason, &normalized.reject_reason);
    prop_assert_eq!(export::traces(&stored), export::traces(&expected));
    prop_assert_eq!(export::logs(&stored), export::logs(&expected));
    prop_assert_eq!(sources(&stored), sources(&expected));
    let summary = oculus_store::block::summarize(&expected);
    prop_assert_eq!(
        (
            transcoded.summary.spans,
            transcoded.summary.logs,
            transcoded.summary.min_time_unix_nano,
            transcoded.summary.max_time_unix_nano
        ),
        (
            summary.spans,
            summary.logs,
            summary.min_time_unix_nano,
            summary.max_time_unix_nano
        )
    );
    // The index's services: what a reader finds in the stored block's resources.
    prop_assert_eq!(&transcoded.summary.services, &summary.services);
    prop_assert_eq!(
        &transcoded.summary.services,
        &oculus_store::block::summarize(&stored).services
    );
    prop_assert_eq!(
        transcoded.is_empty,
        expected.resources.is_empty() && expected.record_count() == 0
    );
    Ok(stored)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn traces_transcode_like_decode_and_normalize(request in traces_request()) {
        let bytes = request.encode_to_vec();
        let transcoded = transcode::traces(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_same(normalize::traces(decoded), transcoded)?;
    }

    #[test]
    fn logs_transcode_like_decode_and_normalize(request in logs_request()) {
        let bytes = request.encode_to_vec();
        let transcoded = transcode::logs(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded = ExportLogsServiceRequest::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_same(normalize::logs(decoded), transcoded)?;
    }

    /// Damaged input is an error or a valid block, never a panic or a block that
    /// does not decode; and whatever prost accepts, the transcoder accepts too.
    #[test]
    fn damaged_requests_never_produce_unreadable_blocks(
        request in traces_request(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = request.encode_to_vec();
        if bytes.is_empty() {
            return Ok(());
        }
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let prost_accepts = ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok();
        match transcode::traces(&bytes) {
            Ok(transcoded) => {
                prop_assert!(Block::decode(transcoded.raw.as_slice()).is_ok());
            }
            Err(error) => prop_assert!(!prost_accepts, "prost accepts what the transcoder refused: {}", error),
        }
    }
}

/// An unknown field sent as a group (proto2's deprecated nesting) is skipped, as prost
/// skips it, anywhere in a request (found by fuzzing, FUZZING.md: the transcoder
/// refused such requests, which prost decodes).
#[test]
fn unknown_groups_are_skipped_as_prost_skips_them() {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "grouped".into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let plain = request.encode_to_vec();
    // Field 99, a group holding a varint and a nested group of field 5.
    let group = [0x9b, 0x06, 0x08, 0x01, 0x2b, 0x2c, 0x9c, 0x06];
    let mut grouped = group.to_vec();
    grouped.extend_from_slice(&plain);
    grouped.extend_from_slice(&group);
    let decoded =
        ExportTraceServiceRequest::decode(grouped.as_slice()).expect("prost skips groups");
    assert_eq!(decoded, request);
    let transcoded = transcode::traces(&grouped).expect("the transcoder skips groups too");
    assert_eq!(
        transcoded.raw,
        transcode::traces(&plain).expect("plain").raw
    );
    let unended = [plain.as_slice(), &group[..6]].concat();
    assert!(ExportTraceServiceRequest::decode(unended.as_slice()).is_err());
    assert!(transcode::traces(&unended).is_err());
}

/// The transcoder copies a scalar AnyValue's bytes, and a nested one's scalars under
/// their OTLP field numbers, into the block: the store's AnyValue must number its
/// fields as OTLP's does, or every copied value would read back as something else.
#[test]
fn otlp_and_block_any_values_share_their_wire_form() {
    use oculus_store::proto::any_value::Value as Stored;
    let cases = [
        (
            any_value::Value::StringValue("text".into()),
            Stored::StringValue("text".into()),
        ),
        (any_value::Value::BoolValue(true), Stored::BoolValue(true)),
        (any_value::Value::IntValue(-7), Stored::IntValue(-7)),
        (any_value::Value::DoubleValue(2.5), Stored::DoubleValue(2.5)),
        (
            any_value::Value::BytesValue(vec![0, 1, 255]),
            Stored::BytesValue(vec![0, 1, 255]),
        ),
    ];
    for (otlp, stored) in cases {
        let otlp = AnyValue { value: Some(otlp) }.encode_to_vec();
        let stored = oculus_store::proto::AnyValue {
            value: Some(stored),
        }
        .encode_to_vec();
        assert_eq!(otlp, stored);
    }
}
