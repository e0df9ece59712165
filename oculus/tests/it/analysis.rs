//! The analysis views in the real window (Xvfb, xdotool, xclip): a drag across the
//! histogram strip narrows the lists to a stretch of time and `x` widens them again;
//! the operations table opens an operation's slowest trace, which the flame graph
//! then shows with the same selection.

use std::time::Duration;

use crate::desktop::{Desktop, Viewer, copy_until, eventually, is_trace_id, start_xvfb};

/// Where the histogram strip is in a new window: under the tab and filter bars,
/// across the whole width (the screen is 1280 pixels wide).
const STRIP_Y: usize = 105;

#[test]
fn a_drag_across_the_histogram_narrows_the_lists_and_x_widens_them_again() {
    let (_xvfb, display) = start_xvfb();
    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(data.path(), &display);
    viewer.show_demo_rows(&display, "histogram", 20);
    let desktop = Desktop { display };
    desktop.focus("Oculus");
    // The newest record is the last request's.
    let newest = copy_until(&desktop, &["G", "y"], is_trace_id);

    // A stretch from a fifth to under half of the run: the newest row is then an
    // earlier request's.
    // On a loaded machine a frame can outlast the whole drag, which egui then reads as
    // a click: drag again until the lists narrow.
    eventually("a drag across the strip to narrow the lists", || {
        desktop.drag((260, STRIP_Y), (600, STRIP_Y));
        desktop.set_clipboard("nothing copied");
        desktop.keys(&["G", "y"]);
        std::thread::sleep(Duration::from_millis(300));
        let copied = desktop.clipboard();
        is_trace_id(&copied) && copied != newest
    });

    desktop.keys(&["x"]);
    copy_until(&desktop, &["G", "y"], |text| text == newest);

    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
}

#[test]
fn an_operation_opens_its_slowest_trace_which_the_flame_graph_shows() {
    let (_xvfb, display) = start_xvfb();
    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(data.path(), &display);
    viewer.show_demo_rows(&display, "operations", 8);
    let desktop = Desktop { display };
    desktop.focus("Oculus");
    // The trace list, where nothing is selected yet: `y` copies nothing there.
    desktop.keys(&["t"]);
    desktop.set_clipboard("nothing copied");
    desktop.keys(&["y"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(desktop.clipboard(), "nothing copied");

    // O shows the table, busiest operation first; Enter selects it and Enter again
    // opens its slowest trace, whose span `y` copies the trace of.
    desktop.keys(&["O", "j", "Return", "Return"]);
    let slowest = copy_until(&desktop, &["y"], is_trace_id);
    // F: the same trace as a flame graph, the same span selected.
    desktop.keys(&["F"]);
    assert_eq!(copy_until(&desktop, &["y"], is_trace_id), slowest);

    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
}
