//! Copy and paste reach the system clipboard: keys pressed in the real window (Xvfb,
//! xdotool) put trace ids and traces where another program (xclip) reads them, and a
//! trace id copied elsewhere filters the window when pasted.

use crate::desktop::{Desktop, Viewer, eventually, is_trace_id, start_xvfb};

/// Waits until the clipboard holds something other than `before`, and returns it.
fn next_clipboard(desktop: &Desktop, before: &str) -> String {
    let mut text = String::new();
    eventually("the clipboard to change", || {
        text = desktop.clipboard();
        text != before
    });
    text
}

#[test]
fn y_and_shift_y_copy_to_the_system_clipboard_and_a_pasted_trace_id_filters() {
    let (_xvfb, display) = start_xvfb();
    let data = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(data.path(), &display);
    viewer.show_demo_rows(&display, "clipboard", 6);
    let desktop = Desktop { display };
    desktop.focus("Oculus");
    desktop.set_clipboard("before");

    // y on the oldest log record: its trace id.
    desktop.keys(&["g", "g", "y"]);
    let oldest = next_clipboard(&desktop, "before");
    assert!(is_trace_id(&oldest), "{oldest:?}");
    // Y: the whole trace, as Markdown, headed by the same id.
    desktop.keys(&["Y"]);
    let markdown = next_clipboard(&desktop, &oldest);
    assert!(
        markdown.starts_with(&format!("Trace `{oldest}` (")),
        "{markdown}"
    );
    assert!(markdown.contains("GET /orders/{id}"), "{markdown}");

    // The newest record belongs to another request's trace.
    desktop.keys(&["G", "y"]);
    let newest = next_clipboard(&desktop, &markdown);
    assert!(is_trace_id(&newest), "{newest:?}");
    assert_ne!(newest, oldest);

    // A trace id copied in another program and pasted into the window filters by it:
    // then even the oldest row shown belongs to that trace.
    desktop.set_clipboard(&newest);
    desktop.keys(&["ctrl+v"]);
    desktop.set_clipboard("after the paste");
    desktop.keys(&["g", "g", "y"]);
    assert_eq!(next_clipboard(&desktop, "after the paste"), newest);

    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
}
