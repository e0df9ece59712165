//! The viewer's tests: the backend over real collector output, the UI driven
//! headlessly with egui_kittest, and jump-to-source against a real Neovim.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod app_fixture;
mod archive;
mod common;
mod editor;
mod engine;
mod filter_model;
mod histogram;
mod live_ui;
mod metrics;
mod operations;
mod oracle;
mod prepare;
mod runs;
mod selection;
mod settings;
mod sort_and_ranges;
mod trace_views;
mod ui;
mod value_menu;
mod waterfall;
