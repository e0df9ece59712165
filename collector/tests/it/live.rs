//! A record is readable from the active segment as soon as the collector acknowledges it.

use oculus_store::SegmentTail;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;

use crate::{log, logs_request, start};

#[tokio::test]
async fn acknowledged_records_are_readable_from_the_active_segment_at_once() {
    let running = start().await;
    let mut client = LogsServiceClient::connect(running.grpc_url())
        .await
        .expect("connect");
    client
        .export(logs_request(vec![log(1), log(2)]))
        .await
        .expect("accepted");
    let segment = running.collector.session().join("segment-00000001.oseg");
    let mut tail =
        SegmentTail::open(&segment).expect("active segment exists once a block is acknowledged");
    // No waiting: the acknowledgement itself means the bytes are with the OS.
    let first = tail.poll().expect("poll");
    assert!(first.damage.is_empty());
    assert!(!first.sealed);
    let bodies: Vec<u64> = first
        .blocks
        .iter()
        .flat_map(|(_, b)| b.log_times().into_iter().map(|(time, _)| time))
        .collect();
    assert_eq!(bodies.len(), 2);

    client
        .export(logs_request(vec![log(3)]))
        .await
        .expect("accepted");
    let second = tail.poll().expect("poll");
    assert_eq!(second.blocks.len(), 1, "only the new block is returned");
    let (_, block) = &second.blocks[0];
    assert_eq!(block.log_times()[0].0, log(3).time_unix_nano);

    running.collector.shutdown().await.expect("shutdown");
    let last = tail.poll().expect("poll");
    assert!(
        last.sealed,
        "shutdown seals the segment and the tail sees it"
    );
    assert!(last.blocks.is_empty());
}
