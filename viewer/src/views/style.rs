//! What the views share in how things look: row sizes, level colours and search
//! highlights, each readable on the dark and the light theme.

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat, Ui};

use crate::model::Level;

pub const ROW_HEIGHT: f32 = 20.0;
pub const SCROLLBAR_WIDTH: f32 = 10.0;

/// A level's colour: bright on the dark theme, deeper on the light one, where the
/// bright yellows and greens would fade into the background.
pub fn level_color(ui: &Ui, level: Level) -> Color32 {
    level_color_on(level, ui.visuals().dark_mode)
}

pub fn level_color_on(level: Level, dark: bool) -> Color32 {
    let (on_dark, on_light) = match level {
        Level::Unset => ((128, 128, 128), (105, 105, 105)),
        Level::Trace => ((140, 140, 160), (100, 100, 125)),
        Level::Debug => ((100, 160, 230), (25, 95, 185)),
        Level::Info => ((110, 200, 120), (25, 125, 45)),
        Level::Warn => ((235, 190, 60), (165, 105, 0)),
        Level::Error => ((240, 90, 80), (200, 30, 30)),
        Level::Fatal => ((255, 60, 200), (175, 0, 135)),
    };
    let (r, g, b) = if dark { on_dark } else { on_light };
    Color32::from_rgb(r, g, b)
}

/// The mark of a run still being written, and of records arriving.
pub fn live_color(ui: &Ui) -> Color32 {
    level_color(ui, Level::Info)
}

/// Secondary text (a span's service, its duration): dimmer than the text, on either
/// theme.
pub fn weak_color(ui: &Ui) -> Color32 {
    ui.visuals().weak_text_color()
}

/// Text with the search's matches on a highlighted background.
pub fn highlighted(
    ui: &Ui,
    text: &str,
    ranges: &[std::ops::Range<usize>],
    color: Color32,
) -> LayoutJob {
    let mut job = LayoutJob::default();
    append_highlighted(&mut job, ui, text, ranges, color);
    job.wrap.max_rows = 1;
    job.wrap.break_anywhere = true;
    job
}

pub fn append_highlighted(
    job: &mut LayoutJob,
    ui: &Ui,
    text: &str,
    ranges: &[std::ops::Range<usize>],
    color: Color32,
) {
    let font = FontId::monospace(12.0);
    let plain = TextFormat::simple(font.clone(), color);
    // The selection's own text colour: white on dark blue, dark blue on light blue.
    let marked = TextFormat {
        background: ui.visuals().selection.bg_fill,
        color: ui.visuals().selection.stroke.color,
        ..TextFormat::simple(font, color)
    };
    let mut at = 0;
    for range in ranges {
        if range.start < at || range.end > text.len() {
            continue;
        }
        job.append(&text[at..range.start], 0.0, plain.clone());
        job.append(&text[range.clone()], 0.0, marked.clone());
        at = range.end;
    }
    job.append(&text[at..], 0.0, plain);
}

/// The mark of the critical path on a span's bar: white on the dark theme, near black
/// on the light one, apart from every service's and level's colour.
pub fn critical_color(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(250, 250, 250)
    } else {
        Color32::from_rgb(15, 15, 15)
    }
}
