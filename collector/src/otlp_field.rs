//! The OTLP field numbers the transcoder reads, by name: one module per message, named
//! as prost names the message's module (`otlp_field::span::event`), one constant per
//! field, named after the field (`otlp_field::span::TRACE_ID`).

pub mod export_trace_service_request {
    pub const RESOURCE_SPANS: u32 = 1;
}

pub mod export_logs_service_request {
    pub const RESOURCE_LOGS: u32 = 1;
}

pub mod resource_spans {
    pub const RESOURCE: u32 = 1;
    pub const SCOPE_SPANS: u32 = 2;
    pub const SCHEMA_URL: u32 = 3;
}

pub mod resource_logs {
    pub const RESOURCE: u32 = 1;
    pub const SCOPE_LOGS: u32 = 2;
    pub const SCHEMA_URL: u32 = 3;
}

pub mod scope_spans {
    pub const SCOPE: u32 = 1;
    pub const SPANS: u32 = 2;
    pub const SCHEMA_URL: u32 = 3;
}

pub mod scope_logs {
    pub const SCOPE: u32 = 1;
    pub const LOG_RECORDS: u32 = 2;
    pub const SCHEMA_URL: u32 = 3;
}

/// Where both export requests hold their resource groups, so one reader serves both.
pub mod request {
    use super::{export_logs_service_request, export_trace_service_request};

    pub const RESOURCE_GROUPS: u32 = export_trace_service_request::RESOURCE_SPANS;

    const _: () = assert!(RESOURCE_GROUPS == export_logs_service_request::RESOURCE_LOGS);
}

/// The layout that resource groups and scope groups of either signal share, so one
/// reader serves all four.
pub mod group {
    use super::{resource_logs, resource_spans, scope_logs, scope_spans};

    /// The resource, or the scope.
    pub const HEADER: u32 = resource_spans::RESOURCE;
    /// The scope groups, or the records.
    pub const CHILDREN: u32 = resource_spans::SCOPE_SPANS;
    pub const SCHEMA_URL: u32 = resource_spans::SCHEMA_URL;

    const _: () = assert!(
        HEADER == resource_logs::RESOURCE
            && HEADER == scope_spans::SCOPE
            && HEADER == scope_logs::SCOPE
    );
    const _: () = assert!(
        CHILDREN == resource_logs::SCOPE_LOGS
            && CHILDREN == scope_spans::SPANS
            && CHILDREN == scope_logs::LOG_RECORDS
    );
    const _: () = assert!(
        SCHEMA_URL == resource_logs::SCHEMA_URL
            && SCHEMA_URL == scope_spans::SCHEMA_URL
            && SCHEMA_URL == scope_logs::SCHEMA_URL
    );
}

pub mod resource {
    pub const ATTRIBUTES: u32 = 1;
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 2;
    pub const ENTITY_REFS: u32 = 3;
}

pub mod entity_ref {
    pub const SCHEMA_URL: u32 = 1;
    pub const TYPE: u32 = 2;
    pub const ID_KEYS: u32 = 3;
    pub const DESCRIPTION_KEYS: u32 = 4;
}

pub mod instrumentation_scope {
    pub const NAME: u32 = 1;
    pub const VERSION: u32 = 2;
    pub const ATTRIBUTES: u32 = 3;
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
}

pub mod key_value {
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
    pub const KEY_STRINDEX: u32 = 3;
}

pub mod any_value {
    pub const STRING_VALUE: u32 = 1;
    pub const BOOL_VALUE: u32 = 2;
    pub const INT_VALUE: u32 = 3;
    pub const DOUBLE_VALUE: u32 = 4;
    pub const ARRAY_VALUE: u32 = 5;
    pub const KVLIST_VALUE: u32 = 6;
    pub const BYTES_VALUE: u32 = 7;
    pub const STRING_VALUE_STRINDEX: u32 = 8;
}

pub mod array_value {
    pub const VALUES: u32 = 1;
}

pub mod key_value_list {
    pub const VALUES: u32 = 1;
}

pub mod span {
    pub const TRACE_ID: u32 = 1;
    pub const SPAN_ID: u32 = 2;
    pub const TRACE_STATE: u32 = 3;
    pub const PARENT_SPAN_ID: u32 = 4;
    pub const NAME: u32 = 5;
    pub const KIND: u32 = 6;
    pub const START_TIME_UNIX_NANO: u32 = 7;
    pub const END_TIME_UNIX_NANO: u32 = 8;
    pub const ATTRIBUTES: u32 = 9;
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 10;
    pub const EVENTS: u32 = 11;
    pub const DROPPED_EVENTS_COUNT: u32 = 12;
    pub const LINKS: u32 = 13;
    pub const DROPPED_LINKS_COUNT: u32 = 14;
    pub const STATUS: u32 = 15;
    pub const FLAGS: u32 = 16;

    pub mod event {
        pub const TIME_UNIX_NANO: u32 = 1;
        pub const NAME: u32 = 2;
        pub const ATTRIBUTES: u32 = 3;
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
    }

    pub mod link {
        pub const TRACE_ID: u32 = 1;
        pub const SPAN_ID: u32 = 2;
        pub const TRACE_STATE: u32 = 3;
        pub const ATTRIBUTES: u32 = 4;
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 5;
        pub const FLAGS: u32 = 6;
    }
}

pub mod status {
    pub const MESSAGE: u32 = 2;
    pub const CODE: u32 = 3;
}

pub mod log_record {
    pub const TIME_UNIX_NANO: u32 = 1;
    pub const SEVERITY_NUMBER: u32 = 2;
    pub const SEVERITY_TEXT: u32 = 3;
    pub const BODY: u32 = 5;
    pub const ATTRIBUTES: u32 = 6;
    pub const DROPPED_ATTRIBUTES_COUNT: u32 = 7;
    pub const FLAGS: u32 = 8;
    pub const TRACE_ID: u32 = 9;
    pub const SPAN_ID: u32 = 10;
    pub const OBSERVED_TIME_UNIX_NANO: u32 = 11;
    pub const EVENT_NAME: u32 = 12;
}

#[cfg(test)]
mod tests {
    use oculus_store::field::testing::{Set, only_tag};
    use std::collections::BTreeSet;

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
    };
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    use crate::otlp_field::{
        any_value, array_value, entity_ref, export_logs_service_request,
        export_trace_service_request, group, instrumentation_scope, key_value, key_value_list,
        log_record, request, resource, resource_logs, resource_spans, scope_logs, scope_spans,
        span, status,
    };

    /// `Message.field => module::CONSTANT`: the message with only that field set, the
    /// number prost put it at, the constant and its path. A oneof's field is given its
    /// variant and value: `AnyValue.field = Variant(value) => ...`.
    macro_rules! case {
        ($message:ident . $field:ident => $($constant:ident)::+) => {
            (
                concat!(stringify!($message), ".", stringify!($field)),
                only_tag(&$message {
                    $field: Set::set(),
                    ..$message::default()
                }),
                $($constant)::+,
                stringify!($($constant)::+),
            )
        };
        (AnyValue . $field:ident = $variant:ident($value:expr) => $($constant:ident)::+) => {
            (
                concat!("AnyValue.", stringify!($field)),
                only_tag(&AnyValue {
                    value: Some(Value::$variant($value)),
                }),
                $($constant)::+,
                stringify!($($constant)::+),
            )
        };
    }

    /// The path of every constant above the tests, `span::event::NAME` for instance.
    fn declared_constants() -> BTreeSet<String> {
        let source = include_str!("otlp_field.rs");
        let declarations = source.split("#[cfg(test)]").next().unwrap_or_default();
        let mut modules: Vec<&str> = Vec::new();
        let mut constants = BTreeSet::new();
        for line in declarations.lines().map(str::trim) {
            if let Some(module) = line.strip_prefix("pub mod ") {
                modules.push(module.trim_end_matches(" {"));
            } else if line == "}" {
                modules.pop();
            } else if let Some(constant) = line.strip_prefix("pub const ") {
                let name = constant.split(':').next().unwrap_or_default();
                constants.insert([modules.join("::"), name.to_owned()].join("::"));
            }
        }
        constants
    }

    #[test]
    #[expect(
        clippy::needless_update,
        reason = "one case macro for every message, those of a single field too"
    )]
    fn prost_puts_every_field_at_its_constant() {
        let cases = [
            case!(ExportTraceServiceRequest.resource_spans => export_trace_service_request::RESOURCE_SPANS),
            case!(ExportLogsServiceRequest.resource_logs => export_logs_service_request::RESOURCE_LOGS),
            case!(ExportTraceServiceRequest.resource_spans => request::RESOURCE_GROUPS),
            case!(ExportLogsServiceRequest.resource_logs => request::RESOURCE_GROUPS),
            case!(ResourceSpans.resource => resource_spans::RESOURCE),
            case!(ResourceSpans.scope_spans => resource_spans::SCOPE_SPANS),
            case!(ResourceSpans.schema_url => resource_spans::SCHEMA_URL),
            case!(ResourceLogs.resource => resource_logs::RESOURCE),
            case!(ResourceLogs.scope_logs => resource_logs::SCOPE_LOGS),
            case!(ResourceLogs.schema_url => resource_logs::SCHEMA_URL),
            case!(ScopeSpans.scope => scope_spans::SCOPE),
            case!(ScopeSpans.spans => scope_spans::SPANS),
            case!(ScopeSpans.schema_url => scope_spans::SCHEMA_URL),
            case!(ScopeLogs.scope => scope_logs::SCOPE),
            case!(ScopeLogs.log_records => scope_logs::LOG_RECORDS),
            case!(ScopeLogs.schema_url => scope_logs::SCHEMA_URL),
            case!(ResourceSpans.resource => group::HEADER),
            case!(ScopeLogs.scope => group::HEADER),
            case!(ResourceLogs.scope_logs => group::CHILDREN),
            case!(ScopeSpans.spans => group::CHILDREN),
            case!(ResourceLogs.schema_url => group::SCHEMA_URL),
            case!(ScopeSpans.schema_url => group::SCHEMA_URL),
            case!(Resource.attributes => resource::ATTRIBUTES),
            case!(Resource.dropped_attributes_count => resource::DROPPED_ATTRIBUTES_COUNT),
            case!(Resource.entity_refs => resource::ENTITY_REFS),
            case!(EntityRef.schema_url => entity_ref::SCHEMA_URL),
            case!(EntityRef.r#type => entity_ref::TYPE),
            case!(EntityRef.id_keys => entity_ref::ID_KEYS),
            case!(EntityRef.description_keys => entity_ref::DESCRIPTION_KEYS),
            case!(InstrumentationScope.name => instrumentation_scope::NAME),
            case!(InstrumentationScope.version => instrumentation_scope::VERSION),
            case!(InstrumentationScope.attributes => instrumentation_scope::ATTRIBUTES),
            case!(InstrumentationScope.dropped_attributes_count => instrumentation_scope::DROPPED_ATTRIBUTES_COUNT),
            case!(KeyValue.key => key_value::KEY),
            case!(KeyValue.value => key_value::VALUE),
            case!(KeyValue.key_strindex => key_value::KEY_STRINDEX),
            case!(AnyValue.string_value = StringValue(String::new()) => any_value::STRING_VALUE),
            case!(AnyValue.bool_value = BoolValue(false) => any_value::BOOL_VALUE),
            case!(AnyValue.int_value = IntValue(0) => any_value::INT_VALUE),
            case!(AnyValue.double_value = DoubleValue(0.0) => any_value::DOUBLE_VALUE),
            case!(AnyValue.array_value = ArrayValue(ArrayValue::default()) => any_value::ARRAY_VALUE),
            case!(AnyValue.kvlist_value = KvlistValue(KeyValueList::default()) => any_value::KVLIST_VALUE),
            case!(AnyValue.bytes_value = BytesValue(Vec::new()) => any_value::BYTES_VALUE),
            case!(AnyValue.string_value_strindex = StringValueStrindex(0) => any_value::STRING_VALUE_STRINDEX),
            case!(ArrayValue.values => array_value::VALUES),
            case!(KeyValueList.values => key_value_list::VALUES),
            case!(Span.trace_id => span::TRACE_ID),
            case!(Span.span_id => span::SPAN_ID),
            case!(Span.trace_state => span::TRACE_STATE),
            case!(Span.parent_span_id => span::PARENT_SPAN_ID),
            case!(Span.name => span::NAME),
            case!(Span.kind => span::KIND),
            case!(Span.start_time_unix_nano => span::START_TIME_UNIX_NANO),
            case!(Span.end_time_unix_nano => span::END_TIME_UNIX_NANO),
            case!(Span.attributes => span::ATTRIBUTES),
            case!(Span.dropped_attributes_count => span::DROPPED_ATTRIBUTES_COUNT),
            case!(Span.events => span::EVENTS),
            case!(Span.dropped_events_count => span::DROPPED_EVENTS_COUNT),
            case!(Span.links => span::LINKS),
            case!(Span.dropped_links_count => span::DROPPED_LINKS_COUNT),
            case!(Span.status => span::STATUS),
            case!(Span.flags => span::FLAGS),
            case!(Event.time_unix_nano => span::event::TIME_UNIX_NANO),
            case!(Event.name => span::event::NAME),
            case!(Event.attributes => span::event::ATTRIBUTES),
            case!(Event.dropped_attributes_count => span::event::DROPPED_ATTRIBUTES_COUNT),
            case!(Link.trace_id => span::link::TRACE_ID),
            case!(Link.span_id => span::link::SPAN_ID),
            case!(Link.trace_state => span::link::TRACE_STATE),
            case!(Link.attributes => span::link::ATTRIBUTES),
            case!(Link.dropped_attributes_count => span::link::DROPPED_ATTRIBUTES_COUNT),
            case!(Link.flags => span::link::FLAGS),
            case!(Status.message => status::MESSAGE),
            case!(Status.code => status::CODE),
            case!(LogRecord.time_unix_nano => log_record::TIME_UNIX_NANO),
            case!(LogRecord.severity_number => log_record::SEVERITY_NUMBER),
            case!(LogRecord.severity_text => log_record::SEVERITY_TEXT),
            case!(LogRecord.body => log_record::BODY),
            case!(LogRecord.attributes => log_record::ATTRIBUTES),
            case!(LogRecord.dropped_attributes_count => log_record::DROPPED_ATTRIBUTES_COUNT),
            case!(LogRecord.flags => log_record::FLAGS),
            case!(LogRecord.trace_id => log_record::TRACE_ID),
            case!(LogRecord.span_id => log_record::SPAN_ID),
            case!(LogRecord.observed_time_unix_nano => log_record::OBSERVED_TIME_UNIX_NANO),
            case!(LogRecord.event_name => log_record::EVENT_NAME),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(_, prost, constant, _)| prost != constant)
            .map(|(field, prost, constant, path)| {
                format!("{field}: prost {prost}, {path} {constant}")
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        // A constant added above needs its case here.
        let checked: BTreeSet<String> = cases
            .iter()
            .map(|(.., path)| path.replace(' ', ""))
            .collect();
        let declared = declared_constants();
        assert!(declared.contains("span::event::TIME_UNIX_NANO"));
        let unchecked: Vec<&String> = declared.difference(&checked).collect();
        assert!(
            unchecked.is_empty(),
            "constants without a case: {unchecked:?}"
        );
        assert_eq!(checked, declared);
    }
}
