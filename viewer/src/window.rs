//! The native window: the app in eframe, closed by Ctrl-C or SIGTERM.

use crate::{App, BackendOptions};

/// Opens the window over `options.paths` and returns when it is closed. The first
/// `initial_opened` paths make up the "All" tab; each further path gets a tab of its own.
pub fn run(
    options: BackendOptions,
    initial_opened: usize,
    runtime: &tokio::runtime::Handle,
) -> Result<(), eframe::Error> {
    let handle = runtime.clone();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Oculus")
            .with_inner_size([1400.0, 860.0]),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "Oculus",
        native,
        Box::new(move |cc| {
            close_on_signal(&handle, cc.egui_ctx.clone());
            let ctx = cc.egui_ctx.clone();
            let connection = crate::backend::spawn(options, handle, move || {
                ctx.request_repaint();
            })?;
            Ok(Box::new(App::new(connection, initial_opened)))
        }),
    )
}

/// Ctrl-C or SIGTERM closes the window, so a hosted collector still seals what it accepted.
fn close_on_signal(runtime: &tokio::runtime::Handle, ctx: egui::Context) {
    runtime.spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        ctx.request_repaint();
    });
}
