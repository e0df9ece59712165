//! The real app in a kittest harness, over a recorded run or a live collector.

use egui::Event;
use egui_kittest::Harness;
use oculus_collector::Collector;
use oculus_viewer::snapshot::Receivers;
use oculus_viewer::{App, Connection};

use crate::common::{eventually, options, recorded_run, recorded_run_on, runtime, start_collector};

pub struct Fixture {
    pub harness: Harness<'static, App>,
    /// The collector writing the data directory, for a live run.
    pub collector: Option<Collector>,
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

pub fn app() -> Fixture {
    app_with(|_| {})
}

/// The app over a run in which the demo service exported from each of `hosts`.
pub fn app_on_hosts(hosts: &[&str]) -> Fixture {
    with_data(recorded_run_on(hosts), runtime(), None, |_| {}, new_app)
}

/// The app over a recorded run, with its backend options adjusted by `adjust`.
pub fn app_with(adjust: impl FnOnce(&mut oculus_viewer::BackendOptions)) -> Fixture {
    with_data(recorded_run(), runtime(), None, adjust, new_app)
}

/// The app over the recorded runs in `dir`.
pub fn app_over(dir: tempfile::TempDir) -> Fixture {
    with_data(dir, runtime(), None, |_| {}, new_app)
}

/// The app over `paths` (an archive, say), with `dir` kept until the fixture goes.
pub fn app_over_paths(dir: tempfile::TempDir, paths: Vec<std::path::PathBuf>) -> Fixture {
    with_data(
        dir,
        runtime(),
        None,
        |options| options.paths = paths,
        new_app,
    )
}

fn new_app(connection: Connection) -> App {
    App::new(connection, 1)
}

/// The app over a data directory that a live collector writes: what `send` exports
/// arrives while the test drives the window.
pub fn live_app() -> Fixture {
    let mut fixture = empty_live_app();
    fixture.send("checkout", 6);
    fixture
}

/// The app with a collector of its own, as `oculus` runs it, before any record.
pub fn empty_live_app() -> Fixture {
    live_app_over(tempfile::tempdir().unwrap())
}

/// The app with a collector of its own writing a new run into `dir`, after the runs
/// it holds.
pub fn live_app_over(dir: tempfile::TempDir) -> Fixture {
    let runtime = runtime();
    let collector = runtime.block_on(start_collector(dir.path()));
    let receivers = Receivers {
        grpc: collector.grpc_addr(),
        http: collector.http_addr(),
    };
    with_data(
        dir,
        runtime,
        Some(collector),
        |options| {
            options.receivers = Some(receivers);
        },
        new_app,
    )
}

fn with_data(
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    collector: Option<Collector>,
    adjust: impl FnOnce(&mut oculus_viewer::BackendOptions),
    build: impl FnOnce(Connection) -> App,
) -> Fixture {
    let live = collector.is_some();
    let mut options = options(dir.path());
    adjust(&mut options);
    let connection =
        oculus_viewer::backend::spawn(options, runtime.handle().clone(), || {}).unwrap();
    let app = build(connection);
    let harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    let mut fixture = Fixture {
        harness,
        collector,
        _dir: dir,
        runtime,
    };
    if live {
        return fixture;
    }
    fixture.wait("the recorded run", |app| {
        app.snapshot_is_current()
            && app.snapshot().logs.total > 0
            && app.snapshot().logs.progress.is_none()
    });
    fixture
}

impl Fixture {
    /// The window closed and opened again over the same data, its app built from
    /// `storage` as eframe would.
    pub fn restart(self, storage: &dyn eframe::Storage) -> Fixture {
        let Fixture {
            harness,
            collector,
            _dir: dir,
            runtime,
        } = self;
        // The old window and its backend go first, as when the program exits.
        drop(harness);
        with_data(
            dir,
            runtime,
            collector,
            |_| {},
            |connection| App::from_storage(connection, 1, Some(storage)),
        )
    }

    /// Steps frames until the app shows what `check` wants.
    #[track_caller]
    pub fn wait(&mut self, what: &str, check: impl Fn(&App) -> bool) {
        let harness = &mut self.harness;
        eventually(what, || {
            harness.step();
            check(harness.state())
        });
    }

    /// Runs the demo service for `requests` requests against the live collector, while
    /// the harness keeps drawing frames.
    pub fn send(&mut self, service: &str, requests: u64) {
        let collector = self.collector.as_ref().expect("a live fixture");
        let export = crate::common::export_demo(collector, service, requests);
        let harness = &mut self.harness;
        self.runtime.block_on(async {
            let mut export = std::pin::pin!(export);
            loop {
                tokio::select! {
                    () = &mut export => break,
                    () = tokio::time::sleep(std::time::Duration::from_millis(5)) => harness.step(),
                }
            }
        });
    }

    /// Starts the demo service for `requests` requests against the live collector and
    /// returns at once: the test drives the window while they arrive.
    pub fn send_in_background(
        &mut self,
        service: &str,
        requests: u64,
    ) -> tokio::task::JoinHandle<()> {
        let grpc = self.collector.as_ref().expect("a live fixture").grpc_addr();
        let service = service.to_owned();
        self.runtime.spawn(async move {
            demo_service::export_orders(grpc, &service, requests)
                .await
                .unwrap();
        })
    }

    /// Waits for a background send to end, drawing frames meanwhile.
    pub fn finish(&mut self, sending: tokio::task::JoinHandle<()>) {
        self.wait("the background send", |_| sending.is_finished());
        self.runtime.block_on(sending).unwrap();
    }

    /// Waits until the shown list's selection is known by its item, not only its row
    /// (a row jumped to is named once the backend publishes it).
    #[track_caller]
    pub fn wait_selected(&mut self) {
        self.wait("the selected row's item", |app| {
            app.tab().list().selected_item().is_some()
        });
    }

    pub fn app(&self) -> &App {
        self.harness.state()
    }

    pub fn type_text(&mut self, text: &str) {
        self.harness.event(Event::Text(text.into()));
        self.harness.step();
    }

    pub fn keys(&mut self, keys: &str) {
        for c in keys.chars() {
            self.type_text(&c.to_string());
        }
    }
}
