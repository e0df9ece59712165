//! OTLP files both ways through the shipped binary: `export` in each format, with and
//! without zstd, `import` into a new session, export again and compare record by
//! record; and each kind of malformed input, with its message and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use oculus_otlp::types::common::v1::InstrumentationScope;
use oculus_otlp::types::resource::v1::Resource;
use oculus_otlp::{Data, FileReader};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::roundtrip::{rich_logs, rich_metrics, rich_traces};
use crate::{Running, start};

fn collector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
}

#[track_caller]
fn run(command: &mut Command) -> Output {
    command.output().expect("oculus-collector runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Sends the rich traces, logs and metrics over gRPC and stops the collector; returns
/// its data directory.
async fn stored_rich_data() -> tempfile::TempDir {
    let running = start().await;
    let url = running.grpc_url();
    TraceServiceClient::connect(url.clone())
        .await
        .expect("connect")
        .export(ExportTraceServiceRequest {
            resource_spans: rich_traces().resource_spans,
        })
        .await
        .expect("traces");
    LogsServiceClient::connect(url.clone())
        .await
        .expect("connect")
        .export(ExportLogsServiceRequest {
            resource_logs: rich_logs().resource_logs,
        })
        .await
        .expect("logs");
    MetricsServiceClient::connect(url)
        .await
        .expect("connect")
        .export(ExportMetricsServiceRequest {
            resource_metrics: rich_metrics().resource_metrics,
        })
        .await
        .expect("metrics");
    let Running { collector, dir } = running;
    collector.shutdown().await.expect("shutdown");
    dir
}

#[track_caller]
fn export(from: &Path, to: &Path, args: &[&str]) {
    let output = run(collector()
        .arg("export")
        .args(args)
        .arg("--output")
        .arg(to)
        .arg(from));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[track_caller]
fn import(data_dir: &Path, files: &[&Path]) -> Output {
    run(collector()
        .arg("import")
        .arg("--data-dir")
        .arg(data_dir)
        .args(files))
}

/// One record with the resource and scope it sits in: what "the same records" means,
/// whatever messages or blocks they were grouped in.
#[derive(Debug, PartialEq)]
enum Record {
    Span(Origin, Box<oculus_otlp::types::trace::v1::Span>),
    Log(Origin, Box<oculus_otlp::types::logs::v1::LogRecord>),
    Metric(Origin, Box<oculus_otlp::types::metrics::v1::Metric>),
}

#[derive(Debug, PartialEq)]
struct Origin {
    resource: Option<Resource>,
    resource_schema_url: String,
    scope: Option<InstrumentationScope>,
    scope_schema_url: String,
}

fn records(data: Vec<Data>) -> Vec<Record> {
    let mut records = Vec::new();
    for data in data {
        match data {
            Data::Traces(traces) => {
                for r in traces.resource_spans {
                    for s in r.scope_spans {
                        for span in s.spans {
                            let origin = Origin {
                                resource: r.resource.clone(),
                                resource_schema_url: r.schema_url.clone(),
                                scope: s.scope.clone(),
                                scope_schema_url: s.schema_url.clone(),
                            };
                            records.push(Record::Span(origin, Box::new(span)));
                        }
                    }
                }
            }
            Data::Logs(logs) => {
                for r in logs.resource_logs {
                    for s in r.scope_logs {
                        for log in s.log_records {
                            let origin = Origin {
                                resource: r.resource.clone(),
                                resource_schema_url: r.schema_url.clone(),
                                scope: s.scope.clone(),
                                scope_schema_url: s.schema_url.clone(),
                            };
                            records.push(Record::Log(origin, Box::new(log)));
                        }
                    }
                }
            }
            Data::Metrics(metrics) => {
                for r in metrics.resource_metrics {
                    for s in r.scope_metrics {
                        for metric in s.metrics {
                            let origin = Origin {
                                resource: r.resource.clone(),
                                resource_schema_url: r.schema_url.clone(),
                                scope: s.scope.clone(),
                                scope_schema_url: s.schema_url.clone(),
                            };
                            records.push(Record::Metric(origin, Box::new(metric)));
                        }
                    }
                }
            }
        }
    }
    records
}

/// Every message of an OTLP file, asserting it reads without a problem.
#[track_caller]
fn read_file(path: &Path) -> Vec<Data> {
    FileReader::open(path)
        .expect("opens")
        .map(|message| {
            message
                .expect("well-formed")
                .payload
                .into_data()
                .expect("decodes")
        })
        .collect()
}

fn rich_records() -> Vec<Record> {
    records(vec![
        Data::Traces(rich_traces()),
        Data::Logs(rich_logs()),
        Data::Metrics(rich_metrics()),
    ])
}

#[tokio::test]
async fn export_import_export_keeps_every_record_in_each_format() {
    let stored = stored_rich_data().await;
    let work = tempfile::tempdir().expect("tempdir");
    for (name, args) in [
        ("json", &["--format", "otlp-json"][..]),
        (
            "json.zst",
            &["--format", "otlp-json", "--compression", "zstd"],
        ),
        ("pb", &["--format", "otlp-proto"]),
        (
            "pb.zst",
            &["--format", "otlp-proto", "--compression", "zstd"],
        ),
    ] {
        let first = work.path().join(format!("first.{name}"));
        export(stored.path(), &first, args);
        let reader = FileReader::open(&first).expect("opens");
        assert_eq!(reader.is_compressed(), name.ends_with("zst"), "{name}");
        assert_eq!(reader.is_json(), name.starts_with("json"), "{name}");
        assert_eq!(records(read_file(&first)), rich_records(), "{name}");

        let imported = work.path().join(format!("imported-{name}"));
        let output = import(&imported, &[&first]);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            said.contains("imported 4 spans, 3 log records and 3 metric points into"),
            "{said}"
        );

        let again = work.path().join(format!("again.{name}"));
        export(&imported, &again, args);
        assert_eq!(records(read_file(&again)), rich_records(), "{name}");

        let check = run(collector().arg("check").arg(&imported));
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

/// What OTLP JSON Lines look like as the OpenTelemetry Collector's file exporter
/// writes them: one message per line, the same records as the rich ones.
fn json_lines() -> Vec<String> {
    vec![
        serde_json::to_string(&rich_traces()).expect("json"),
        serde_json::to_string(&rich_logs()).expect("json"),
        serde_json::to_string(&rich_metrics()).expect("json"),
    ]
}

fn exported_records(data_dir: &Path) -> Vec<Record> {
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("out.pb");
    export(data_dir, &file, &["--format", "otlp-proto"]);
    records(read_file(&file))
}

#[test]
fn a_bad_line_in_the_middle_is_reported_and_the_rest_imported() {
    let work = tempfile::tempdir().expect("tempdir");
    let lines = json_lines();
    let file = work.path().join("mixed.jsonl");
    let text = format!(
        "{}\n{{\"resourceSpans\": [oops\n{}\n{}\n",
        lines[0], lines[1], lines[2]
    );
    std::fs::write(&file, text).expect("write");
    let data_dir = work.path().join("data");
    let output = import(&data_dir, &[&file]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("{}: line 2: invalid OTLP JSON", file.display())),
        "{said}"
    );
    assert!(
        said.contains("1 malformed lines, messages or records"),
        "{said}"
    );
    assert_eq!(exported_records(&data_dir), rich_records());
}

#[test]
fn a_truncated_protobuf_message_is_reported_with_its_offset() {
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("cut.pb");
    let mut bytes = Vec::new();
    let mut offsets = Vec::new();
    for data in [
        Data::Traces(rich_traces()),
        Data::Logs(rich_logs()),
        Data::Metrics(rich_metrics()),
    ] {
        offsets.push(bytes.len());
        let message = data.encode_to_vec();
        bytes.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
        bytes.extend_from_slice(&message);
    }
    let announced = bytes.len() - offsets[2] - 4;
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&file, &bytes).expect("write");
    let data_dir = work.path().join("data");
    let output = import(&data_dir, &[&file]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    let expected = format!(
        "{}: byte offset {}: truncated message: its length prefix says {announced} bytes, {} follow",
        file.display(),
        offsets[2],
        announced - 10
    );
    assert!(said.contains(&expected), "{said}");
    let kept: Vec<Record> = records(vec![Data::Traces(rich_traces()), Data::Logs(rich_logs())]);
    assert_eq!(exported_records(&data_dir), kept);
    let check = run(collector().arg("check").arg(&data_dir));
    assert!(check.status.success());
}

#[test]
fn a_truncated_zstd_stream_is_reported_and_what_came_before_kept() {
    let work = tempfile::tempdir().expect("tempdir");
    // Lines that differ (a pseudo-random name each), so that the stream has several
    // zstd blocks and damage near its end leaves the first ones readable.
    let mut text = String::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2000 {
        let name: String = (0..40)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{:016x}", state)
            })
            .collect();
        let mut traces = rich_traces();
        traces.resource_spans[0].scope_spans[0].spans[0].name = name;
        text.push_str(&serde_json::to_string(&traces).expect("json"));
        text.push('\n');
    }
    let mut compressed = zstd::encode_all(text.as_bytes(), 1).expect("compress");
    // A copy cut short: the last zstd block is incomplete.
    compressed.truncate(compressed.len() - 100);
    let file = work.path().join("damaged.jsonl.zst");
    std::fs::write(&file, &compressed).expect("write");
    let data_dir = work.path().join("data");
    let output = import(&data_dir, &[&file]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("{}: line ", file.display())),
        "{said}"
    );
    assert!(said.contains("cannot decompress (zstd)"), "{said}");
    assert!(!said.contains(": line 1: "), "{said}");
    let kept = exported_records(&data_dir);
    assert!(
        kept.len() > 4 * 100 && kept.len() < 4 * 2000,
        "{} spans imported",
        kept.len()
    );
    let check = run(collector().arg("check").arg(&data_dir));
    assert!(check.status.success());
}

#[test]
fn a_file_that_is_not_zstd_after_its_magic_is_refused_clearly() {
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("bad.zst");
    std::fs::write(&file, [0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8]).expect("write");
    let output = import(&work.path().join("data"), &[&file]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(
        said.contains(&format!(
            "{}: byte offset 0: cannot decompress (zstd)",
            file.display()
        )),
        "{said}"
    );
}

/// The specification's examples are single pretty-printed documents with upper-case
/// hex ids and times as JSON numbers.
#[test]
fn a_single_pretty_printed_otlp_document_is_imported() {
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("trace.json");
    let document = r#"{
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } }
        ]
      },
      "scopeSpans": [
        {
          "scope": { "name": "my.library", "version": "1.0.0" },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": 1544712660000000000,
              "endTimeUnixNano": 1544712661000000000,
              "kind": 2,
              "attributes": [
                { "key": "my.span.attr", "value": { "stringValue": "some value" } }
              ]
            }
          ]
        }
      ]
    }
  ]
}
"#;
    std::fs::write(&file, document).expect("write");
    let data_dir = work.path().join("data");
    let output = import(&data_dir, &[&file]);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = exported_records(&data_dir);
    let [Record::Span(origin, span)] = &exported[..] else {
        panic!("{exported:?}");
    };
    assert_eq!(
        span.trace_id,
        [
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(
        origin.scope.as_ref().map(|s| s.name.as_str()),
        Some("my.library")
    );

    let broken = work.path().join("broken.json");
    std::fs::write(&broken, document.replace("\"kind\": 2,", "\"kind\": 2,,")).expect("write");
    let output = import(&data_dir, &[&broken]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(
        said.contains(&format!(
            "{}: line 20: invalid OTLP JSON document",
            broken.display()
        )),
        "{said}"
    );
}

#[tokio::test]
async fn importing_into_a_directory_a_collector_writes_fails_clearly() {
    let running = start().await;
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("one.jsonl");
    std::fs::write(&file, &json_lines()[0]).expect("write");
    let output = import(running.dir.path(), &[&file]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(said.contains("stop that collector first"), "{said}");
    assert!(
        said.contains(&format!(
            "is in use by another collector (pid {})",
            std::process::id()
        )),
        "{said}"
    );
    running.finish().await;
}

fn exported_spans(data_dir: &Path, args: &[&str]) -> Vec<String> {
    let work = tempfile::tempdir().expect("tempdir");
    let file: PathBuf = work.path().join("out.jsonl");
    export(data_dir, &file, args);
    records(read_file(&file))
        .into_iter()
        .filter_map(|record| match record {
            Record::Span(_, span) => Some(span.name),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn export_filters_by_service_trace_and_time() {
    let stored = stored_rich_data().await;
    let all = exported_spans(stored.path(), &["--signal", "traces"]);
    assert_eq!(all.len(), 4);
    // Service "b" holds span(4) only.
    assert_eq!(
        exported_spans(stored.path(), &["--service", "b"]),
        [crate::span(4).name]
    );
    let trace = crate::span(2).trace_id;
    let hex: String = trace.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        exported_spans(stored.path(), &["--trace-id", &hex]),
        [crate::span(2).name]
    );
    // A prefix of the id, as the viewer takes it: every span here starts with `abab`.
    assert_eq!(
        exported_spans(stored.path(), &["--trace-id", &hex[..8]]),
        all
    );
    assert!(exported_spans(stored.path(), &["--trace-id", "abababac"]).is_empty());
    // The untimed span starts at 0; the others at the test data's times.
    let start = crate::span(1).start_time_unix_nano;
    let at = |nanos: u64| {
        humantime::format_rfc3339_nanos(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos),
        )
        .to_string()
    };
    let late = exported_spans(stored.path(), &["--since", &at(start)]);
    assert_eq!(late.len(), 3, "{late:?}");
    assert_eq!(
        exported_spans(stored.path(), &["--until", &at(start)]),
        [crate::span(3).name]
    );
    assert!(exported_spans(stored.path(), &["--since", "-1m"]).is_empty());
    let output = run(collector()
        .args(["export", "--since", "yesterday"])
        .arg(stored.path()));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not a time: \"yesterday\""),
        "{}",
        stderr(&output)
    );
}

/// Length-prefixed protobuf messages of 100 spans each, spans numbered from `first`.
fn proto_messages(first: u64, messages: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for message in 0..messages {
        let start = first + message * 100;
        let request = crate::traces_request((start..start + 100).map(crate::span).collect());
        let data = Data::Traces(oculus_otlp::types::trace::v1::TracesData {
            resource_spans: request.resource_spans,
        });
        let encoded = data.encode_to_vec();
        bytes.extend_from_slice(&u32::try_from(encoded.len()).expect("small").to_be_bytes());
        bytes.extend_from_slice(&encoded);
    }
    bytes
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// An import fed through a pipe, so that the test knows what it has read when it is
/// stopped: a write into a full pipe returns only once the importer took most of it.
fn import_from_pipe(data_dir: &Path, pipe: &Path) -> std::process::Child {
    let made = Command::new("mkfifo")
        .arg(pipe)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    collector()
        .arg("import")
        .arg("--data-dir")
        .arg(data_dir)
        .arg(pipe)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("import starts")
}

#[test]
fn ctrl_c_stops_an_import_with_what_was_read_kept_and_sealed() {
    use std::io::Write;
    let work = tempfile::tempdir().expect("tempdir");
    let data_dir = work.path().join("data");
    let pipe = work.path().join("spans.pb");
    let child = import_from_pipe(&data_dir, &pipe);
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&pipe)
        .expect("pipe opens");
    // Far more than the pipe and the reader's buffer hold (64 KiB each).
    let early = proto_messages(0, 40);
    assert!(early.len() > 512 << 10);
    writer.write_all(&early).expect("written");
    signal(&child, "-INT");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // An importer waiting for more reads this, sees it was told to stop, and stops;
    // one that still had messages buffered has stopped at the next of them already.
    match writer.write_all(&proto_messages(4000, 1)) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("{e}"),
        _ => {}
    }
    drop(writer);
    let output = child.wait_with_output().expect("import ends");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );

    let check = run(collector().arg("check").arg(&data_dir));
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{summary}");
    assert!(summary.contains("status            ok"), "{summary}");
    let resolved = oculus_store::resolve(&data_dir).expect("resolve");
    for segment in resolved.segment_paths() {
        assert!(oculus_store::segment::is_sealed(segment).expect("reads"));
    }
    // What was imported is the first spans, in order, each once.
    let names: Vec<String> = exported_records(&data_dir)
        .into_iter()
        .map(|record| match record {
            Record::Span(_, span) => span.name,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        names.len() >= 3000 && names.len() <= 4000,
        "{} spans",
        names.len()
    );
    let expected: Vec<String> = (0..names.len() as u64)
        .map(|n| crate::span(n).name)
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn a_killed_import_leaves_a_session_that_checks_clean() {
    use std::io::Write;
    let work = tempfile::tempdir().expect("tempdir");
    let data_dir = work.path().join("data");
    let pipe = work.path().join("spans.pb");
    let mut child = import_from_pipe(&data_dir, &pipe);
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&pipe)
        .expect("pipe opens");
    // More than one batch (1 MiB), so that blocks were written when it is killed.
    writer.write_all(&proto_messages(0, 120)).expect("written");
    signal(&child, "-KILL");
    child.wait().expect("killed");
    drop(writer);

    let check = run(collector().arg("check").arg(&data_dir));
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{summary}");
    assert!(summary.contains("status            ok"), "{summary}");
    assert!(!summary.contains("spans             0\n"), "{summary}");
    // The next import recovers it (seals it) and goes on in a session of its own.
    let file = work.path().join("more.pb");
    std::fs::write(&file, proto_messages(100_000, 1)).expect("write");
    let output = import(&data_dir, &[&file]);
    assert!(output.status.success(), "{}", stderr(&output));
    let resolved = oculus_store::resolve(&data_dir).expect("resolve");
    assert_eq!(resolved.sessions.len(), 2);
    for segment in resolved.segment_paths() {
        assert!(oculus_store::segment::is_sealed(segment).expect("reads"));
    }
}
