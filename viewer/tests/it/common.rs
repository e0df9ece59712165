//! A real run to look at: the demo service exports through the OTLP SDK to a real
//! collector on loopback, which writes the segments the viewer reads.

use std::path::Path;
use std::time::{Duration, Instant};

use demo_service::{Protocol, RunPlan, TelemetryConfig, build_telemetry};
use oculus_collector::{Collector, Config};
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::{BackendOptions, Engine};
use tracing::instrument::WithSubscriber;

pub const REQUESTS: u64 = 12;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts a collector writing into `dir`.
pub async fn start_collector(dir: &Path) -> Collector {
    let loopback = "127.0.0.1:0".parse().unwrap();
    Collector::start(Config::new(loopback, loopback, dir.to_path_buf()))
        .await
        .unwrap()
}

/// Runs the demo service against `collector` for `requests` requests and flushes.
pub async fn export_demo(collector: &Collector, service: &str, requests: u64) {
    export_demo_to(collector.grpc_addr(), service, requests).await;
}

/// Runs the demo service against the OTLP/gRPC endpoint at `grpc`.
pub async fn export_demo_to(grpc: std::net::SocketAddr, service: &str, requests: u64) {
    let config = TelemetryConfig {
        service_name: service.into(),
        endpoint: Some(format!("http://{grpc}")),
        protocol: Protocol::Grpc,
        console: false,
        // Events also become span events, which the waterfall marks.
        span_events: true,
        batch_delay: Duration::from_millis(20),
        ..TelemetryConfig::default()
    };
    let (dispatch, guard) = build_telemetry(&config).unwrap();
    let plan = RunPlan {
        iterations: Some(requests),
        interval: Duration::ZERO,
    };
    demo_service::run(plan, std::future::pending())
        .with_subscriber(dispatch)
        .await;
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// A data directory holding one finished run of the demo service.
pub fn recorded_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    runtime.block_on(async {
        let collector = start_collector(dir.path()).await;
        export_demo(&collector, "checkout", REQUESTS).await;
        collector.shutdown().await.unwrap();
    });
    dir
}

pub fn options(dir: &Path) -> BackendOptions {
    BackendOptions {
        paths: vec![dir.to_path_buf()],
        editor: EditorOptions::default(),
        collector: "test".into(),
    }
}

/// An engine that has read everything under `dir`.
pub fn loaded_engine(dir: &Path, runtime: &tokio::runtime::Runtime) -> Engine {
    let mut engine = Engine::new(options(dir), runtime.handle().clone());
    engine.poll();
    engine
}

/// Polls `check` until it holds, failing with `what` after a generous deadline.
#[track_caller]
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
