//! What the views share in how things look: row sizes, level colours and search
//! highlights.

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat, Ui};

use crate::model::Level;

pub const ROW_HEIGHT: f32 = 20.0;
pub const SCROLLBAR_WIDTH: f32 = 10.0;

pub fn level_color(level: Level) -> Color32 {
    match level {
        Level::Unset => Color32::GRAY,
        Level::Trace => Color32::from_rgb(140, 140, 160),
        Level::Debug => Color32::from_rgb(100, 160, 230),
        Level::Info => Color32::from_rgb(110, 200, 120),
        Level::Warn => Color32::from_rgb(235, 190, 60),
        Level::Error => Color32::from_rgb(240, 90, 80),
        Level::Fatal => Color32::from_rgb(255, 60, 200),
    }
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
    let marked = TextFormat {
        background: ui.visuals().selection.bg_fill,
        color: Color32::WHITE,
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
