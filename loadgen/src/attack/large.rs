//! Large decoded requests (issue 9, item 8): metrics requests near the size limit,
//! which decode into several times their size, and small gzip bodies that inflate
//! to tens of MiB. Each is sent again as soon as it is answered.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use prost::Message;
use tokio::task::JoinSet;

use super::tally::Tally;
use super::{h2, http1};

pub const METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A gauge metrics request of about `target_bytes`, one attribute per point.
pub fn metrics_request(target_bytes: usize) -> Bytes {
    let point = |n: u64| NumberDataPoint {
        attributes: vec![KeyValue {
            key: "host".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("host-{}", n % 64))),
            }),
            ..Default::default()
        }],
        time_unix_nano: 1_700_000_000_000_000_000 + n,
        value: Some(number_data_point::Value::AsDouble(n as f64)),
        ..Default::default()
    };
    let request = |points: u64| ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "attack.gauge".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..points).map(point).collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let sample_points = 10_000;
    let bytes_per_point = request(sample_points).encoded_len() as u64 / sample_points;
    let points = target_bytes as u64 / bytes_per_point.max(1);
    Bytes::from(request(points).encode_to_vec())
}

/// A gzip body of a logs request whose one record's body is `inflated_bytes` long.
pub fn gzip_bomb(inflated_bytes: usize) -> Result<Bytes> {
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("x".repeat(inflated_bytes))),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(&request.encode_to_vec())
        .context("compressing")?;
    Ok(Bytes::from(gzip.finish().context("compressing")?))
}

/// `calls` gRPC metrics calls of `message` on one connection, made again and again.
pub fn grpc_calls(
    tasks: &mut JoinSet<()>,
    addr: SocketAddr,
    calls: usize,
    message: &Bytes,
    tally: &Arc<Tally>,
) {
    let framed = h2::framed(message);
    let tally = Arc::clone(tally);
    tasks.spawn(async move {
        let Ok(sender) = h2::connect(addr).await else {
            tally.add("connect failed");
            return;
        };
        let mut running = JoinSet::new();
        for _ in 0..calls {
            let (tally, framed, mut sender) = (Arc::clone(&tally), framed.clone(), sender.clone());
            running.spawn(async move {
                loop {
                    match h2::call(&mut sender, addr, METRICS_PATH, h2::whole(framed.clone())).await
                    {
                        Ok(outcome) => tally.add(outcome),
                        Err(_) => {
                            tally.add("connection closed");
                            tokio::time::sleep(RETRY_PAUSE).await;
                            if let Ok(fresh) = h2::connect(addr).await {
                                sender = fresh;
                            }
                        }
                    }
                }
            });
        }
        while running.join_next().await.is_some() {}
    });
}

/// `posts` concurrent HTTP/1 posts of the gzip `body` to `/v1/logs`, again and again.
pub fn gzip_posts(
    tasks: &mut JoinSet<()>,
    addr: SocketAddr,
    posts: usize,
    body: &Bytes,
    tally: &Arc<Tally>,
) {
    let head = Arc::new(http1::head(
        "/v1/logs",
        "application/x-protobuf",
        true,
        body.len(),
    ));
    for _ in 0..posts {
        let (tally, head, body) = (Arc::clone(tally), Arc::clone(&head), body.clone());
        tasks.spawn(async move {
            loop {
                match http1::post(addr, &head, &body).await {
                    Ok(status) => tally.add(status),
                    Err(_) => {
                        tally.add("connection failed");
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                }
            }
        });
    }
}
