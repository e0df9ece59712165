//! One OTLP message of any signal, and how to tell the signal of a protobuf message
//! that does not say it.

use oculus_store::wire::{Reader, WireError, WireType};
use opentelemetry_proto::tonic::logs::v1::LogsData;
use opentelemetry_proto::tonic::metrics::v1::{MetricsData, metric};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message as _;

/// The OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    pub const ALL: [Self; 3] = [Self::Traces, Self::Logs, Self::Metrics];
}

/// One TracesData, LogsData or MetricsData: a line of an `otlp-json` file or a message
/// of an `otlp-proto` one.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Traces(TracesData),
    Logs(LogsData),
    Metrics(MetricsData),
}

impl Data {
    pub fn signal(&self) -> Signal {
        match self {
            Self::Traces(_) => Signal::Traces,
            Self::Logs(_) => Signal::Logs,
            Self::Metrics(_) => Signal::Metrics,
        }
    }

    /// Spans, log records or metric data points.
    pub fn record_count(&self) -> usize {
        match self {
            Self::Traces(data) => data
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
            Self::Logs(data) => data
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            Self::Metrics(data) => data
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(data_point_count)
                .sum(),
        }
    }

    pub fn encode_to_vec(&self) -> Vec<u8> {
        match self {
            Self::Traces(data) => data.encode_to_vec(),
            Self::Logs(data) => data.encode_to_vec(),
            Self::Metrics(data) => data.encode_to_vec(),
        }
    }

    /// The message in OTLP JSON, on one line.
    pub fn to_json(&self) -> serde_json::Result<String> {
        match self {
            Self::Traces(data) => serde_json::to_string(data),
            Self::Logs(data) => serde_json::to_string(data),
            Self::Metrics(data) => serde_json::to_string(data),
        }
    }

    /// Decodes a protobuf message of a known signal.
    pub fn decode(signal: Signal, bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => Self::Traces(TracesData::decode(bytes)?),
            Signal::Logs => Self::Logs(LogsData::decode(bytes)?),
            Signal::Metrics => Self::Metrics(MetricsData::decode(bytes)?),
        })
    }
}

pub(crate) fn data_point_count(metric: &opentelemetry_proto::tonic::metrics::v1::Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// The signal of a protobuf TracesData, LogsData or MetricsData, which the
/// length-prefixed file form does not name: all three hold their resources in field 1,
/// their scopes in field 2 and their records in field 2 of a scope, so the fields of
/// the first record decide. A message without records imports nothing either way.
pub fn signal_of(message: &[u8]) -> Result<Signal, WireError> {
    let Some(record) = first_record(message)? else {
        return Ok(Signal::Traces);
    };
    let mut reader = Reader::new(record);
    let mut could_be_metric = true;
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            // Span: start and end times, kind, dropped counts, flags, parent id, links, status.
            (7 | 8, WireType::Fixed64)
            | (6 | 10 | 12 | 14, WireType::Varint)
            | (16, WireType::Fixed32)
            | (4 | 13 | 15, WireType::Len) => return Ok(Signal::Traces),
            // LogRecord: time and observed time, severity, dropped count, flags.
            (1 | 11, WireType::Fixed64) | (2 | 7, WireType::Varint) | (8, WireType::Fixed32) => {
                return Ok(Signal::Logs);
            }
            // Metric: a sum, which a span and a log record hold no message in.
            (7, WireType::Len) => return Ok(Signal::Metrics),
            (_, WireType::Len) => {}
            _ => could_be_metric = false,
        }
        reader.skip(wire)?;
    }
    // Only length-delimited fields: the ids say span; a name (field 1) says metric,
    // since a log record's field 1 is its time.
    if !could_be_metric || looks_like_span(record)? {
        Ok(Signal::Traces)
    } else if fields(record, 1)?.is_empty() {
        Ok(Signal::Logs)
    } else {
        Ok(Signal::Metrics)
    }
}

fn looks_like_span(record: &[u8]) -> Result<bool, WireError> {
    let mut reader = Reader::new(record);
    let (mut trace_id, mut span_id) = (false, false);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (1, WireType::Len) => trace_id = reader.bytes()?.len() == 16,
            (2, WireType::Len) => span_id = reader.bytes()?.len() == 8,
            _ => reader.skip(wire)?,
        }
    }
    Ok(trace_id && span_id)
}

/// The bytes of the first record: field 1 (resource), then 2 (scope), then 2 (record).
fn first_record(message: &[u8]) -> Result<Option<&[u8]>, WireError> {
    for resource in fields(message, 1)? {
        for scope in fields(resource, 2)? {
            if let Some(record) = fields(scope, 2)?.into_iter().next() {
                return Ok(Some(record));
            }
        }
    }
    Ok(None)
}

fn fields(message: &[u8], wanted: u32) -> Result<Vec<&[u8]>, WireError> {
    let mut reader = Reader::new(message);
    let mut found = Vec::new();
    while let Some((number, wire)) = reader.field()? {
        if number == wanted && wire == WireType::Len {
            found.push(reader.bytes()?);
        } else {
            reader.skip(wire)?;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{gauge, log, logs, span, traces};

    #[track_caller]
    fn check(data: &Data) {
        assert_eq!(
            signal_of(&data.encode_to_vec()),
            Ok(data.signal()),
            "{data:?}"
        );
    }

    #[test]
    fn the_first_record_tells_the_signal() {
        check(&traces("a", vec![span(1, 5)]));
        check(&logs("a", vec![log(5, None)]));
        check(&gauge("a", &[5]));
        // Without times, a span is told by its kind and ids, a log record by its
        // severity, and one with neither by having no name.
        let mut untimed = span(1, 0);
        untimed.end_time_unix_nano = 0;
        check(&traces("a", vec![untimed.clone()]));
        untimed.kind = 0;
        check(&traces("a", vec![untimed]));
        check(&logs("a", vec![log(0, None)]));
        let mut bare = log(0, Some(3));
        bare.severity_number = 0;
        check(&logs("a", vec![bare]));
        let Data::Metrics(mut metrics) = gauge("a", &[]) else {
            unreachable!()
        };
        metrics.resource_metrics[0].scope_metrics[0].metrics[0].data = None;
        check(&Data::Metrics(metrics));
    }

    #[test]
    fn counts_records_of_each_signal() {
        assert_eq!(traces("a", vec![span(1, 1), span(2, 2)]).record_count(), 2);
        assert_eq!(logs("a", vec![log(1, None)]).record_count(), 1);
        assert_eq!(gauge("a", &[1, 2, 3]).record_count(), 3);
    }
}
