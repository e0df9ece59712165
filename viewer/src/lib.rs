//! The Oculus viewer: live spans and logs from Oculus segments, in an egui window.
//!
//! ```text
//! segments ─▶ source.rs ─▶ model.rs (Index) ─▶ filter.rs ─▶ backend.rs ─▶ triple buffer ─▶ app.rs / views.rs
//!                                                              ▲                              │
//!                                                              └──── UiEvent (bounded) ◀──────┘
//! ```
//! The backend thread owns every record; the UI thread only draws the snapshot it is
//! handed and sends events, so a frame never waits on data.

pub mod app;
pub mod backend;
pub mod connection;
pub mod detail;
pub mod editor;
pub mod filter;
pub mod model;
mod projection;
pub mod raw;
pub mod snapshot;
pub mod source;
mod status;
mod tab;
pub mod time;
pub mod views;

pub use app::App;
pub use backend::{BackendOptions, Engine};
pub use connection::Connection;
