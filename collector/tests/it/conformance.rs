//! OTLP/HTTP conformance: JSON rules and the exact status each bad request gets.

use std::io::Write;

use oculus_otlp::export;
use oculus_store::proto::any_value::Value;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::{Running, logs_request, metrics_request, span, start, start_with, traces_request};

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// The reply's content type, when the status says there is a body to read.
    reply_type: Option<&'static str>,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

const VALID_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json"}}]},
  "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
  "name":"json span","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000}]}]}]}"#;

#[track_caller]
fn case(
    name: &'static str,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
) -> Case {
    Case {
        name,
        method: "POST",
        path: "/v1/traces",
        content_type,
        content_encoding: None,
        body: body.into(),
        status,
        reply_type: Some(content_type),
    }
}

async fn send(running: &Running, case: &Case) -> reqwest::Response {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("method");
    let mut request = client
        .request(method, running.http_url(case.path))
        .header("content-type", case.content_type)
        .body(case.body.clone());
    if let Some(encoding) = case.content_encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.expect("request is answered")
}

#[tokio::test]
async fn each_request_gets_the_status_the_spec_asks_for() {
    let running = start_with(|config| config.max_message_bytes = 1 << 20).await;
    let proto = traces_request(vec![span(1)]).encode_to_vec();
    let mut bad_span = span(2);
    bad_span.span_id = vec![1, 2, 3];
    let partly_bad = traces_request(vec![span(3), bad_span]).encode_to_vec();
    let oversized = traces_request((0..20_000).map(span).collect()).encode_to_vec();
    assert!(oversized.len() > 1 << 20);
    // 256 MiB of zeros inflates far past the 1 MiB limit from a small body.
    let bomb = gzip(&vec![0u8; 256 << 20]);
    let cases = vec![
        case("protobuf", "application/x-protobuf", proto.clone(), 200),
        case("json", "application/json", VALID_JSON, 200),
        case(
            "json with charset",
            "application/json; charset=utf-8",
            VALID_JSON,
            200,
        ),
        case(
            "protobuf, some records invalid",
            "application/x-protobuf",
            partly_bad,
            200,
        ),
        case(
            "invalid protobuf",
            "application/x-protobuf",
            vec![0xff, 0xff, 0xff],
            400,
        ),
        case("invalid json", "application/json", "{not json", 400),
        case(
            "json with non-hex trace id",
            "application/json",
            VALID_JSON.replace(
                "5b8efff798038103d269b633813fc60c",
                "zz8efff798038103d269b633813fc60c",
            ),
            400,
        ),
        Case {
            content_encoding: Some("gzip"),
            ..case("gzip protobuf", "application/x-protobuf", gzip(&proto), 200)
        },
        Case {
            content_encoding: Some("gzip"),
            ..case(
                "gzip json",
                "application/json",
                gzip(VALID_JSON.as_bytes()),
                200,
            )
        },
        Case {
            content_encoding: Some("gzip"),
            ..case(
                "corrupt gzip",
                "application/x-protobuf",
                vec![0x1f, 0x8b, 0, 1, 2],
                400,
            )
        },
        Case {
            content_encoding: Some("br"),
            ..case(
                "unsupported encoding",
                "application/x-protobuf",
                proto.clone(),
                415,
            )
        },
        Case {
            reply_type: Some("application/json"),
            ..case("unsupported content type", "text/plain", "hello", 415)
        },
        case("too large", "application/x-protobuf", oversized, 413),
        Case {
            content_encoding: Some("gzip"),
            ..case("gzip bomb", "application/x-protobuf", bomb, 413)
        },
        Case {
            method: "GET",
            reply_type: None,
            ..case("wrong method", "application/x-protobuf", Vec::new(), 405)
        },
        Case {
            method: "PUT",
            reply_type: None,
            ..case(
                "wrong method put",
                "application/x-protobuf",
                proto.clone(),
                405,
            )
        },
        Case {
            path: "/v1/profiles",
            reply_type: None,
            ..case("unknown path", "application/x-protobuf", proto.clone(), 404)
        },
        Case {
            path: "/v1/logs",
            ..case(
                "logs",
                "application/x-protobuf",
                logs_request(vec![crate::log(1)]).encode_to_vec(),
                200,
            )
        },
        Case {
            path: "/v1/metrics",
            ..case(
                "metrics",
                "application/x-protobuf",
                metrics_request(3).encode_to_vec(),
                200,
            )
        },
    ];
    for case in &cases {
        let response = send(&running, case).await;
        assert_eq!(response.status().as_u16(), case.status, "{}", case.name);
        if let Some(expected) = case.reply_type {
            let reply_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // The media type must be there and match; parameters such as a charset may
            // differ.
            let essence = |media: &str| {
                media
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            assert!(
                !reply_type.is_empty() && essence(expected) == essence(&reply_type),
                "{}: replied {reply_type:?}",
                case.name
            );
            let body = response.bytes().await.expect("body");
            if case.status >= 400 && reply_type == "application/x-protobuf" {
                let status = tonic_types::Status::decode(body.as_ref()).expect("google.rpc.Status");
                // google.rpc.Code: INVALID_ARGUMENT for bad content and unsupported
                // types or encodings, RESOURCE_EXHAUSTED for too large.
                let code = match case.status {
                    400 | 415 => 3,
                    413 => 8,
                    other => panic!("{}: no gRPC code expected for {other}", case.name),
                };
                assert_eq!(status.code, code, "{}", case.name);
                assert!(!status.message.is_empty(), "{}", case.name);
            }
            if case.status >= 400 && reply_type == "application/json" {
                let status: serde_json::Value = serde_json::from_slice(&body).expect("json status");
                assert!(
                    status["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{}",
                    case.name
                );
            }
        }
    }
    let blocks = running.finish().await;
    let spans: usize = blocks.iter().map(|b| b.spans.len()).sum();
    // protobuf, json, json with charset, the valid span of the partly bad request, gzip x2.
    assert_eq!(spans, 6);
    assert_eq!(blocks.iter().map(|b| b.logs.len()).sum::<usize>(), 1);
    assert_eq!(blocks.iter().map(|b| b.metrics.len()).sum::<usize>(), 1);
}

#[tokio::test]
async fn partial_success_names_the_rejected_records() {
    let running = start().await;
    let mut no_trace = span(1);
    no_trace.trace_id = Vec::new();
    let mut short_parent = span(2);
    short_parent.parent_span_id = vec![7; 4];
    let body = traces_request(vec![span(0), no_trace, short_parent]).encode_to_vec();
    let response = reqwest::Client::new()
        .post(running.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    let reply = ExportTraceServiceResponse::decode(response.bytes().await.expect("body").as_ref())
        .expect("response");
    let partial = reply.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("trace_id"),
        "{}",
        partial.error_message
    );
    let blocks = running.finish().await;
    assert_eq!(blocks.iter().map(|b| b.spans.len()).sum::<usize>(), 1);
}

/// OTLP JSON: hex ids, 64-bit integers as strings or numbers, unknown fields ignored,
/// and ids of the wrong length rejected.
#[tokio::test]
async fn json_follows_the_otlp_json_rules() {
    let running = start().await;
    let body = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}], "futureField": 1},
        "scopeSpans": [{
          "scope": {"name": "lib", "version": "2"},
          "spans": [
            {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "parentSpanId": "",
             "name": "numbers as strings", "kind": 3,
             "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000100",
             "attributes": [{"key": "count", "value": {"intValue": "9007199254740993"}},
                            {"key": "ratio", "value": {"doubleValue": 0.5}},
                            {"key": "ok", "value": {"boolValue": true}},
                            {"key": "raw", "value": {"bytesValue": "aGk="}},
                            {"key": "list", "value": {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "a"}]}}}],
             "status": {"code": 2, "message": "boom"}, "someUnknownField": {"nested": true}},
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174",
             "name": "numbers as numbers", "startTimeUnixNano": 1700000000000000200, "endTimeUnixNano": 1700000000000000300,
             "attributes": [{"key": "count", "value": {"intValue": 7}}]},
            {"traceId": "5b8efff798038103", "spanId": "eee19b7ec3c1b176", "name": "short trace id"},
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3", "name": "short span id"}
          ]
        }]
      }]
    }"#;
    let response = reqwest::Client::new()
        .post(running.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    let reply: serde_json::Value = response.json_value().await;
    assert_eq!(
        reply["partialSuccess"]["rejectedSpans"],
        serde_json::json!(2)
    );
    let blocks = running.finish().await;
    let block = &blocks[0];
    let spans = &block.spans;
    assert_eq!(spans.len(), 2);
    assert_eq!(block.str(spans[0].name), "numbers as strings");
    assert_eq!(spans[0].trace_id_high, 0x5b8e_fff7_9803_8103);
    assert_eq!(spans[0].trace_id_low, 0xd269_b633_813f_c60c);
    let columns = block.span_columns();
    assert_eq!(columns[0].span_id, 0xeee1_9b7e_c3c1_b174);
    assert_eq!(columns[0].parent_span_id, 0);
    assert_eq!(columns[1].parent_span_id, 0xeee1_9b7e_c3c1_b174);
    assert_eq!(columns[0].start_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(columns[1].start_unix_nano, 1_700_000_000_000_000_200);
    assert_eq!(spans[0].status_code, 2);
    assert_eq!(spans[0].status_message, "boom");
    let value = |span: &oculus_store::proto::Span, key: &str| {
        span.attributes
            .iter()
            .find(|kv| block.str(kv.key) == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        value(&spans[0], "count"),
        Some(Value::IntValue(9_007_199_254_740_993))
    );
    assert_eq!(value(&spans[1], "count"), Some(Value::IntValue(7)));
    assert_eq!(value(&spans[0], "ratio"), Some(Value::DoubleValue(0.5)));
    assert_eq!(value(&spans[0], "ok"), Some(Value::BoolValue(true)));
    assert_eq!(
        value(&spans[0], "raw"),
        Some(Value::BytesValue(b"hi".to_vec()))
    );
    // And back out: the export is OTLP JSON with lower-case hex ids.
    let exported = serde_json::to_value(export::traces(block)).expect("json");
    let first = &exported["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(first["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(first["startTimeUnixNano"], "1700000000000000000");
}

trait JsonBody {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonBody for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.expect("body")).expect("json body")
    }
}

/// When the in-flight budget is used up, clients are told to come back later.
#[tokio::test]
async fn overload_is_503_with_retry_after() {
    use tokio::io::AsyncWriteExt;
    let running = start_with(|config| {
        config.max_message_bytes = 64 << 10;
        config.max_inflight_bytes = 64 << 10;
    })
    .await;
    // A slow client holds 60 KiB of the budget by sending most of a body and stalling.
    let mut slow = tokio::net::TcpStream::connect(running.collector.http_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        64 << 10
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.write_all(&vec![0u8; 60 << 10]).await.expect("write");
    slow.flush().await.expect("flush");
    let body = traces_request((0..100).map(span).collect()).encode_to_vec();
    assert!(body.len() > 4 << 10);
    let mut status = 0;
    let mut retry_after = None;
    // The stalled body reaches the server asynchronously; give it a few tries.
    for _ in 0..50 {
        let response = reqwest::Client::new()
            .post(running.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        status = response.status().as_u16();
        retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 503);
    assert_eq!(retry_after.as_deref(), Some("1"));
    drop(slow);
    // Once the slow client is gone the budget is back.
    let mut accepted = false;
    for _ in 0..50 {
        let response = reqwest::Client::new()
            .post(running.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        if response.status().as_u16() == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(accepted, "the budget was not returned");
    running.finish().await;
}

/// Log records and metrics as OTLP JSON, written by hand as an SDK sends them: what is
/// stored is what the JSON says, and a record with an id of the wrong length is
/// rejected alone, as partial success.
#[tokio::test]
async fn json_logs_and_metrics_are_stored_as_sent() {
    let running = start().await;
    let logs = r#"{"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-logs"}}]},
        "scopeLogs": [{"scope": {"name": "lib"}, "logRecords": [
          {"timeUnixNano": "1700000000000000000", "observedTimeUnixNano": 1700000000000000001,
           "severityNumber": 17, "severityText": "ERROR", "body": {"stringValue": "disk is full"},
           "attributes": [{"key": "attempt", "value": {"intValue": "3"}}],
           "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174"},
          {"timeUnixNano": "1700000000000000002", "body": {"stringValue": "short trace id"},
           "traceId": "5b8efff798038103"}
        ]}]
    }]}"#;
    let metrics = r#"{"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-metrics"}}]},
        "scopeMetrics": [{"scope": {"name": "lib"}, "metrics": [
          {"name": "queue.depth", "unit": "{item}", "gauge": {"dataPoints": [
            {"timeUnixNano": "1700000000000000000", "asDouble": 4.5},
            {"timeUnixNano": 1700000001000000000, "asInt": "7"}]}},
          {"name": "requests", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"timeUnixNano": "1700000000000000000", "asInt": 12}]}}
        ]}]
    }]}"#;
    let post = |path: &'static str, body: &'static str| {
        reqwest::Client::new()
            .post(running.http_url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = post("/v1/logs", logs).await.expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    let reply = response.json_value().await;
    assert_eq!(
        reply["partialSuccess"]["rejectedLogRecords"],
        serde_json::json!(1)
    );
    assert!(
        reply["partialSuccess"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("trace_id")),
        "{reply}"
    );
    let response = post("/v1/metrics", metrics).await.expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    // Nothing rejected: no partial success at all.
    let reply = response.json_value().await;
    assert!(
        reply
            .get("partialSuccess")
            .is_none_or(serde_json::Value::is_null),
        "{reply}"
    );

    let blocks = running.finish().await;
    let logs: Vec<_> = blocks.iter().filter(|b| !b.logs.is_empty()).collect();
    assert_eq!(logs.len(), 1);
    let block = logs[0];
    assert_eq!(block.logs.len(), 1);
    let record = &block.logs[0];
    assert_eq!(
        block.log_times()[0],
        (1_700_000_000_000_000_000, 1_700_000_000_000_000_001)
    );
    assert_eq!(record.severity_number, 17);
    assert_eq!(
        record.body.clone().and_then(|b| b.value),
        Some(Value::StringValue("disk is full".into()))
    );
    let attempt = &record.attributes[0];
    assert_eq!(block.str(attempt.key), "attempt");
    assert_eq!(
        attempt.value.clone().and_then(|v| v.value),
        Some(Value::IntValue(3))
    );
    let exported = serde_json::to_value(export::logs(block)).expect("json");
    let out = &exported["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(out["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(out["spanId"], "eee19b7ec3c1b174");
    assert_eq!(out["severityText"], "ERROR");

    let metrics: Vec<_> = blocks.iter().filter(|b| !b.metrics.is_empty()).collect();
    assert_eq!(metrics.len(), 1);
    let exported =
        serde_json::to_value(export::metrics(metrics[0]).expect("decodes")).expect("json");
    let stored = &exported["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    assert_eq!(stored[0]["name"], "queue.depth");
    assert_eq!(stored[0]["unit"], "{item}");
    let points = &stored[0]["gauge"]["dataPoints"];
    assert_eq!(points[0]["asDouble"], serde_json::json!(4.5));
    assert_eq!(points[1]["asInt"], "7");
    assert_eq!(points[1]["timeUnixNano"], "1700000001000000000");
    assert_eq!(stored[1]["name"], "requests");
    assert_eq!(stored[1]["sum"]["isMonotonic"], serde_json::json!(true));
    assert_eq!(stored[1]["sum"]["dataPoints"][0]["asInt"], "12");
}

/// A web page cannot post to a loopback collector: a browser's Origin is refused unless
/// allowed, and a Host that is not a loopback name (DNS rebinding) is refused too.
/// An allowed origin gets its preflight answered and its origin named in the reply.
#[tokio::test]
async fn web_pages_are_kept_out_unless_their_origin_is_allowed() {
    let running =
        start_with(|config| config.cors_origins = vec!["http://localhost:3000".into()]).await;
    let body = logs_request(vec![crate::log(1)]).encode_to_vec();
    let client = reqwest::Client::new();
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut request = client
            .post(running.http_url("/v1/logs"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for (what, headers) in [
        (
            "a page of another origin",
            vec![("origin", "https://evil.example")],
        ),
        (
            "a name rebound to loopback",
            vec![("host", "evil.example:4318")],
        ),
    ] {
        let response = post(&headers).await.expect("answered");
        assert_eq!(response.status().as_u16(), 403, "{what}");
        let status = response.json_value().await;
        assert_eq!(status["code"], serde_json::json!(7), "{what}: {status}");
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains("refused") || m.contains("not this collector")),
            "{what}: {status}"
        );
    }

    let preflight = client
        .request(reqwest::Method::OPTIONS, running.http_url("/v1/logs"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("answered");
    assert_eq!(preflight.status().as_u16(), 204);
    let allowed = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        allowed(&preflight).as_deref(),
        Some("http://localhost:3000")
    );
    let response = post(&[("origin", "http://localhost:3000")])
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(allowed(&response).as_deref(), Some("http://localhost:3000"));
    // An SDK: no Origin, and a loopback Host.
    let response = post(&[("host", "localhost:4318")]).await.expect("answered");
    assert_eq!(response.status().as_u16(), 200);

    let blocks = running.finish().await;
    assert_eq!(
        blocks.iter().map(|b| b.logs.len()).sum::<usize>(),
        2,
        "only the allowed posts are stored"
    );
}
