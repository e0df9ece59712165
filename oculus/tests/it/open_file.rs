//! `oculus FILE.jsonl`: an OTLP file given on the command line is imported into a
//! session of its own under the data directory and shown.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, LogsData, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::desktop::{LINK, Viewer, eventually, screen_colours, start_xvfb};

fn logs_line(service: &str, count: u64) -> String {
    let records = (0..count)
        .map(|n| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + n,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("imported line {n}"))),
            }),
            trace_id: [[0x5b; 8], (n + 1).to_be_bytes()].concat(),
            span_id: (n + 1).to_be_bytes().to_vec(),
            ..LogRecord::default()
        })
        .collect();
    let data = LogsData {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            schema_url: String::new(),
        }],
    };
    serde_json::to_string(&data).unwrap()
}

#[test]
fn an_otlp_file_on_the_command_line_is_imported_and_shown() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("orders.jsonl");
    std::fs::write(
        &file,
        format!("{}\n{}\n", logs_line("a", 3), logs_line("b", 2)),
    )
    .unwrap();
    let data = work.path().join("data");

    let (_xvfb, display) = start_xvfb();
    let viewer = Viewer::start_opening(&data, &display, &[&file]);
    eventually("the imported rows with trace links", || {
        screen_colours(&display).contains(&LINK)
    });
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    let imports = data.join("imports").join("orders.jsonl");
    let expected = format!(
        "oculus: imported 5 records of {} into {}",
        file.display(),
        imports.join("sessions").display()
    );
    assert!(log.contains(&expected), "{log}");
    // The import is a sealed session of its own, apart from the collector's.
    let resolved = oculus_store::resolve(&imports).unwrap();
    assert_eq!(resolved.sessions.len(), 1);
    for segment in resolved.segment_paths() {
        assert!(oculus_store::segment::is_sealed(segment).unwrap());
    }

    // Opened again unchanged, the file opens that session instead of a new import.
    let viewer = Viewer::start_opening(&data, &display, &[&file]);
    eventually("the rows again", || {
        screen_colours(&display).contains(&LINK)
    });
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    let session = &resolved.sessions[0].path;
    let expected = format!(
        "oculus: opening {}, imported from {} before",
        session.display(),
        file.display()
    );
    assert!(log.contains(&expected), "{log}");
    assert_eq!(oculus_store::resolve(&imports).unwrap().sessions.len(), 1);
}
