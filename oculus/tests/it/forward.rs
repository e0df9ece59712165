//! `oculus --forward`: the collector it starts forwards what it accepts; a collector
//! that already runs forwards as it was started, and the viewer says so.

use std::sync::atomic::Ordering;

use crate::desktop::{Viewer, eventually, runtime, start_xvfb};

fn forward_json(session: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(session.join("forward.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

#[test]
fn the_collector_oculus_starts_forwards_and_one_already_running_is_left_as_it_is() {
    let (_xvfb, display) = start_xvfb();
    let io = runtime();
    let destination_dir = tempfile::tempdir().unwrap();
    let destination = io
        .block_on(oculus_collector::Collector::start(
            oculus_collector::Config::new(
                "127.0.0.1:0".parse().unwrap(),
                "127.0.0.1:0".parse().unwrap(),
                destination_dir.path().to_owned(),
            ),
        ))
        .unwrap();
    let url = format!("grpc://{}", destination.grpc_addr());

    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start_with(data.path(), &display, &["--forward", &url]);
    viewer.show_demo_rows(&display, "forwarded-service", 3);
    let session = oculus_store::sessions(data.path()).unwrap()[0].path.clone();
    let received = || {
        let counters = destination.counters();
        counters.spans.load(Ordering::Relaxed)
            + counters.logs.load(Ordering::Relaxed)
            + counters.metric_points.load(Ordering::Relaxed)
    };
    eventually("the records to be forwarded", || {
        let status = &forward_json(&session)["destinations"][0];
        status["pending"] == 0 && status["forwarded"].as_u64().is_some_and(|n| n > 0)
    });

    // A second window over the same directory views it: the running collector's
    // forwarding is its own.
    let second = Viewer::start_with(data.path(), &display, &["--forward", &url]);
    assert!(
        second
            .status_line
            .contains("--forward ignored: that collector forwards as it was started"),
        "{}",
        second.status_line
    );
    let (status, _) = second.terminate();
    assert!(status.success());

    let (status, log) = viewer.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("forwarding stopped"), "{log}");
    let status = &forward_json(&session)["destinations"][0];
    assert_eq!(status["failed"], 0, "{status}");
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["forwarded"].as_u64(), Some(received()), "{status}");
    io.block_on(destination.shutdown()).unwrap();
}
