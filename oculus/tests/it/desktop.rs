//! What the desktop tests stand on: a real X display (Xvfb), its screen and keyboard
//! and clipboard, and the shipped `oculus` binary running on it.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &Child) {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "kill -TERM {pid}: {sent}");
}

/// Starts Xvfb on a free display; returns it and the display name.
pub fn start_xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is installed (apt-get install xvfb)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    (Killed(child), display)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `check` every few milliseconds until it holds or 20 s have passed.
#[track_caller]
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// egui's link colour (dark theme): only rows with a trace or a source link draw it.
pub const LINK: [u8; 3] = [90, 170, 255];

/// The distinct pixel values on the screen: one on a blank screen, many in a window.
pub fn screen_colours(display: &str) -> HashSet<[u8; 3]> {
    screen_pixels(display).collect()
}

/// The screen's width and height in pixels, as `start_xvfb` makes it.
pub const SCREEN: (usize, usize) = (1280, 800);

/// A screenshot: its pixels by position.
pub struct Screenshot(Vec<[u8; 3]>);

impl Screenshot {
    pub fn take(display: &str) -> Self {
        Self(screen_pixels(display).collect())
    }

    /// A screenshot once the screen stopped changing: no rows still coming in, no
    /// animation under way.
    pub fn settled(display: &str) -> Self {
        let mut last = Self::take(display);
        let mut settled = false;
        eventually("the screen to settle", || {
            std::thread::sleep(Duration::from_millis(250));
            let now = Self::take(display);
            settled = now.0 == last.0;
            last = now;
            settled
        });
        last
    }

    /// The pixel at column `x` and row `y`.
    pub fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.0[y * SCREEN.0 + x]
    }
}

/// Every pixel of the screen, row by row.
fn screen_pixels(display: &str) -> impl Iterator<Item = [u8; 3]> {
    let output = Command::new("xwd")
        .args(["-root", "-silent", "-display", display])
        .output()
        .expect("xwd is installed (apt-get install x11-apps)");
    assert!(output.status.success());
    let mut dump = output.stdout;
    // The pixels are the dump's last width * height * 4 bytes.
    dump.drain(..dump.len().saturating_sub(SCREEN.0 * SCREEN.1 * 4));
    // xwd writes 32-bit pixels as B, G, R, unused on this server.
    (0..dump.len() / 4).map(move |at| {
        let pixel = &dump[at * 4..at * 4 + 4];
        [pixel[2], pixel[1], pixel[0]]
    })
}

/// The colour most of the screen has: the window's background once it is open.
pub fn background(display: &str) -> [u8; 3] {
    let mut counts = HashMap::new();
    for pixel in screen_pixels(display) {
        *counts.entry(pixel).or_insert(0_usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(_, count)| count)
        .map(|(colour, _)| colour)
        .unwrap()
}

/// Whether `colour` is a light theme's background rather than a dark one's.
pub fn is_light(colour: [u8; 3]) -> bool {
    colour.iter().all(|&channel| channel > 200)
}

/// The XDG data home the viewer is given in `home`.
pub fn data_home(home: &Path) -> PathBuf {
    home.join("data")
}

/// The `oculus` binary running on `display` over the data directory `data`, with a home
/// of its own: what it keeps across restarts never lands in the real home.
pub struct Viewer {
    process: Killed,
    /// The temporary home made for it, when the test gave none; removed after the
    /// process above is killed, as fields drop in order.
    _own_home: Option<tempfile::TempDir>,
    /// The line that says who collects: "oculus: collecting on ...".
    pub status_line: String,
    /// What it logged before that line (the collector's start).
    start_log: String,
    /// Everything it prints after that, once it has exited.
    rest: std::thread::JoinHandle<String>,
}

impl Viewer {
    /// Starts it in a fresh temporary home, removed when it is dropped.
    pub fn start(data: &Path, display: &str) -> Self {
        Self::start_opening(data, display, &[])
    }

    /// Starts it as [`Viewer::start`] does, with `paths` to open on its command line.
    pub fn start_opening(data: &Path, display: &str, paths: &[&Path]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().to_owned();
        Self::spawn(data, &path, display, Some(home), paths, &[])
    }

    /// [`Viewer::start`] with more arguments.
    pub fn start_with(data: &Path, display: &str, args: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().to_owned();
        Self::spawn(data, &path, display, Some(home), &[], args)
    }

    /// Starts it with `home` as its home and `data_home(home)` as its XDG data home,
    /// where eframe keeps the window's state: a restart in the same home finds it.
    pub fn start_at_home(data: &Path, home: &Path, display: &str) -> Self {
        Self::spawn(data, home, display, None, &[], &[])
    }

    fn spawn(
        data: &Path,
        home: &Path,
        display: &str,
        own_home: Option<tempfile::TempDir>,
        paths: &[&Path],
        args: &[&str],
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oculus"))
            .args(paths)
            .arg("--data-dir")
            .arg(data)
            .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(args)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("HOME", home)
            .env("XDG_DATA_HOME", data_home(home))
            // Caches and settings (the GL driver's shader cache) go under the home too.
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut start_log = String::new();
        let status_line = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "{start_log}");
            // What it imported of the files it was given comes before who collects.
            if line.starts_with("oculus: ")
                && !line.starts_with("oculus: imported ")
                && !line.starts_with("oculus: opening ")
            {
                break line;
            }
            start_log.push_str(&line);
        };
        // Keep reading stderr so the viewer never blocks on a full pipe.
        let rest = std::thread::Builder::new()
            .name("viewer-stderr".into())
            .spawn(move || {
                let mut rest = String::new();
                let _ = stderr.read_to_string(&mut rest);
                rest
            })
            .unwrap();
        Self {
            process: Killed(child),
            _own_home: own_home,
            status_line,
            start_log,
            rest,
        }
    }

    /// "oculus: collecting on 127.0.0.1:PORT (gRPC) and 127.0.0.1:PORT (HTTP)..."
    pub fn grpc_addr(&self) -> SocketAddr {
        self.status_line
            .split_whitespace()
            .nth(3)
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {:?}", self.status_line))
    }

    /// Runs the demo service as `service` for `requests` requests against it, and waits
    /// until the window shows rows (their trace links).
    pub fn show_demo_rows(&self, display: &str, service: &str, requests: u64) {
        runtime()
            .block_on(demo_service::export_orders(
                self.grpc_addr(),
                service,
                requests,
            ))
            .unwrap();
        eventually("rows with trace links", || {
            screen_colours(display).contains(&LINK)
        });
    }

    /// SIGTERM closes the window; returns how it exited and everything it logged.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        sigterm(&self.process.0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the viewer did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest = self.rest.join().unwrap();
        (status, self.start_log + &self.status_line + &rest)
    }
}

/// The X keyboard and clipboard of a display, through xdotool and xclip.
pub struct Desktop {
    pub display: String,
}

impl Desktop {
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("DISPLAY", &self.display);
        command
    }

    /// Gives the keyboard focus to the window titled `title` once it is mapped (there is
    /// no window manager to do it).
    pub fn focus(&self, title: &str) {
        let output = self
            .command("xdotool")
            .args(["search", "--sync", "--onlyvisible", "--name", title])
            .output()
            .expect("xdotool is installed (apt-get install xdotool)");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let window = stdout
            .lines()
            .next()
            .unwrap_or_else(|| panic!("no window {title}"));
        let status = self
            .command("xdotool")
            .args(["windowfocus", "--sync", window])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Presses keys as a person would, one after the other (xdotool key names:
    /// `j`, `Y`, `ctrl+v`).
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .command("xdotool")
            .args(["key", "--delay", "60"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Types `text` into the focused window, a character at a time.
    pub fn type_text(&self, text: &str) {
        let status = self
            .command("xdotool")
            .args(["type", "--delay", "30", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Moves the pointer to `x`, `y` on the screen.
    pub fn point_at(&self, x: usize, y: usize) {
        let status = self
            .command("xdotool")
            .args(["mousemove", "--sync", &x.to_string(), &y.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Clicks `button` where the pointer is: 1 is the left button, 3 the right one.
    pub fn click(&self, button: u8) {
        let status = self
            .command("xdotool")
            .args(["click", &button.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Drags with the left button from `from` to `to` on the screen, through a point
    /// halfway, as a hand moves.
    pub fn drag(&self, from: (usize, usize), to: (usize, usize)) {
        self.point_at(from.0, from.1);
        self.button("mousedown");
        for step in 1..=4 {
            let x = from.0 + (to.0 - from.0) * step / 4;
            let y = from.1 + (to.1.saturating_sub(from.1)) * step / 4;
            self.point_at(x, y);
            std::thread::sleep(Duration::from_millis(60));
        }
        self.button("mouseup");
    }

    fn button(&self, command: &str) {
        let status = self
            .command("xdotool")
            .args([command, "1"])
            .status()
            .unwrap();
        assert!(status.success());
        // Frames apart, as a hand is: egui reads a press and a move in one frame as
        // no drag.
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The text on the clipboard, as any other program reads it.
    pub fn clipboard(&self) -> String {
        let output = self
            .command("xclip")
            .args(["-o", "-selection", "clipboard"])
            .output()
            .expect("xclip is installed (apt-get install xclip)");
        // Empty until someone owns the clipboard.
        String::from_utf8(output.stdout).unwrap()
    }

    /// Puts text on the clipboard, as another program would.
    pub fn set_clipboard(&self, text: &str) {
        let mut child = self
            .command("xclip")
            .args(["-i", "-selection", "clipboard"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
        // xclip forks a process that serves the text until another owner takes over.
        assert!(child.wait().unwrap().success());
        eventually("the text on the clipboard", || self.clipboard() == text);
    }
}

/// Whether `text` is an OTLP trace id: 32 lowercase hex digits, not all zero.
pub fn is_trace_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && text.bytes().any(|b| b != b'0')
}

/// Presses `keys` until what they put on the clipboard satisfies `wanted`, and returns
/// it: the list the keys act on may still be loading or filtering.
pub fn copy_until(desktop: &Desktop, keys: &[&str], wanted: impl Fn(&str) -> bool) -> String {
    let mut copied = String::new();
    eventually(&format!("{keys:?} to copy what is wanted"), || {
        desktop.set_clipboard("nothing copied");
        desktop.keys(keys);
        std::thread::sleep(Duration::from_millis(200));
        copied = desktop.clipboard();
        wanted(&copied)
    });
    copied
}
