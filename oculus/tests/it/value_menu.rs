//! A value's menu in the real window: a right-click on a log row's service opens it,
//! and its "Copy value" puts the service's name where another program (xclip) reads
//! it. The row and the menu's entries are found on the screen, as a person finds them.

use crate::desktop::{Desktop, LINK, SCREEN, Screenshot, Viewer, eventually, start_xvfb};

/// The log table's columns left of the service, and the space between two columns
/// (`viewer/src/views/lists.rs`, egui's item spacing).
const TIME_WIDTH: usize = 96;
const LEVEL_WIDTH: usize = 52;
const COLUMN_GAP: usize = 8;

/// Text on the dark theme, against its background.
fn is_text(pixel: [u8; 3]) -> bool {
    pixel.iter().any(|&channel| channel > 90)
}

fn brightness(pixel: [u8; 3]) -> u32 {
    pixel.iter().map(|&channel| u32::from(channel)).sum()
}

/// The rows of the screen that hold a pixel `wanted` between columns `xs`, grouped into
/// bands of rows next to each other (a line of text each): the first and last row of
/// each band, top to bottom.
fn bands(
    xs: std::ops::Range<usize>,
    ys: std::ops::Range<usize>,
    wanted: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut bands: Vec<(usize, usize)> = Vec::new();
    for y in ys {
        if !xs.clone().any(|x| wanted(x, y)) {
            continue;
        }
        match bands.last_mut() {
            Some((_, last)) if y - *last <= 2 => *last = y,
            _ => bands.push((y, y)),
        }
    }
    bands
}

#[test]
fn copy_value_in_a_log_rows_service_menu_copies_the_service() {
    let (_xvfb, display) = start_xvfb();
    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(data.path(), &display);
    viewer.show_demo_rows(&display, "menu-service", 3);
    let desktop = Desktop { display };
    desktop.focus("Oculus");
    desktop.set_clipboard("before");

    // The first row: the top band of trace links; its time starts the table.
    let screen = Screenshot::settled(&desktop.display);
    let (top, bottom) = bands(0..SCREEN.0, 0..SCREEN.1, |x, y| screen.at(x, y) == LINK)[0];
    let row_y = (top + bottom) / 2;
    let table_x = (0..SCREEN.0)
        .find(|&x| (top..=bottom).any(|y| is_text(screen.at(x, y))))
        .unwrap();
    let service_x = table_x + TIME_WIDTH + COLUMN_GAP + LEVEL_WIDTH + COLUMN_GAP + 10;

    desktop.point_at(service_x, row_y);
    let before = Screenshot::settled(&desktop.display);
    desktop.click(3);
    // The menu opens under the pointer: its entries are the lines of text that came
    // there (its shadow only darkens what it falls on).
    let menu_xs = service_x..(service_x + 250).min(SCREEN.0);
    let menu_ys = bottom + 3..(bottom + 150).min(SCREEN.1);
    let mut entries = Vec::new();
    eventually("the value's menu", || {
        let after = Screenshot::take(&desktop.display);
        entries = bands(menu_xs.clone(), menu_ys.clone(), |x, y| {
            let (now, then) = (after.at(x, y), before.at(x, y));
            is_text(now) && brightness(now) > brightness(then) + 60
        });
        entries.len() >= 3
    });
    // "Filter to this", "Exclude this", "Copy value": the third line from the top.
    let (copy_top, copy_bottom) = entries[2];
    desktop.point_at(service_x + 20, (copy_top + copy_bottom) / 2);
    desktop.click(1);
    eventually("a copy", || desktop.clipboard() != "before");
    assert_eq!(desktop.clipboard(), "menu-service");

    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
}
