//! The native window: the app in eframe, closed when the program is told to stop.
//! eframe keeps its state (`persist.rs`) and the window's size and place in
//! `$XDG_DATA_HOME/oculus-viewer/app.ron` (usually `~/.local/share/oculus-viewer`),
//! apart from the collector's data directory, which the viewer also reads as data.

use std::future::Future;

use crate::{App, BackendOptions};

/// Names the window for the desktop and eframe's storage folder: kept stable, or the
/// stored state would be left behind.
const APP_ID: &str = "oculus-viewer";

/// Opens the window over `options.paths` and returns when it is closed, or when
/// `stop` resolves (Ctrl-C or SIGTERM: the caller watches for them from its start, so
/// that a signal that comes while the window opens is not lost). The first
/// `initial_opened` paths make up the "All" tab; each further path gets a tab of its
/// own.
pub fn run(
    options: BackendOptions,
    initial_opened: usize,
    runtime: &tokio::runtime::Handle,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), eframe::Error> {
    let handle = runtime.clone();
    let close_runtime = runtime.clone();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Oculus")
            .with_app_id(APP_ID)
            .with_inner_size([1400.0, 860.0]),
        persist_window: true,
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "Oculus",
        native,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            close_runtime.spawn(async move {
                stop.await;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                ctx.request_repaint();
            });
            let ctx = cc.egui_ctx.clone();
            let connection = crate::backend::spawn(options, handle, move || {
                ctx.request_repaint();
            })?;
            Ok(Box::new(App::from_storage(
                connection,
                initial_opened,
                cc.storage,
            )))
        }),
    )
}
