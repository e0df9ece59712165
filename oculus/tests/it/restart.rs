//! What the window keeps across restarts, through the real binary: the theme, the text
//! size and the search set with keys in one run are back in the next, read from the
//! XDG data home it was given.

use crate::desktop::{
    Desktop, Viewer, background, copy_until, data_home, eventually, is_light, start_xvfb,
};

#[test]
fn theme_text_size_and_search_are_back_after_a_restart() {
    let (_xvfb, display) = start_xvfb();
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let viewer = Viewer::start_at_home(data.path(), home.path(), &display);
    // Eight requests: the seventh fails, and only its trace logs "request failed".
    viewer.show_demo_rows(&display, "restart", 8);
    assert!(!is_light(background(&display)), "a dark window to start");
    let desktop = Desktop { display };
    desktop.focus("Oculus");
    let oldest = copy_until(&desktop, &["g", "g", "y"], |text| text.len() == 32);

    desktop.keys(&["T"]);
    eventually("the light theme", || is_light(background(&desktop.display)));
    desktop.keys(&["ctrl+plus"]);
    // Typed without a pause: letters that come in the frame of the `/` or of the Esc
    // still land in the field.
    desktop.keys(&["slash"]);
    desktop.type_text("request failed");
    desktop.keys(&["Escape"]);
    // The search leaves the failed request's trace alone in the list.
    let failed = copy_until(&desktop, &["g", "g", "y"], |text| {
        text.len() == 32 && text != oldest
    });

    // eframe writes what the app keeps when the window closes, on a stop signal too.
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    let stored_at = data_home(home.path()).join("oculus-viewer/app.ron");
    let stored = std::fs::read_to_string(&stored_at)
        .unwrap_or_else(|err| panic!("{}: {err}\n{log}", stored_at.display()));
    for kept in ["theme:Light", "request failed", "zoom_factor:1.1"] {
        assert!(stored.contains(kept), "{kept:?} not in {stored}");
    }

    // The next run opens light, with the search applied to what was collected before.
    let viewer = Viewer::start_at_home(data.path(), home.path(), &desktop.display);
    eventually("the light theme again", || {
        is_light(background(&desktop.display))
    });
    desktop.focus("Oculus");
    assert_eq!(
        copy_until(&desktop, &["g", "g", "y"], |text| text.len() == 32),
        failed
    );
    let (status, log) = viewer.terminate();
    assert!(status.success(), "{status}: {log}");
    // The text size came back too, or this run would have stored the default.
    let stored = std::fs::read_to_string(&stored_at).unwrap();
    assert!(stored.contains("zoom_factor:1.1"), "{stored}");
}
