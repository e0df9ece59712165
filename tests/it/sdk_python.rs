//! The OpenTelemetry Python SDK sends spans and logs over gRPC, HTTP/protobuf and
//! HTTP/JSON to the shipped collector, and every record comes back intact through
//! `oculus-collector export` (see `sdk.rs`; the program is `tests/sdk/python/send.py`).

use std::process::Command;

use crate::layout::repo_root;
use crate::sdk::check_sdk;

const INSTALL: &str = "run `.ci/run` as root, or: apt-get install python3-venv && \
     python3 -m venv .ci/tools/python && \
     .ci/tools/python/bin/pip install -r tests/sdk/python/requirements.txt";

#[test]
fn python_sdk_records_arrive_intact_over_grpc_http_protobuf_and_http_json() {
    let root = repo_root();
    let python = root.join(".ci/tools/python/bin/python");
    assert!(
        python.exists(),
        "{} is missing: the Python SDK is not installed; {INSTALL}",
        python.display()
    );
    // One process for all three protocols: importing grpc takes most of its time.
    let probe = Command::new(&python)
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.json.http"])
        .output()
        .expect("the venv's python runs");
    assert!(
        probe.status.success(),
        "the Python SDK packages are missing ({}); {INSTALL}",
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    check_sdk(
        "python",
        Command::new(python).arg(root.join("tests/sdk/python/send.py")),
    );
}
