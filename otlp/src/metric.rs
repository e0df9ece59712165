//! A metric as the collector keeps it (its OTLP `Metric` message, verbatim) read into
//! the project's own plain model: readers of metrics never name OTLP's types.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as otlp;
use prost::Message as _;

/// One instrument's points from one export, with what describes the instrument.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metric {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    pub points: Vec<Point>,
}

/// How a sum or histogram's points relate to one another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Temporality {
    #[default]
    Unspecified,
    /// Each point holds what happened since the previous one.
    Delta,
    /// Each point holds everything since the series' start.
    Cumulative,
}

/// What an instrument measures, which says how to read its points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A metric that carried no data.
    #[default]
    Empty,
    Gauge,
    Sum {
        monotonic: bool,
        temporality: Temporality,
    },
    Histogram {
        temporality: Temporality,
    },
    /// Its buckets are turned into explicit bounds (see [`HistogramValue`]).
    ExponentialHistogram {
        temporality: Temporality,
    },
    Summary,
}

impl MetricKind {
    /// A short name for the user: "gauge", "counter", "histogram"...
    pub fn label(self) -> &'static str {
        match self {
            MetricKind::Empty => "empty",
            MetricKind::Gauge => "gauge",
            MetricKind::Sum {
                monotonic: true, ..
            } => "counter",
            MetricKind::Sum { .. } => "up-down counter",
            MetricKind::Histogram { .. } => "histogram",
            MetricKind::ExponentialHistogram { .. } => "exponential histogram",
            MetricKind::Summary => "summary",
        }
    }

    pub fn temporality(self) -> Temporality {
        match self {
            MetricKind::Sum { temporality, .. }
            | MetricKind::Histogram { temporality }
            | MetricKind::ExponentialHistogram { temporality } => temporality,
            MetricKind::Empty | MetricKind::Gauge | MetricKind::Summary => Temporality::Unspecified,
        }
    }
}

/// One data point of a series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point {
    /// Its attributes as text (`key`, value), in the order sent.
    pub attributes: Vec<(String, String)>,
    pub start_unix_nano: u64,
    pub time_unix_nano: u64,
    pub value: PointValue,
    pub exemplars: Vec<Exemplar>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PointValue {
    Double(f64),
    Int(i64),
    Histogram(HistogramValue),
    Summary(SummaryValue),
}

impl Default for PointValue {
    fn default() -> Self {
        PointValue::Double(0.0)
    }
}

impl PointValue {
    /// A number's value (a histogram's or summary's sum).
    pub fn as_f64(&self) -> f64 {
        match self {
            PointValue::Double(value) => *value,
            PointValue::Int(value) => *value as f64,
            PointValue::Histogram(histogram) => histogram.sum.unwrap_or(0.0),
            PointValue::Summary(summary) => summary.sum,
        }
    }
}

/// A histogram's point with explicit bounds: bucket `i` counts values in
/// `(bounds[i - 1], bounds[i]]`, the first from minus infinity, the last (`counts` has
/// one more entry than `bounds`) to plus infinity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramValue {
    pub count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SummaryValue {
    pub count: u64,
    pub sum: f64,
    /// (quantile in [0, 1], value).
    pub quantiles: Vec<(f64, f64)>,
}

/// A measurement kept with a point, often with the trace it was made in.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Exemplar {
    /// The trace id as a big-endian number (0: none).
    pub trace_id: u128,
    pub span_id: u64,
    pub time_unix_nano: u64,
    pub value: f64,
}

#[derive(Debug, thiserror::Error)]
#[error("an OTLP metric that does not decode: {0}")]
pub struct MetricError(#[from] prost::DecodeError);

/// Reads a metric from its OTLP protobuf encoding.
pub fn decode_metric(bytes: &[u8]) -> Result<Metric, MetricError> {
    let metric = otlp::Metric::decode(bytes)?;
    let (kind, points) = match metric.data {
        None => (MetricKind::Empty, Vec::new()),
        Some(otlp::metric::Data::Gauge(gauge)) => (
            MetricKind::Gauge,
            gauge.data_points.into_iter().map(number_point).collect(),
        ),
        Some(otlp::metric::Data::Sum(sum)) => (
            MetricKind::Sum {
                monotonic: sum.is_monotonic,
                temporality: temporality(sum.aggregation_temporality),
            },
            sum.data_points.into_iter().map(number_point).collect(),
        ),
        Some(otlp::metric::Data::Histogram(histogram)) => (
            MetricKind::Histogram {
                temporality: temporality(histogram.aggregation_temporality),
            },
            histogram
                .data_points
                .into_iter()
                .map(histogram_point)
                .collect(),
        ),
        Some(otlp::metric::Data::ExponentialHistogram(histogram)) => (
            MetricKind::ExponentialHistogram {
                temporality: temporality(histogram.aggregation_temporality),
            },
            histogram
                .data_points
                .into_iter()
                .map(exponential_point)
                .collect(),
        ),
        Some(otlp::metric::Data::Summary(summary)) => (
            MetricKind::Summary,
            summary.data_points.into_iter().map(summary_point).collect(),
        ),
    };
    Ok(Metric {
        name: metric.name,
        description: metric.description,
        unit: metric.unit,
        kind,
        points,
    })
}

fn temporality(value: i32) -> Temporality {
    match otlp::AggregationTemporality::try_from(value) {
        Ok(otlp::AggregationTemporality::Delta) => Temporality::Delta,
        Ok(otlp::AggregationTemporality::Cumulative) => Temporality::Cumulative,
        _ => Temporality::Unspecified,
    }
}

fn number_point(point: otlp::NumberDataPoint) -> Point {
    let value = match point.value {
        Some(otlp::number_data_point::Value::AsInt(value)) => PointValue::Int(value),
        Some(otlp::number_data_point::Value::AsDouble(value)) => PointValue::Double(value),
        None => PointValue::Double(0.0),
    };
    Point {
        attributes: attributes(&point.attributes),
        start_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        value,
        exemplars: point.exemplars.iter().map(exemplar).collect(),
    }
}

fn histogram_point(point: otlp::HistogramDataPoint) -> Point {
    let mut counts = point.bucket_counts;
    // A point without buckets counts everything in one; bounds without a bucket each
    // are malformed, and only as many as the buckets allow are kept.
    if counts.is_empty() {
        counts.push(point.count);
    }
    let mut bounds = point.explicit_bounds;
    bounds.truncate(counts.len() - 1);
    counts.truncate(bounds.len() + 1);
    Point {
        attributes: attributes(&point.attributes),
        start_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        value: PointValue::Histogram(HistogramValue {
            count: point.count,
            sum: point.sum,
            min: point.min,
            max: point.max,
            bounds,
            counts,
        }),
        exemplars: point.exemplars.iter().map(exemplar).collect(),
    }
}

/// An exponential histogram's buckets as explicit bounds: negative buckets (largest
/// magnitude first), the zero bucket, then positive buckets.
fn exponential_point(point: otlp::ExponentialHistogramDataPoint) -> Point {
    let base = 2f64.powf(2f64.powi(-point.scale));
    let bound = |index: i64| base.powf(index as f64);
    // (upper bound, count), ascending.
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    if let Some(negative) = &point.negative {
        for (i, &count) in negative.bucket_counts.iter().enumerate().rev() {
            buckets.push((-bound(i64::from(negative.offset) + i as i64), count));
        }
    }
    buckets.push((point.zero_threshold, point.zero_count));
    if let Some(positive) = &point.positive {
        for (i, &count) in positive.bucket_counts.iter().enumerate() {
            buckets.push((bound(i64::from(positive.offset) + i as i64 + 1), count));
        }
    }
    let counts = buckets.iter().map(|&(_, count)| count).collect();
    // The last bucket reaches to plus infinity, as an explicit histogram's last does.
    buckets.pop();
    Point {
        attributes: attributes(&point.attributes),
        start_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        value: PointValue::Histogram(HistogramValue {
            count: point.count,
            sum: point.sum,
            min: point.min,
            max: point.max,
            bounds: buckets.iter().map(|&(upper, _)| upper).collect(),
            counts,
        }),
        exemplars: point.exemplars.iter().map(exemplar).collect(),
    }
}

fn summary_point(point: otlp::SummaryDataPoint) -> Point {
    Point {
        attributes: attributes(&point.attributes),
        start_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        value: PointValue::Summary(SummaryValue {
            count: point.count,
            sum: point.sum,
            quantiles: point
                .quantile_values
                .iter()
                .map(|q| (q.quantile, q.value))
                .collect(),
        }),
        exemplars: Vec::new(),
    }
}

fn exemplar(exemplar: &otlp::Exemplar) -> Exemplar {
    let trace_id =
        <[u8; 16]>::try_from(exemplar.trace_id.as_slice()).map_or(0, u128::from_be_bytes);
    let span_id = <[u8; 8]>::try_from(exemplar.span_id.as_slice()).map_or(0, u64::from_be_bytes);
    let value = match exemplar.value {
        Some(otlp::exemplar::Value::AsDouble(value)) => value,
        Some(otlp::exemplar::Value::AsInt(value)) => value as f64,
        None => 0.0,
    };
    Exemplar {
        trace_id,
        span_id,
        time_unix_nano: exemplar.time_unix_nano,
        value,
    }
}

fn attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or_else(String::new, text),
            )
        })
        .collect()
}

/// A value as the user reads it: strings bare, the rest as their literals.
fn text(value: &AnyValue) -> String {
    match &value.value {
        None => String::new(),
        // String tables (profiles only) are not used by metrics.
        Some(any_value::Value::StringValueStrindex(_)) => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(text).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| {
                    format!(
                        "{}={}",
                        kv.key,
                        kv.value.as_ref().map_or_else(String::new, text)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(
        clippy::unwrap_used,
        reason = "a test fails loudly on any unexpected error"
    )]

    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1 as otlp;
    use prost::Message as _;

    use super::*;

    fn key_value(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn encoded(data: otlp::metric::Data) -> Vec<u8> {
        otlp::Metric {
            name: "http.duration".into(),
            description: "time per request".into(),
            unit: "ms".into(),
            data: Some(data),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[track_caller]
    fn check(data: otlp::metric::Data, kind: MetricKind, points: Vec<Point>) {
        let metric = decode_metric(&encoded(data)).unwrap();
        assert_eq!(
            (
                metric.name.as_str(),
                metric.description.as_str(),
                metric.unit.as_str()
            ),
            ("http.duration", "time per request", "ms")
        );
        assert_eq!(metric.kind, kind);
        assert_eq!(metric.points, points);
    }

    fn number(time: u64, value: otlp::number_data_point::Value) -> otlp::NumberDataPoint {
        otlp::NumberDataPoint {
            attributes: vec![
                key_value("route", any_value::Value::StringValue("/a".into())),
                key_value("ok", any_value::Value::BoolValue(true)),
            ],
            start_time_unix_nano: 5,
            time_unix_nano: time,
            value: Some(value),
            exemplars: vec![otlp::Exemplar {
                time_unix_nano: time,
                trace_id: (1..=16).collect(),
                span_id: (1..=8).collect(),
                value: Some(otlp::exemplar::Value::AsInt(3)),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn expected(time: u64, value: PointValue) -> Point {
        Point {
            attributes: vec![("route".into(), "/a".into()), ("ok".into(), "true".into())],
            start_unix_nano: 5,
            time_unix_nano: time,
            value,
            exemplars: vec![Exemplar {
                trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
                span_id: 0x0102_0304_0506_0708,
                time_unix_nano: time,
                value: 3.0,
            }],
        }
    }

    #[test]
    fn each_kind_of_metric_reads_into_the_model() {
        use otlp::number_data_point::Value;
        check(
            otlp::metric::Data::Gauge(otlp::Gauge {
                data_points: vec![number(10, Value::AsDouble(1.5))],
            }),
            MetricKind::Gauge,
            vec![expected(10, PointValue::Double(1.5))],
        );
        check(
            otlp::metric::Data::Sum(otlp::Sum {
                data_points: vec![number(10, Value::AsInt(7)), number(20, Value::AsInt(-2))],
                aggregation_temporality: otlp::AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
            MetricKind::Sum {
                monotonic: true,
                temporality: Temporality::Cumulative,
            },
            vec![
                expected(10, PointValue::Int(7)),
                expected(20, PointValue::Int(-2)),
            ],
        );
        check(
            otlp::metric::Data::Sum(otlp::Sum {
                data_points: vec![],
                aggregation_temporality: otlp::AggregationTemporality::Delta as i32,
                is_monotonic: false,
            }),
            MetricKind::Sum {
                monotonic: false,
                temporality: Temporality::Delta,
            },
            vec![],
        );
        let mut histogram = number(30, Value::AsInt(0));
        let histogram_point = otlp::HistogramDataPoint {
            attributes: std::mem::take(&mut histogram.attributes),
            start_time_unix_nano: 5,
            time_unix_nano: 30,
            count: 6,
            sum: Some(42.0),
            bucket_counts: vec![1, 2, 3],
            explicit_bounds: vec![10.0, 20.0],
            exemplars: histogram.exemplars,
            min: Some(1.0),
            max: Some(30.0),
            ..Default::default()
        };
        check(
            otlp::metric::Data::Histogram(otlp::Histogram {
                data_points: vec![histogram_point],
                aggregation_temporality: otlp::AggregationTemporality::Delta as i32,
            }),
            MetricKind::Histogram {
                temporality: Temporality::Delta,
            },
            vec![expected(
                30,
                PointValue::Histogram(HistogramValue {
                    count: 6,
                    sum: Some(42.0),
                    min: Some(1.0),
                    max: Some(30.0),
                    bounds: vec![10.0, 20.0],
                    counts: vec![1, 2, 3],
                }),
            )],
        );
    }

    #[test]
    fn exponential_buckets_become_explicit_bounds() {
        // Scale 0: base 2, bucket i counts (2^i, 2^(i+1)].
        let point = otlp::ExponentialHistogramDataPoint {
            time_unix_nano: 9,
            count: 7,
            scale: 0,
            zero_count: 1,
            positive: Some(otlp::exponential_histogram_data_point::Buckets {
                offset: 1,
                bucket_counts: vec![2, 3],
            }),
            negative: Some(otlp::exponential_histogram_data_point::Buckets {
                offset: 0,
                bucket_counts: vec![1],
            }),
            ..Default::default()
        };
        let metric = decode_metric(&encoded(otlp::metric::Data::ExponentialHistogram(
            otlp::ExponentialHistogram {
                data_points: vec![point],
                aggregation_temporality: otlp::AggregationTemporality::Cumulative as i32,
            },
        )))
        .unwrap();
        let PointValue::Histogram(histogram) = &metric.points[0].value else {
            panic!("{:?}", metric.points[0].value);
        };
        assert_eq!(histogram.bounds, [-1.0, 0.0, 4.0]);
        assert_eq!(histogram.counts, [1, 1, 2, 3]);
    }

    #[test]
    fn a_summary_keeps_its_quantiles_and_bad_bytes_are_an_error() {
        let metric = decode_metric(&encoded(otlp::metric::Data::Summary(otlp::Summary {
            data_points: vec![otlp::SummaryDataPoint {
                count: 3,
                sum: 6.0,
                quantile_values: vec![otlp::summary_data_point::ValueAtQuantile {
                    quantile: 0.5,
                    value: 2.0,
                }],
                ..Default::default()
            }],
        })))
        .unwrap();
        assert_eq!(metric.kind, MetricKind::Summary);
        assert_eq!(
            metric.points[0].value,
            PointValue::Summary(SummaryValue {
                count: 3,
                sum: 6.0,
                quantiles: vec![(0.5, 2.0)],
            })
        );
        assert!(decode_metric(&[0xff, 0xff, 0xff]).is_err());
    }
}
