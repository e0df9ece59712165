//! The shipped `oculus` binary, in a real X window (Xvfb), fed by a real OTLP client.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod analysis;
mod clipboard;
mod desktop;
mod forward;
mod open_file;
mod restart;
mod smoke;
mod value_menu;
