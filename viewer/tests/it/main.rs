//! The viewer's tests: the backend over real collector output, the UI driven
//! headlessly with egui_kittest, and jump-to-source against a real Neovim.

mod common;
mod editor;
mod engine;
mod ui;
