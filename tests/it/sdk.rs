//! What the other languages' tests share (`sdk_python.rs`, `sdk_javascript.rs`): the
//! shipped `oculus-collector` on ephemeral loopback ports, an SDK program from
//! `tests/sdk/` that sends over gRPC, HTTP/protobuf and HTTP/JSON and prints what its SDK
//! recorded, `oculus-collector export` of both signals, and the comparison.
//!
//! Both sides are brought to one form (`tests/sdk/*/send.*` print it): a span or log
//! record as JSON with its resource and scope, ids in lower-case hex, times in
//! nanoseconds as strings, and each attribute value tagged with its OTLP type
//! (`{"int": 42}`, `{"array": [...]}`), so that a value that changed type does not compare
//! equal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogsData;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{TracesData, span::SpanKind, status::StatusCode};
use serde_json::{Value, json};

use crate::layout::repo_root;

/// The OTLP transports every SDK program sends over, as its service names end.
pub const PROTOCOLS: [&str; 3] = ["grpc", "http-protobuf", "http-json"];

/// How long an SDK program, a collector start or stop, or an export may take.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// The `oculus-collector` binary, built once per test process. This crate only links
/// the collector's library, so cargo gives its tests no `CARGO_BIN_EXE_` for it.
fn collector_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--message-format=json"])
            .args(["-p", "oculus-collector", "--bin", "oculus-collector"])
            .current_dir(repo_root())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo build of oculus-collector failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| message["target"]["name"] == "oculus-collector")
            .and_then(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the oculus-collector executable")
    })
}

/// A process's exit status and everything it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to its end, killing it past `PROCESS_TIMEOUT` (an exporter that
/// retries forever must fail the test, not hang it).
pub fn run(command: &mut Command) -> Finished {
    let described = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {described}: {e}"));
    let stdout = read_to_end("stdout", child.stdout.take().expect("piped stdout"));
    let stderr = read_to_end("stderr", child.stderr.take().expect("piped stderr"));
    let status = wait(&mut child, &described);
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_to_end(
    name: &str,
    mut pipe: impl Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::Builder::new()
        .name(format!("child {name}"))
        .spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text)
                .expect("read a child's output");
            text
        })
        .expect("spawn a reader thread")
}

fn wait(child: &mut Child, described: &str) -> ExitStatus {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill a child that timed out");
            panic!("{described} did not finish within {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shipped collector serving on ephemeral loopback ports into a temporary data
/// directory.
pub struct CollectorProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    data_dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl CollectorProcess {
    pub fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(collector_binary())
            .args(["serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("oculus-collector starts");
        // The log names the ports it bound; it is kept whole for the failure messages.
        let log = Arc::new(Mutex::new(String::new()));
        let (bound, addresses) = mpsc::sync_channel(1);
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let kept = Arc::clone(&log);
        let reader = std::thread::Builder::new().name("collector log".into());
        let spawned = reader.spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("receiving OTLP") {
                    let _ = bound.send((address(&line, "grpc="), address(&line, "http=")));
                }
                let mut log = kept.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        spawned.expect("spawn the collector log reader");
        let Ok((grpc, http)) = addresses.recv_timeout(PROCESS_TIMEOUT) else {
            let _ = child.kill();
            panic!(
                "oculus-collector did not say where it listens:\n{}",
                log.lock().expect("log lock")
            );
        };
        Self {
            child,
            grpc,
            http,
            data_dir,
            log,
        }
    }

    /// Stops the collector as a user does (SIGTERM), which seals its session, and checks
    /// that it exited cleanly.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "kill -TERM {pid} failed (procps installs kill)"
        );
        let status = wait(&mut self.child, "oculus-collector serve");
        assert!(
            status.success(),
            "collector exited with {status}:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// `oculus-collector export --signal SIGNAL` of the data directory, one OTLP JSON
    /// document per line.
    pub fn export(&self, signal: &str) -> Vec<String> {
        let finished = run(Command::new(collector_binary())
            .args(["export", "--signal", signal])
            .arg(self.data_dir.path()));
        assert!(
            finished.status.success(),
            "export --signal {signal} exited with {}:\n{}",
            finished.status,
            finished.stderr
        );
        finished.stdout.lines().map(str::to_owned).collect()
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        // A test that failed before `stop` leaves no collector behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn address(line: &str, key: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(key))
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no {key} address in {line:?}"))
}

/// Spans and log records in the one form both sides are compared in.
#[derive(Debug, Default)]
pub struct Records {
    pub spans: Vec<Value>,
    pub logs: Vec<Value>,
}

impl Records {
    /// What an SDK program printed: `{"spans": [...], "logs": [...]}`.
    pub fn from_program(stdout: &str) -> Self {
        let printed: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("the SDK program printed no JSON ({e}):\n{stdout}"));
        let list = |key: &str| {
            printed[key]
                .as_array()
                .unwrap_or_else(|| panic!("no {key} list in {printed}"))
                .clone()
        };
        Self {
            spans: list("spans"),
            logs: list("logs"),
        }
    }

    /// What `oculus-collector export` wrote for traces and for logs.
    pub fn from_export(traces: &[String], logs: &[String]) -> Self {
        let mut records = Self::default();
        for line in traces {
            let data: TracesData = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("export wrote no OTLP TracesData ({e}): {line}"));
            for resource_spans in data.resource_spans {
                let resource = resource_attributes(resource_spans.resource.as_ref());
                for scope_spans in resource_spans.scope_spans {
                    let scope = scope(scope_spans.scope.as_ref());
                    for span in scope_spans.spans {
                        let status = span.status.unwrap_or_default();
                        records.spans.push(json!({
                            "resource": resource,
                            "scope": scope,
                            "name": span.name,
                            "kind": kind(span.kind),
                            "trace_id": hex(&span.trace_id),
                            "span_id": hex(&span.span_id),
                            "parent_span_id": hex(&span.parent_span_id),
                            "start": span.start_time_unix_nano.to_string(),
                            "end": span.end_time_unix_nano.to_string(),
                            "attributes": attributes(&span.attributes),
                            "events": span.events.iter().map(|e| json!({
                                "name": e.name,
                                "time": e.time_unix_nano.to_string(),
                                "attributes": attributes(&e.attributes),
                            })).collect::<Vec<_>>(),
                            "links": span.links.iter().map(|l| json!({
                                "trace_id": hex(&l.trace_id),
                                "span_id": hex(&l.span_id),
                                "attributes": attributes(&l.attributes),
                            })).collect::<Vec<_>>(),
                            "status": {"code": status_code(status.code), "message": status.message},
                        }));
                    }
                }
            }
        }
        for line in logs {
            let data: LogsData = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("export wrote no OTLP LogsData ({e}): {line}"));
            for resource_logs in data.resource_logs {
                let resource = resource_attributes(resource_logs.resource.as_ref());
                for scope_logs in resource_logs.scope_logs {
                    let scope = scope(scope_logs.scope.as_ref());
                    for record in scope_logs.log_records {
                        records.logs.push(json!({
                            "resource": resource,
                            "scope": scope,
                            "time": record.time_unix_nano.to_string(),
                            "observed_time": record.observed_time_unix_nano.to_string(),
                            "severity_number": record.severity_number,
                            "severity_text": record.severity_text,
                            "body": record.body.as_ref().map_or(Value::Null, tagged),
                            "attributes": attributes(&record.attributes),
                            "event_name": record.event_name,
                            "trace_id": hex(&record.trace_id),
                            "span_id": hex(&record.span_id),
                        }));
                    }
                }
            }
        }
        records
    }

    /// The records of one service.
    pub fn of_service(&self, service: &str) -> Self {
        let of = |records: &[Value]| {
            records
                .iter()
                .filter(|r| r["resource"]["service.name"]["string"] == service)
                .cloned()
                .collect()
        };
        Self {
            spans: of(&self.spans),
            logs: of(&self.logs),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind(kind: i32) -> String {
    let name = SpanKind::try_from(kind).map_or("unknown", |k| k.as_str_name());
    name.trim_start_matches("SPAN_KIND_").to_owned()
}

fn status_code(code: i32) -> String {
    let name = StatusCode::try_from(code).map_or("unknown", |c| c.as_str_name());
    name.trim_start_matches("STATUS_CODE_").to_owned()
}

fn scope(scope: Option<&InstrumentationScope>) -> Value {
    let scope = scope.cloned().unwrap_or_default();
    json!({"name": scope.name, "version": scope.version})
}

fn resource_attributes(resource: Option<&Resource>) -> Value {
    resource.map_or_else(|| json!({}), |r| attributes(&r.attributes))
}

fn attributes(attributes: &[KeyValue]) -> Value {
    let map: BTreeMap<&str, Value> = attributes
        .iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().map_or(Value::Null, tagged),
            )
        })
        .collect();
    json!(map)
}

/// A value tagged with its OTLP type, as the SDK programs print it.
fn tagged(value: &AnyValue) -> Value {
    match &value.value {
        Some(Any::StringValue(s)) => json!({ "string": s }),
        Some(Any::IntValue(i)) => json!({ "int": i }),
        Some(Any::DoubleValue(d)) => json!({ "double": d }),
        Some(Any::BoolValue(b)) => json!({ "bool": b }),
        Some(Any::ArrayValue(array)) => {
            json!({ "array": array.values.iter().map(tagged).collect::<Vec<_>>() })
        }
        Some(Any::KvlistValue(list)) => json!({ "map": attributes(&list.values) }),
        Some(Any::BytesValue(bytes)) => json!({ "bytes": hex(bytes) }),
        // A profiles-only form the SDKs never send for spans and logs.
        Some(Any::StringValueStrindex(index)) => json!({ "string_index": index }),
        None => Value::Null,
    }
}

/// Every record the SDK recorded arrived, each exactly as recorded, and nothing else.
#[track_caller]
pub fn assert_same_records(what: &str, sent: &[Value], exported: &[Value], log: &str) {
    let sent: BTreeSet<String> = sent.iter().map(Value::to_string).collect();
    let exported: BTreeSet<String> = exported.iter().map(Value::to_string).collect();
    let missing: Vec<_> = sent.difference(&exported).collect();
    let unexpected: Vec<_> = exported.difference(&sent).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: {} recorded by the SDK, {} exported\n\
         recorded but not exported (or changed):\n{}\n\
         exported but not recorded (or changed):\n{}\ncollector log:\n{log}",
        sent.len(),
        exported.len(),
        lines(&missing),
        lines(&unexpected),
    );
}

fn lines(records: &[&String]) -> String {
    records
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The records of one service are those of `handle_order` in `tests/sdk/*/send.*`: what
/// the program was written to send, so that a program that stopped sending something
/// (an attribute type, a link) fails here rather than comparing nothing with nothing.
#[track_caller]
pub fn assert_order_workload(service: &str, records: &Records) {
    let span = |name: &str| {
        let found: Vec<_> = records.spans.iter().filter(|s| s["name"] == name).collect();
        assert_eq!(found.len(), 1, "{service}: one span {name:?} in {found:?}");
        found[0].clone()
    };
    assert_eq!(
        records.spans.len(),
        5,
        "{service}: spans {:#?}",
        records.spans
    );
    let root = span("GET /orders/{id}");
    let enqueue = span("enqueue order");
    let charge = span("charge card");
    let render = span("render receipt");
    let send = span("send receipt");

    for (s, kind) in [
        (&root, "SERVER"),
        (&enqueue, "PRODUCER"),
        (&charge, "CLIENT"),
        (&render, "INTERNAL"),
        (&send, "CONSUMER"),
    ] {
        assert_eq!(s["kind"], kind, "{service}: {}", s["name"]);
        assert_eq!(s["resource"]["service.name"], json!({"string": service}));
        assert_eq!(
            s["scope"],
            json!({"name": "oculus.sdk-test", "version": "1.2.3"})
        );
        assert!(
            s["start"].as_str().is_some_and(|t| t != "0") && s["end"] != "0",
            "{service}: {} has its times",
            s["name"]
        );
        assert_eq!(s["trace_id"].as_str().map(str::len), Some(32));
        assert_eq!(s["span_id"].as_str().map(str::len), Some(16));
    }
    // Trace structure: a request with two children; a producer and a consumer alone.
    assert_eq!(root["parent_span_id"], "");
    for child in [&charge, &render] {
        assert_eq!(child["trace_id"], root["trace_id"]);
        assert_eq!(child["parent_span_id"], root["span_id"]);
    }
    assert_ne!(enqueue["trace_id"], root["trace_id"]);

    // Every attribute type, arrays of each.
    assert_eq!(
        root["attributes"],
        json!({
            "http.request.method": {"string": "GET"},
            "order.id": {"int": 42},
            "order.total": {"double": 12.5},
            "order.paid": {"bool": true},
            "order.items": {"array": [{"string": "book"}, {"string": "pen"}]},
            "order.quantities": {"array": [{"int": 1}, {"int": 3}]},
            "order.weights": {"array": [{"double": 0.25}, {"double": 1.5}]},
            "order.gift": {"array": [{"bool": false}, {"bool": true}]},
        })
    );
    assert_eq!(root["status"], json!({"code": "OK", "message": ""}));
    assert_eq!(root["events"][0]["name"], "cache miss");
    assert_eq!(
        root["events"][0]["attributes"],
        json!({"cache.key": {"string": "order:42"}, "cache.attempt": {"int": 1}})
    );
    assert_eq!(
        charge["status"],
        json!({"code": "ERROR", "message": "card declined"})
    );
    assert_eq!(charge["events"][0]["name"], "exception");
    assert_eq!(
        charge["events"][0]["attributes"]["exception.message"],
        json!({"string": "card declined"})
    );
    assert_eq!(
        charge["links"],
        json!([{
            "trace_id": enqueue["trace_id"],
            "span_id": enqueue["span_id"],
            "attributes": {"link.reason": {"string": "paid order"}},
        }])
    );
    assert_eq!(
        send["links"],
        json!([
            {"trace_id": enqueue["trace_id"], "span_id": enqueue["span_id"], "attributes": {}},
            {
                "trace_id": render["trace_id"],
                "span_id": render["span_id"],
                "attributes": {"link.count": {"int": 2}},
            },
        ])
    );

    assert_eq!(records.logs.len(), 3, "{service}: logs {:#?}", records.logs);
    let log = |severity: &str| {
        records
            .logs
            .iter()
            .find(|l| l["severity_text"] == severity)
            .unwrap_or_else(|| panic!("{service}: a {severity} log in {:#?}", records.logs))
            .clone()
    };
    let info = log("INFO");
    assert_eq!(info["severity_number"], 9);
    assert_eq!(info["body"], json!({"string": "loading order"}));
    assert_eq!(
        info["attributes"],
        json!({
            "user.id": {"string": "ada"},
            "retries": {"int": 2},
            "ratio": {"double": 0.5},
            "cached": {"bool": false},
            "tags": {"array": [{"string": "a"}, {"string": "b"}]},
        })
    );
    assert_eq!(
        info["scope"],
        json!({"name": "oculus.sdk-test.logs", "version": "4.5.6"})
    );
    assert_eq!(
        (&info["trace_id"], &info["span_id"]),
        (&root["trace_id"], &root["span_id"]),
        "{service}: a log carries the span it was emitted in"
    );
    let warn = log("WARN");
    assert_eq!(warn["severity_number"], 13);
    assert_eq!(warn["body"], json!({"string": "card declined, retrying"}));
    assert_eq!(warn["attributes"]["attempt"], json!({"int": 2}));
    assert_eq!(
        (&warn["trace_id"], &warn["span_id"]),
        (&charge["trace_id"], &charge["span_id"])
    );
    let error = log("ERROR");
    assert_eq!(error["severity_number"], 17);
    assert_eq!(
        error["body"],
        json!({"map": {"order": {"int": 42}, "state": {"string": "stopped"}}})
    );
    assert_eq!(error["event_name"], "worker.stopped");
    assert_eq!(
        (&error["trace_id"], &error["span_id"]),
        (&json!(""), &json!("")),
        "{service}: a log outside spans has no trace context"
    );
}

/// Runs an SDK program against a fresh collector and checks, for each protocol, that
/// what its SDK recorded is what `export` gives back. `language` names the services
/// (`sdk-{language}-{protocol}`).
pub fn check_sdk(language: &str, program: &mut Command) {
    let mut collector = CollectorProcess::start();
    let finished = run(program
        .arg(collector.grpc.to_string())
        .arg(collector.http.to_string()));
    assert!(
        finished.status.success(),
        "the {language} SDK program exited with {}:\n{}",
        finished.status,
        finished.stderr
    );
    let sent = Records::from_program(&finished.stdout);
    collector.stop();
    let exported = Records::from_export(&collector.export("traces"), &collector.export("logs"));
    let log = collector.log();

    for protocol in PROTOCOLS {
        let service = format!("sdk-{language}-{protocol}");
        let sent = sent.of_service(&service);
        let exported = exported.of_service(&service);
        let context = format!("{service} (SDK program's stderr:\n{})", finished.stderr);
        assert_same_records(
            &format!("{context}: spans"),
            &sent.spans,
            &exported.spans,
            &log,
        );
        assert_same_records(
            &format!("{context}: logs"),
            &sent.logs,
            &exported.logs,
            &log,
        );
        assert_order_workload(&service, &exported);
    }
    assert_eq!(
        (exported.spans.len(), exported.logs.len()),
        (5 * PROTOCOLS.len(), 3 * PROTOCOLS.len()),
        "nothing beyond the three services arrived"
    );
}
