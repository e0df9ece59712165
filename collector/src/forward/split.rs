//! Fitting export requests under a destination's size limit: a request too large is
//! halved, by resource, then by scope, then by record, until each part fits. Only a
//! single record (a span, a log record, a metric with its points) cannot be split.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::client::{Export, Request};
use crate::normalize::data_point_count;

impl Request {
    /// Its size on the wire, before compression: what a receiver's limit holds it to.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Traces(r) => r.encoded_len(),
            Self::Logs(r) => r.encoded_len(),
            Self::Metrics(r) => r.encoded_len(),
        }
    }

    /// The records it carries: spans, log records or metric points.
    pub fn records(&self) -> u64 {
        let total = |counts: &mut dyn Iterator<Item = usize>| {
            counts.map(|n| u64::try_from(n).unwrap_or(u64::MAX)).sum()
        };
        match self {
            Self::Traces(r) => total(
                &mut r
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len()),
            ),
            Self::Logs(r) => total(
                &mut r
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .map(|s| s.log_records.len()),
            ),
            Self::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| u64::from(data_point_count(m)))
                .sum(),
        }
    }

    /// What one record of this signal is called, for messages.
    pub fn record_name(&self) -> &'static str {
        match self {
            Self::Traces(_) => "span",
            Self::Logs(_) => "log record",
            Self::Metrics(_) => "metric",
        }
    }

    /// The request as two of about half its records each, in order; itself back when
    /// it holds a single record.
    fn halve(self) -> Result<(Self, Self), Self> {
        match self {
            Self::Traces(r) => halve(r.resource_spans, |r| &mut r.scope_spans, |s| &mut s.spans)
                .map(|(a, b)| {
                    (
                        Self::Traces(ExportTraceServiceRequest { resource_spans: a }),
                        Self::Traces(ExportTraceServiceRequest { resource_spans: b }),
                    )
                })
                .map_err(|r| Self::Traces(ExportTraceServiceRequest { resource_spans: r })),
            Self::Logs(r) => halve(
                r.resource_logs,
                |r| &mut r.scope_logs,
                |s| &mut s.log_records,
            )
            .map(|(a, b)| {
                (
                    Self::Logs(ExportLogsServiceRequest { resource_logs: a }),
                    Self::Logs(ExportLogsServiceRequest { resource_logs: b }),
                )
            })
            .map_err(|r| Self::Logs(ExportLogsServiceRequest { resource_logs: r })),
            Self::Metrics(r) => halve(
                r.resource_metrics,
                |r| &mut r.scope_metrics,
                |s| &mut s.metrics,
            )
            .map(|(a, b)| {
                (
                    Self::Metrics(ExportMetricsServiceRequest {
                        resource_metrics: a,
                    }),
                    Self::Metrics(ExportMetricsServiceRequest {
                        resource_metrics: b,
                    }),
                )
            })
            .map_err(|r| {
                Self::Metrics(ExportMetricsServiceRequest {
                    resource_metrics: r,
                })
            }),
        }
    }
}

impl Export {
    /// The export as two, each with its own records; itself back when it holds a
    /// single record.
    pub fn halve(self) -> Result<(Self, Self), Self> {
        let records = self.records;
        match self.request.halve() {
            Ok((first, second)) => {
                let first_records = first.records().min(records);
                Ok((
                    Self {
                        request: first,
                        records: first_records,
                    },
                    Self {
                        request: second,
                        records: records - first_records,
                    },
                ))
            }
            Err(request) => Err(Self { request, records }),
        }
    }
}

/// Halves a list of resources: the resources themselves if there are several, else
/// the one resource's scopes (each half under a copy of the resource), else the one
/// scope's records (each half under copies of both).
fn halve<R: Clone, S: Clone, T>(
    mut resources: Vec<R>,
    scopes_of: impl Fn(&mut R) -> &mut Vec<S>,
    records_of: impl Fn(&mut S) -> &mut Vec<T>,
) -> Result<(Vec<R>, Vec<R>), Vec<R>> {
    if resources.len() > 1 {
        let second = resources.split_off(resources.len() / 2);
        return Ok((resources, second));
    }
    let Some(resource) = resources.first_mut() else {
        return Err(resources);
    };
    let scopes = scopes_of(resource);
    if scopes.len() > 1 {
        let second_scopes = scopes.split_off(scopes.len() / 2);
        let first_scopes = std::mem::take(scopes);
        // Cloned without its scopes: only the resource itself is copied.
        let mut second = resource.clone();
        *scopes_of(&mut second) = second_scopes;
        *scopes_of(resource) = first_scopes;
        return Ok((resources, vec![second]));
    }
    let Some(scope) = scopes.first_mut() else {
        return Err(resources);
    };
    let records = records_of(scope);
    if records.len() < 2 {
        return Err(resources);
    }
    let second_records = records.split_off(records.len() / 2);
    let first_records = std::mem::take(records);
    let mut second_scope = scope.clone();
    *records_of(&mut second_scope) = second_records;
    *records_of(scope) = first_records;
    let one_scope = std::mem::take(scopes);
    let mut second = resource.clone();
    *scopes_of(&mut second) = vec![second_scope];
    *scopes_of(resource) = one_scope;
    Ok((resources, vec![second]))
}

impl super::client::BlockExports {
    /// Its requests in parts of at most `max_bytes` each, in order; the single records
    /// larger than that on their own set aside in `oversized`.
    pub fn fit(self, max_bytes: usize) -> Self {
        let mut exports = Vec::new();
        let mut oversized = self.oversized;
        for export in self.exports {
            let (parts, too_large) = fit(export, max_bytes);
            exports.extend(parts);
            oversized.extend(too_large);
        }
        Self {
            exports,
            oversized,
            broken: self.broken,
        }
    }
}

/// `export` in parts of at most `max_bytes` each, in order, and the single records
/// that are larger than that on their own.
pub fn fit(export: Export, max_bytes: usize) -> (Vec<Export>, Vec<Export>) {
    let mut fitting = Vec::new();
    let mut oversized = Vec::new();
    // Last is next: the halves are pushed second first.
    let mut stack = vec![export];
    while let Some(part) = stack.pop() {
        if part.request.encoded_len() <= max_bytes {
            fitting.push(part);
            continue;
        }
        match part.halve() {
            Ok((first, second)) => {
                stack.push(second);
                stack.push(first);
            }
            Err(single) => oversized.push(single),
        }
    }
    (fitting, oversized)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn span(name: &str, bytes: usize) -> Span {
        Span {
            name: format!("{name}{}", "x".repeat(bytes)),
            ..Span::default()
        }
    }

    /// Two resources, the first with two scopes of three spans each.
    fn request() -> Export {
        let scope = |name: &str, spans: Vec<Span>| ScopeSpans {
            scope: Some(InstrumentationScope {
                name: name.into(),
                ..InstrumentationScope::default()
            }),
            spans,
            schema_url: String::new(),
        };
        let resource = |service: &str, scope_spans| ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans,
            schema_url: service.into(),
        };
        let request = Request::Traces(ExportTraceServiceRequest {
            resource_spans: vec![
                resource(
                    "a",
                    vec![
                        scope("s1", vec![span("1", 100), span("2", 100), span("3", 100)]),
                        scope("s2", vec![span("4", 100), span("5", 100), span("6", 100)]),
                    ],
                ),
                resource("b", vec![scope("s3", vec![span("7", 100)])]),
            ],
        });
        Export {
            records: request.records(),
            request,
        }
    }

    /// Each part's spans, named by their first character, under resource/scope.
    fn layout(parts: &[Export]) -> Vec<Vec<String>> {
        parts
            .iter()
            .map(|part| {
                let Request::Traces(r) = &part.request else {
                    panic!("traces");
                };
                let mut names = Vec::new();
                for resource in &r.resource_spans {
                    for scope in &resource.scope_spans {
                        let scope_name = scope.scope.as_ref().map_or("", |s| s.name.as_str());
                        for span in &scope.spans {
                            names.push(format!(
                                "{}/{scope_name}/{}",
                                resource.schema_url,
                                &span.name[..1]
                            ));
                        }
                    }
                }
                names
            })
            .collect()
    }

    #[test]
    fn a_request_that_fits_is_sent_whole() {
        let (parts, oversized) = fit(request(), 4 << 20);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].records, 7);
        assert!(oversized.is_empty());
    }

    #[test]
    fn a_large_request_is_split_by_resource_scope_and_span_keeping_every_record_in_order() {
        let whole = request();
        let limit = whole.request.encoded_len() / 3;
        let (parts, oversized) = fit(whole, limit);
        assert!(oversized.is_empty());
        assert!(parts.iter().all(|p| p.request.encoded_len() <= limit));
        assert!(parts.iter().all(|p| p.records == p.request.records()));
        let every: Vec<String> = layout(&parts).concat();
        assert_eq!(
            every,
            [
                "a/s1/1", "a/s1/2", "a/s1/3", "a/s2/4", "a/s2/5", "a/s2/6", "b/s3/7"
            ]
        );
        assert!(parts.len() >= 3, "{:?}", layout(&parts));
    }

    #[test]
    fn only_a_single_record_over_the_limit_is_left_out() {
        let mut whole = request();
        if let Request::Traces(r) = &mut whole.request {
            r.resource_spans[0].scope_spans[1].spans[1] = span("5", 5000);
        }
        let (parts, oversized) = fit(whole, 1000);
        assert_eq!(oversized.len(), 1);
        assert_eq!(layout(&oversized), [vec!["a/s2/5".to_owned()]]);
        assert_eq!(oversized[0].records, 1);
        assert_eq!(parts.iter().map(|p| p.records).sum::<u64>(), 6);
        assert_eq!(layout(&parts).concat().len(), 6);
    }
}
