//! The window before any record: how to send some to it.

use egui::{RichText, Ui};

use crate::action::Action;
use crate::snapshot::Status;

/// What to set in a program for its telemetry to show here.
pub fn how_to_send(ui: &mut Ui, status: &Status, actions: &mut Vec<Action>) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() / 4.0);
        ui.heading("No spans or logs yet");
        ui.add_space(8.0);
        match status.receivers {
            Some(receivers) => {
                ui.label("Point any OpenTelemetry SDK or collector at this window:");
                ui.add_space(6.0);
                let grpc = format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{}", receivers.grpc);
                ui.label(RichText::new(&grpc).monospace().strong());
                ui.label(
                    RichText::new(format!(
                        "OTLP/gRPC; for OTLP/HTTP: OTEL_EXPORTER_OTLP_ENDPOINT=http://{} \
                         with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                        receivers.http
                    ))
                    .weak(),
                );
                ui.add_space(6.0);
                if ui.button("Copy the gRPC line").clicked() {
                    actions.push(Action::Copy(grpc));
                }
            }
            // Another collector writes the data, or none: what the status line says.
            None => {
                ui.label(&status.collector);
            }
        }
    });
}
