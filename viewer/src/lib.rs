//! The Oculus viewer: live spans and logs from Oculus segments, in an egui window.
//!
//! ```text
//! segments ─▶ source.rs (loader.rs) ─▶ raw.rs ─▶ model (Index) ─▶ filter.rs ─▶ backend.rs ─▶ triple buffer ─▶ app.rs ─▶ views/
//!                                                                                 ▲                             │
//!                                                                                 └───── UiEvent (bounded) ─────┘
//! ```
//! The backend thread owns every record; the UI thread only draws the snapshot it is
//! handed and sends events, so a frame never waits on data. Within the UI, `views` draws
//! from what `app` lends it (with `view_model`'s rows derived once per snapshot) and
//! returns `Action`s that `app` applies, as `keys` does for key presses.

pub mod action;
pub mod app;
pub mod arrivals;
pub mod backend;
pub mod compare;
pub mod connection;
pub mod critical_path;
pub mod detail;
pub mod durations;
pub mod editor;
pub mod filter;
pub mod histogram;
mod keys;
mod listing;
mod loader;
pub mod metric_math;
pub mod metric_projection;
pub mod metrics;
pub mod model;
pub mod operation;
pub mod operations;
pub mod operations_ui;
mod otlp_out;
pub mod persist;
mod projection;
pub mod raw;
mod runs;
mod save_archive;
pub mod snapshot;
pub mod source;
mod status;
mod tab;
pub mod tab_ui;
pub mod terms;
pub mod ticks;
pub mod time;
pub mod trace_order;
pub mod trace_shape;
pub mod value;
pub mod view_model;
pub mod views;
pub mod window;

pub use app::App;
pub use arrivals::Arrivals;
pub use backend::{BackendOptions, Engine};
pub use connection::Connection;
