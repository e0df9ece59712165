//! A full disk: clients are told to retry, nothing acknowledged is lost, the segment
//! stays clean, and writing resumes once there is room again.
//!
//! The data directory lives on a small tmpfs, so the disk really fills up. Mounting
//! needs root, which `.ci/run` has.

use std::path::{Path, PathBuf};
use std::process::Command;

use oculus_store::proto::any_value::Value;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use tonic::Code;
use tonic_types::StatusExt;

use crate::{log, logs_request, read_blocks, start_with};

pub(crate) struct Tmpfs {
    pub(crate) path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    pub(crate) fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root; run the suite as root (as .ci/run does)"
        );
        Self { path, _dir: dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Log bodies that do not compress, so the disk fills in a few requests.
fn noisy_request(
    first_id: u64,
    count: u64,
) -> opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
    let mut state = first_id
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    let records = (first_id..first_id + count)
        .map(|id| {
            let mut record = log(id);
            let noise: String = (0..64)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    format!("{:016x}", state >> 1)
                })
                .collect();
            record.body = Some(AnyValue {
                value: Some(any_value::Value::StringValue(noise)),
            });
            record
        })
        .collect();
    logs_request(records)
}

fn stored_ids(root: &Path) -> Vec<u64> {
    read_blocks(root)
        .iter()
        .flat_map(|b| &b.logs)
        .filter_map(|l| match l.attributes[0].value.as_ref()?.value.as_ref()? {
            Value::IntValue(id) => Some(*id as u64),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_full_disk_asks_clients_to_retry_and_loses_nothing() {
    let disk = Tmpfs::mount(3 << 20);
    let ballast = disk.path.join("ballast");
    std::fs::write(&ballast, vec![1u8; 1 << 20]).expect("ballast");
    let data_dir = disk.path.join("data");
    let running = start_with(|config| config.data_dir = data_dir.clone()).await;
    let mut client = LogsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    let mut acked = Vec::new();
    let mut refusal = None;
    for request in 0..200u64 {
        let first = request * 100;
        match client.export(noisy_request(first, 100)).await {
            Ok(_) => acked.extend(first..first + 100),
            Err(status) => {
                refusal = Some((first, status));
                break;
            }
        }
    }
    let (next, status) = refusal.expect("the disk filled up");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("disk is full"),
        "{}",
        status.message()
    );
    assert!(
        status.get_details_retry_info().is_some(),
        "clients are told to retry"
    );
    assert!(
        !acked.is_empty(),
        "some requests fit before the disk filled"
    );

    // Room again: the same request now goes through.
    std::fs::remove_file(&ballast).expect("free space");
    client
        .export(noisy_request(next, 100))
        .await
        .expect("accepted once there is room");
    acked.extend(next..next + 100);

    running.collector.shutdown().await.expect("shutdown seals");
    let stored = stored_ids(&data_dir);
    assert_eq!(
        stored, acked,
        "exactly the acknowledged records, in order, and nothing torn"
    );
    let report = oculus_store::check(&data_dir, |_, _| {}).expect("check");
    assert!(report.is_healthy(), "{:?}", report.damage);
}

/// The same over OTLP/HTTP: 503 with `Retry-After`, and the refused body is accepted
/// once there is room.
#[tokio::test]
async fn a_full_disk_is_503_with_retry_after_over_http() {
    use prost::Message;
    let disk = Tmpfs::mount(3 << 20);
    let ballast = disk.path.join("ballast");
    std::fs::write(&ballast, vec![1u8; 1 << 20]).expect("ballast");
    let data_dir = disk.path.join("data");
    let running = start_with(|config| config.data_dir = data_dir.clone()).await;
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(running.http_url("/v1/logs"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
    };
    let mut acked = Vec::new();
    let mut refused = None;
    for request in 0..200u64 {
        let first = request * 100;
        let response = post(noisy_request(first, 100).encode_to_vec())
            .await
            .expect("answered");
        match response.status().as_u16() {
            200 => acked.extend(first..first + 100),
            status => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                refused = Some((first, status, retry_after));
                break;
            }
        }
    }
    let (next, status, retry_after) = refused.expect("the disk filled up");
    assert_eq!(status, 503);
    assert!(retry_after.is_some(), "clients are told when to retry");
    assert!(
        !acked.is_empty(),
        "some requests fit before the disk filled"
    );

    std::fs::remove_file(&ballast).expect("free space");
    let response = post(noisy_request(next, 100).encode_to_vec())
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    acked.extend(next..next + 100);
    running.collector.shutdown().await.expect("shutdown seals");
    assert_eq!(stored_ids(&data_dir), acked);
}
