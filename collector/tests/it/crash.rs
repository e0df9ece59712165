//! Crash safety: kill -9 the collector under load, again and again, and prove that every
//! record it acknowledged is readable after a restart.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oculus_store::proto::any_value::Value;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value;

use crate::{log, logs_request, read_blocks};

const ROUNDS: u64 = 8;
const CLIENTS: u64 = 4;
const RECORDS_PER_REQUEST: u64 = 200;
/// After which reply of its round each kill lands: early, around the first rotations
/// (about 25 replies fill a segment), and later.
const KILL_AFTER_REPLIES: [u64; 8] = [1, 2, 5, 13, 29, 31, 47, 90];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    for round in 0..ROUNDS {
        let grpc = format!("127.0.0.1:{}", free_port());
        let http = format!("127.0.0.1:{}", free_port());
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_oculus-collector"))
            .args(["serve", "--grpc", &grpc, "--http", &http, "--data-dir"])
            .arg(dir.path())
            // Small segments, so kills also land around rotation.
            .args(["--max-segment-bytes", "200000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("collector starts");
        let url = format!("http://{grpc}");
        let mut connected = None;
        for _ in 0..200 {
            if let Ok(client) = LogsServiceClient::connect(url.clone()).await {
                connected = Some(client);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let client = connected.expect("collector accepts connections");
        // The kill lands right after the Nth reply of the round, N swept across rounds,
        // while the other clients' requests are in flight.
        let kill_after = KILL_AFTER_REPLIES[round as usize % KILL_AFTER_REPLIES.len()];
        let replies = Arc::new(AtomicU64::new(0));
        let nth_reply = Arc::new(tokio::sync::Notify::new());
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let mut client = client.clone();
            let acked = Arc::clone(&acked);
            let replies = Arc::clone(&replies);
            let nth_reply = Arc::clone(&nth_reply);
            clients.push(tokio::spawn(async move {
                let mut next = (round * CLIENTS + c) << 32;
                loop {
                    let ids: Vec<u64> = (next..next + RECORDS_PER_REQUEST).collect();
                    next += RECORDS_PER_REQUEST;
                    let records = ids
                        .iter()
                        .map(|&id| {
                            let mut record = log(id);
                            record.attributes[0].value = Some(AnyValue {
                                value: Some(any_value::Value::IntValue(id as i64)),
                            });
                            record
                        })
                        .collect();
                    match client.export(logs_request(records)).await {
                        Ok(_) => {
                            acked.lock().expect("lock").extend(ids);
                            if replies.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                                nth_reply.notify_one();
                            }
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::timeout(Duration::from_secs(60), nth_reply.notified())
            .await
            .expect("the collector replied often enough");
        child.start_kill().expect("kill -9");
        child.wait().await.expect("reaped");
        for client in clients {
            client.await.expect("client task");
        }
    }
    // The next start recovers what the kills left open.
    let loopback = "127.0.0.1:0".parse().expect("address");
    let collector = oculus_collector::Collector::start(oculus_collector::Config::new(
        loopback,
        loopback,
        dir.path().to_path_buf(),
    ))
    .await
    .expect("restart after crashes");
    assert!(
        !collector.recovery().sealed.is_empty(),
        "the killed runs left segments to seal"
    );
    collector.shutdown().await.expect("shutdown");

    let mut stored = BTreeSet::new();
    for block in read_blocks(dir.path()) {
        for record in &block.logs {
            if let Some(Value::IntValue(id)) = record.attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.clone())
            {
                stored.insert(id as u64);
            }
        }
    }
    let acked = acked.lock().expect("lock");
    assert!(
        acked.len() as u64 > ROUNDS * RECORDS_PER_REQUEST,
        "too little load to prove anything: {}",
        acked.len()
    );
    let lost: Vec<_> = acked.difference(&stored).take(5).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {lost:?}",
        acked.difference(&stored).count()
    );
    let report = oculus_store::check(dir.path(), |_, _| {}).expect("check");
    assert!(report.is_healthy(), "{:?}", report.damage);
    assert!(report.open_tails.is_empty());
}
