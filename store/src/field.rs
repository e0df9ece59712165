//! The field numbers of the schema, `proto/oculus/segment/v1/segment.proto`, for the
//! code that reads or writes blocks as protobuf bytes rather than through [`crate::proto`].
//!
//! `build.rs` derives them from the schema's descriptors: one module per message, named
//! as prost names the message's own module (`field::any_value`), one `u32` constant per
//! field, named after the field (`field::any_value::STRING_VALUE`).

include!(concat!(env!("OUT_DIR"), "/oculus.segment.v1.fields.rs"));

/// What tests of field numbers share: a value prost encodes even when it is the only one
/// set, and the number of the only field of an encoding. The store's tests use it, and
/// the collector's through the `test-support` feature.
#[cfg(any(test, feature = "test-support"))]
pub mod testing {
    use prost::Message;

    use crate::wire::Reader;

    /// A value prost encodes even alone: not the field type's default.
    pub trait Set {
        fn set() -> Self;
    }

    impl Set for u32 {
        fn set() -> Self {
            1
        }
    }

    impl Set for u64 {
        fn set() -> Self {
            1
        }
    }

    impl Set for i32 {
        fn set() -> Self {
            1
        }
    }

    impl Set for i64 {
        fn set() -> Self {
            1
        }
    }

    impl Set for bool {
        fn set() -> Self {
            true
        }
    }

    impl Set for String {
        fn set() -> Self {
            "x".to_owned()
        }
    }

    // A repeated field with one entry, or `bytes` with one byte.
    impl<T: Default> Set for Vec<T> {
        fn set() -> Self {
            vec![T::default()]
        }
    }

    // A message field, or an `optional` scalar, present.
    impl<T: Default> Set for Option<T> {
        fn set() -> Self {
            Some(T::default())
        }
    }

    /// The field number of the only field in `message`'s encoding.
    #[track_caller]
    pub fn only_tag(message: &impl Message) -> u32 {
        let raw = message.encode_to_vec();
        let mut reader = Reader::new(&raw);
        let (number, wire) = reader.field().expect("valid").expect("one field");
        reader.skip(wire).expect("valid");
        assert_eq!(reader.field(), Ok(None), "one field only");
        number
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::{DescriptorProto, FileDescriptorSet};

    use super::MESSAGES;
    use super::testing::{Set, only_tag};
    use crate::field;
    use crate::proto::any_value::Value;
    use crate::proto::{
        AnyValue, ArrayValue, Block, BlockSummary, Event, KeyValue, KeyValueList, Link, LogRecord,
        Metric, Resource, Scope, SegmentIndex, SourceLocation, Span,
    };

    /// The schema as `build.rs` compiled it.
    const DESCRIPTORS: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/oculus.segment.v1.descriptors"));

    /// Each message's full name with its fields' names and numbers, nested ones too.
    fn schema_fields(
        message: &DescriptorProto,
        scope: &str,
        out: &mut Vec<(String, Vec<(String, u32)>)>,
    ) {
        let name = format!("{scope}.{}", message.name());
        let fields = message
            .field
            .iter()
            .map(|f| {
                (
                    f.name().to_owned(),
                    u32::try_from(f.number()).expect("positive"),
                )
            })
            .collect();
        out.push((name.clone(), fields));
        for nested in &message.nested_type {
            if !nested.options.as_ref().is_some_and(|o| o.map_entry()) {
                schema_fields(nested, &name, out);
            }
        }
    }

    #[test]
    fn every_field_of_the_schema_has_its_number() {
        let descriptors = FileDescriptorSet::decode(DESCRIPTORS).expect("the compiled schema");
        let mut schema = Vec::new();
        for file in &descriptors.file {
            for message in &file.message_type {
                schema_fields(message, file.package(), &mut schema);
            }
        }
        let generated: Vec<(String, Vec<(String, u32)>)> = MESSAGES
            .iter()
            .map(|(message, fields)| {
                let fields = fields.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect();
                ((*message).to_owned(), fields)
            })
            .collect();
        assert!(schema.iter().any(|(m, _)| m == "oculus.segment.v1.Block"));
        assert_eq!(generated, schema);
    }

    /// `Message.field => CONSTANT`: the message with only that field set, the number
    /// prost put it at, and the constant.
    macro_rules! case {
        ($message:ident . $field:ident => $constant:expr) => {
            (
                concat!(stringify!($message), ".", stringify!($field)),
                only_tag(&$message {
                    $field: Set::set(),
                    ..$message::default()
                }),
                $constant,
            )
        };
    }

    fn any_value(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    #[expect(
        clippy::needless_update,
        reason = "one case macro for every message, those of a single field too"
    )]
    fn prost_puts_every_field_at_its_constant() {
        let cases = [
            case!(Block.strings => field::block::STRINGS),
            case!(Block.resources => field::block::RESOURCES),
            case!(Block.scopes => field::block::SCOPES),
            case!(Block.spans => field::block::SPANS),
            case!(Block.logs => field::block::LOGS),
            case!(Block.metrics => field::block::METRICS),
            case!(Block.base_time_unix_nano => field::block::BASE_TIME_UNIX_NANO),
            case!(Block.span_ids => field::block::SPAN_IDS),
            case!(Block.parent_span_ids => field::block::PARENT_SPAN_IDS),
            case!(Block.span_start_offsets => field::block::SPAN_START_OFFSETS),
            case!(Block.span_durations => field::block::SPAN_DURATIONS),
            case!(Block.log_time_offsets => field::block::LOG_TIME_OFFSETS),
            case!(Block.log_observed_offsets => field::block::LOG_OBSERVED_OFFSETS),
            case!(Resource.attributes => field::resource::ATTRIBUTES),
            case!(Resource.dropped_attributes_count => field::resource::DROPPED_ATTRIBUTES_COUNT),
            case!(Resource.schema_url => field::resource::SCHEMA_URL),
            case!(Resource.entity_refs => field::resource::ENTITY_REFS),
            case!(Scope.resource => field::scope::RESOURCE),
            case!(Scope.name => field::scope::NAME),
            case!(Scope.version => field::scope::VERSION),
            case!(Scope.attributes => field::scope::ATTRIBUTES),
            case!(Scope.dropped_attributes_count => field::scope::DROPPED_ATTRIBUTES_COUNT),
            case!(Scope.schema_url => field::scope::SCHEMA_URL),
            case!(KeyValue.key => field::key_value::KEY),
            case!(KeyValue.value => field::key_value::VALUE),
            (
                "AnyValue.string_value",
                only_tag(&any_value(Value::StringValue(String::new()))),
                field::any_value::STRING_VALUE,
            ),
            (
                "AnyValue.bool_value",
                only_tag(&any_value(Value::BoolValue(false))),
                field::any_value::BOOL_VALUE,
            ),
            (
                "AnyValue.int_value",
                only_tag(&any_value(Value::IntValue(0))),
                field::any_value::INT_VALUE,
            ),
            (
                "AnyValue.double_value",
                only_tag(&any_value(Value::DoubleValue(0.0))),
                field::any_value::DOUBLE_VALUE,
            ),
            (
                "AnyValue.array_value",
                only_tag(&any_value(Value::ArrayValue(ArrayValue::default()))),
                field::any_value::ARRAY_VALUE,
            ),
            (
                "AnyValue.kvlist_value",
                only_tag(&any_value(Value::KvlistValue(KeyValueList::default()))),
                field::any_value::KVLIST_VALUE,
            ),
            (
                "AnyValue.bytes_value",
                only_tag(&any_value(Value::BytesValue(Vec::new()))),
                field::any_value::BYTES_VALUE,
            ),
            case!(ArrayValue.values => field::array_value::VALUES),
            case!(KeyValueList.values => field::key_value_list::VALUES),
            case!(SourceLocation.file_path => field::source_location::FILE_PATH),
            case!(SourceLocation.line => field::source_location::LINE),
            case!(SourceLocation.function => field::source_location::FUNCTION),
            case!(Span.scope => field::span::SCOPE),
            case!(Span.trace_id_high => field::span::TRACE_ID_HIGH),
            case!(Span.trace_id_low => field::span::TRACE_ID_LOW),
            case!(Span.trace_state => field::span::TRACE_STATE),
            case!(Span.flags => field::span::FLAGS),
            case!(Span.name => field::span::NAME),
            case!(Span.kind => field::span::KIND),
            case!(Span.attributes => field::span::ATTRIBUTES),
            case!(Span.dropped_attributes_count => field::span::DROPPED_ATTRIBUTES_COUNT),
            case!(Span.events => field::span::EVENTS),
            case!(Span.dropped_events_count => field::span::DROPPED_EVENTS_COUNT),
            case!(Span.links => field::span::LINKS),
            case!(Span.dropped_links_count => field::span::DROPPED_LINKS_COUNT),
            case!(Span.status_code => field::span::STATUS_CODE),
            case!(Span.status_message => field::span::STATUS_MESSAGE),
            case!(Span.source => field::span::SOURCE),
            case!(Span.trace_ref => field::span::TRACE_REF),
            case!(Event.time_offset_nano => field::event::TIME_OFFSET_NANO),
            case!(Event.name => field::event::NAME),
            case!(Event.attributes => field::event::ATTRIBUTES),
            case!(Event.dropped_attributes_count => field::event::DROPPED_ATTRIBUTES_COUNT),
            case!(Link.trace_id_high => field::link::TRACE_ID_HIGH),
            case!(Link.trace_id_low => field::link::TRACE_ID_LOW),
            case!(Link.span_id => field::link::SPAN_ID),
            case!(Link.trace_state => field::link::TRACE_STATE),
            case!(Link.attributes => field::link::ATTRIBUTES),
            case!(Link.dropped_attributes_count => field::link::DROPPED_ATTRIBUTES_COUNT),
            case!(Link.flags => field::link::FLAGS),
            case!(LogRecord.scope => field::log_record::SCOPE),
            case!(LogRecord.time_offset_nano => field::log_record::TIME_OFFSET_NANO),
            case!(LogRecord.observed_time_offset_nano => field::log_record::OBSERVED_TIME_OFFSET_NANO),
            case!(LogRecord.severity_number => field::log_record::SEVERITY_NUMBER),
            case!(LogRecord.severity_text => field::log_record::SEVERITY_TEXT),
            case!(LogRecord.body => field::log_record::BODY),
            case!(LogRecord.attributes => field::log_record::ATTRIBUTES),
            case!(LogRecord.dropped_attributes_count => field::log_record::DROPPED_ATTRIBUTES_COUNT),
            case!(LogRecord.flags => field::log_record::FLAGS),
            case!(LogRecord.trace_id_high => field::log_record::TRACE_ID_HIGH),
            case!(LogRecord.trace_id_low => field::log_record::TRACE_ID_LOW),
            case!(LogRecord.span_id => field::log_record::SPAN_ID),
            case!(LogRecord.event_name => field::log_record::EVENT_NAME),
            case!(LogRecord.source => field::log_record::SOURCE),
            case!(LogRecord.absent_times => field::log_record::ABSENT_TIMES),
            case!(Metric.scope => field::metric::SCOPE),
            case!(Metric.name => field::metric::NAME),
            case!(Metric.otlp_metric => field::metric::OTLP_METRIC),
            case!(Metric.data_points => field::metric::DATA_POINTS),
            case!(SegmentIndex.blocks => field::segment_index::BLOCKS),
            case!(SegmentIndex.has_services => field::segment_index::HAS_SERVICES),
            case!(BlockSummary.offset => field::block_summary::OFFSET),
            case!(BlockSummary.frame_bytes => field::block_summary::FRAME_BYTES),
            case!(BlockSummary.uncompressed_bytes => field::block_summary::UNCOMPRESSED_BYTES),
            case!(BlockSummary.spans => field::block_summary::SPANS),
            case!(BlockSummary.logs => field::block_summary::LOGS),
            case!(BlockSummary.metric_points => field::block_summary::METRIC_POINTS),
            case!(BlockSummary.min_time_unix_nano => field::block_summary::MIN_TIME_UNIX_NANO),
            case!(BlockSummary.max_time_unix_nano => field::block_summary::MAX_TIME_UNIX_NANO),
            case!(BlockSummary.services => field::block_summary::SERVICES),
        ];
        for (name, tag, constant) in &cases {
            assert_eq!(tag, constant, "{name}");
        }
        // A field added to the schema needs its case here.
        let mut checked: Vec<&str> = cases.iter().map(|(name, ..)| *name).collect();
        let mut schema: Vec<String> = MESSAGES
            .iter()
            .flat_map(|(message, fields)| {
                let message = message.trim_start_matches("oculus.segment.v1.");
                fields.iter().map(move |(f, _)| format!("{message}.{f}"))
            })
            .collect();
        checked.sort_unstable();
        schema.sort_unstable();
        assert_eq!(checked, schema);
    }
}
