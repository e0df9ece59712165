//! Which records an export keeps, with the viewer's meaning: a service by its
//! `service.name`, a trace id or its first hex digits, and a time range over a log's
//! time (else its observed time), a span's start and a data point's time.

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::data::{Data, data_point_count};

/// An export's filter; the default keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Services kept, by `service.name`; empty keeps all.
    pub services: Vec<String>,
    /// A trace id in hex, whole or its first digits (lower case). Records of no trace
    /// (metrics, logs without one) are left out when it is set.
    pub trace_id: Option<String>,
    /// Records at or after this Unix nanosecond.
    pub since_unix_nano: Option<u64>,
    /// Records before this Unix nanosecond.
    pub until_unix_nano: Option<u64>,
}

impl RecordFilter {
    pub fn keeps_everything(&self) -> bool {
        *self == Self::default()
    }

    /// The message with only the records the filter keeps, and without the resources
    /// and scopes left empty; `None` when nothing is left.
    pub fn apply(&self, mut data: Data) -> Option<Data> {
        if self.keeps_everything() {
            return Some(data);
        }
        match &mut data {
            Data::Traces(traces) => {
                traces.resource_spans.retain_mut(|resource| {
                    self.keeps_resource(resource.resource.as_ref()) && {
                        resource.scope_spans.retain_mut(|scope| {
                            scope.spans.retain(|span| {
                                self.keeps_trace(&span.trace_id)
                                    && self.keeps_time(span.start_time_unix_nano)
                            });
                            !scope.spans.is_empty()
                        });
                        !resource.scope_spans.is_empty()
                    }
                });
            }
            Data::Logs(logs) => {
                logs.resource_logs.retain_mut(|resource| {
                    self.keeps_resource(resource.resource.as_ref()) && {
                        resource.scope_logs.retain_mut(|scope| {
                            scope.log_records.retain(|log| {
                                let time = if log.time_unix_nano == 0 {
                                    log.observed_time_unix_nano
                                } else {
                                    log.time_unix_nano
                                };
                                self.keeps_trace(&log.trace_id) && self.keeps_time(time)
                            });
                            !scope.log_records.is_empty()
                        });
                        !resource.scope_logs.is_empty()
                    }
                });
            }
            Data::Metrics(metrics) => {
                if self.trace_id.is_some() {
                    return None;
                }
                metrics.resource_metrics.retain_mut(|resource| {
                    self.keeps_resource(resource.resource.as_ref()) && {
                        resource.scope_metrics.retain_mut(|scope| {
                            scope.metrics.retain_mut(|metric| {
                                self.retain_points(metric);
                                data_point_count(metric) > 0
                            });
                            !scope.metrics.is_empty()
                        });
                        !resource.scope_metrics.is_empty()
                    }
                });
            }
        }
        (data.record_count() > 0).then_some(data)
    }

    fn keeps_resource(&self, resource: Option<&Resource>) -> bool {
        if self.services.is_empty() {
            return true;
        }
        let name = resource.and_then(|r| service_name(&r.attributes));
        name.is_some_and(|name| self.services.iter().any(|s| s == name))
    }

    fn keeps_trace(&self, trace_id: &[u8]) -> bool {
        let Some(wanted) = &self.trace_id else {
            return true;
        };
        if trace_id.len() * 2 < wanted.len() {
            return false;
        }
        let hex: String = trace_id.iter().map(|b| format!("{b:02x}")).collect();
        hex.starts_with(wanted.as_str())
    }

    fn keeps_time(&self, time: u64) -> bool {
        self.since_unix_nano.is_none_or(|since| time >= since)
            && self.until_unix_nano.is_none_or(|until| time < until)
    }

    fn retain_points(&self, metric: &mut opentelemetry_proto::tonic::metrics::v1::Metric) {
        match &mut metric.data {
            Some(metric::Data::Gauge(g)) => {
                g.data_points.retain(|p| self.keeps_time(p.time_unix_nano));
            }
            Some(metric::Data::Sum(s)) => {
                s.data_points.retain(|p| self.keeps_time(p.time_unix_nano));
            }
            Some(metric::Data::Histogram(h)) => {
                h.data_points.retain(|p| self.keeps_time(p.time_unix_nano));
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                h.data_points.retain(|p| self.keeps_time(p.time_unix_nano));
            }
            Some(metric::Data::Summary(s)) => {
                s.data_points.retain(|p| self.keeps_time(p.time_unix_nano));
            }
            None => {}
        }
    }
}

fn service_name(attributes: &[KeyValue]) -> Option<&str> {
    attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(name) => Some(name.as_str()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{gauge, log, logs, span, traces};

    fn kept(filter: &RecordFilter, data: Data) -> usize {
        filter.apply(data).map_or(0, |data| data.record_count())
    }

    #[test]
    fn keeps_what_the_viewer_would_show() {
        let spans = || traces("a", vec![span(0x12, 10), span(0x34, 20)]);
        let everything = RecordFilter::default();
        assert_eq!(kept(&everything, spans()), 2);

        let service = |name: &str| RecordFilter {
            services: vec![name.to_owned()],
            ..RecordFilter::default()
        };
        assert_eq!(kept(&service("a"), spans()), 2);
        assert_eq!(kept(&service("b"), spans()), 0);

        let trace = |hex: &str| RecordFilter {
            trace_id: Some(hex.to_owned()),
            ..RecordFilter::default()
        };
        assert_eq!(kept(&trace("12121212"), spans()), 1);
        assert_eq!(kept(&trace(&"34".repeat(16)), spans()), 1);
        assert_eq!(kept(&trace("56565656"), spans()), 0);
        assert_eq!(
            kept(
                &trace("12121212"),
                logs("a", vec![log(1, Some(0x12)), log(2, None)])
            ),
            1,
            "a log of no trace is left out"
        );
        assert_eq!(kept(&trace("12121212"), gauge("a", &[1])), 0);

        let range = |since, until| RecordFilter {
            since_unix_nano: since,
            until_unix_nano: until,
            ..RecordFilter::default()
        };
        assert_eq!(kept(&range(Some(20), None), spans()), 1, "a span's start");
        assert_eq!(
            kept(&range(None, Some(20)), spans()),
            1,
            "until is exclusive"
        );
        assert_eq!(kept(&range(Some(2), Some(3)), gauge("a", &[1, 2, 3])), 1);
        // A log without a time is placed at its observed time.
        let mut observed = log(0, None);
        observed.observed_time_unix_nano = 15;
        assert_eq!(
            kept(&range(Some(10), Some(20)), logs("a", vec![observed])),
            1
        );
    }
}
