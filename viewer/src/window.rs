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
    let close_on_signal = close_on_signal(runtime);
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
            close_on_signal(cc.egui_ctx.clone());
            let ctx = cc.egui_ctx.clone();
            let connection = crate::backend::spawn(options, handle, move || {
                ctx.request_repaint();
            })?;
            Ok(Box::new(App::new(connection, initial_opened)))
        }),
    )
}

/// Ctrl-C or SIGTERM closes the window, so a hosted collector still seals what it
/// accepted. The handlers are installed at once: a signal that arrives while the window
/// is still opening is kept and closes it as soon as it is open.
fn close_on_signal(runtime: &tokio::runtime::Handle) -> impl FnOnce(egui::Context) + use<> {
    use tokio::signal::unix::{SignalKind, signal};

    let _entered = runtime.enter();
    let watch = |kind: SignalKind, name: &'static str| {
        let stream = signal(kind);
        async move {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch for {name}");
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let interrupt = watch(SignalKind::interrupt(), "SIGINT");
    let terminate = watch(SignalKind::terminate(), "SIGTERM");
    let runtime = runtime.clone();
    move |ctx| {
        runtime.spawn(async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            ctx.request_repaint();
        });
    }
}
