//! A real run to look at: the demo service exports through the OTLP SDK to a real
//! collector on loopback, which writes the segments the viewer reads.

use std::path::Path;
use std::time::{Duration, Instant};

use oculus_collector::{Collector, Config};
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::{BackendOptions, Engine};

pub const REQUESTS: u64 = 12;
/// The `host.name` of the recorded run's service.
pub const HOST: &str = "web-1";

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
    demo_service::export_orders(collector.grpc_addr(), service, requests)
        .await
        .unwrap();
}

/// A data directory holding one finished run of the demo service, on [`HOST`].
pub fn recorded_run() -> tempfile::TempDir {
    recorded_run_on(&[HOST])
}

/// A data directory holding one finished run in which an instance of the demo
/// service on each of `hosts` exported in turn: resources that differ in `host.name`.
pub fn recorded_run_on(hosts: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    runtime.block_on(async {
        let collector = start_collector(dir.path()).await;
        for host in hosts {
            demo_service::export_orders_from_host(
                collector.grpc_addr(),
                "checkout",
                Some(host),
                REQUESTS,
            )
            .await
            .unwrap();
        }
        collector.shutdown().await.unwrap();
    });
    dir
}

/// A data directory holding one finished run per service, one after another, on
/// [`HOST`].
pub fn recorded_runs(services: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    runtime.block_on(async {
        for service in services {
            let collector = start_collector(dir.path()).await;
            demo_service::export_orders_from_host(
                collector.grpc_addr(),
                service,
                Some(HOST),
                REQUESTS,
            )
            .await
            .unwrap();
            collector.shutdown().await.unwrap();
        }
    });
    dir
}

pub fn options(dir: &Path) -> BackendOptions {
    BackendOptions {
        paths: vec![dir.to_path_buf()],
        editor: EditorOptions::default(),
        collector: "test".into(),
        arrivals: oculus_viewer::Arrivals::default(),
        receivers: None,
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
