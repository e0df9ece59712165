//! The OpenTelemetry JavaScript SDK (Node.js) sends spans and logs over gRPC,
//! HTTP/protobuf and HTTP/JSON (its `exporter-*-otlp-http` packages, for traces and logs
//! alike) to the shipped collector, and every record comes back intact through
//! `oculus-collector export` (see `sdk.rs`; the program is `tests/sdk/js/send.mjs`).

use std::process::Command;

use crate::layout::repo_root;
use crate::sdk::check_sdk;

const INSTALL: &str = "run `.ci/run` as root, or: apt-get install nodejs npm && \
     npm ci --ignore-scripts --prefix tests/sdk/js";

#[test]
fn javascript_sdk_records_arrive_intact_over_grpc_http_protobuf_and_http_json() {
    let root = repo_root();
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not installed; {INSTALL}"
    );
    let packages = root.join("tests/sdk/js/node_modules/@opentelemetry");
    assert!(
        packages.join("sdk-trace-base").exists()
            && packages.join("exporter-logs-otlp-http").exists(),
        "the JavaScript SDK is not installed in tests/sdk/js/node_modules; {INSTALL}"
    );
    check_sdk(
        "js",
        Command::new("node").arg(root.join("tests/sdk/js/send.mjs")),
    );
}
