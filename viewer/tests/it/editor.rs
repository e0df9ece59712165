//! Jump to source against a real `nvim --headless --listen SOCKET`.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use nvim_rs::Value;
use oculus_viewer::editor::{EditorOptions, JumpError, jump};
use oculus_viewer::snapshot::SourceRef;

use crate::common::{eventually, runtime};

pub struct Nvim {
    child: Child,
}

impl Drop for Nvim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_nvim(socket: &Path, cwd: &Path) -> Nvim {
    let child = Command::new("nvim")
        .args(["--headless", "--clean", "--listen"])
        .arg(socket)
        .current_dir(cwd)
        .spawn()
        .expect("nvim is installed (apt-get install neovim)");
    eventually("Neovim's socket", || socket.exists());
    // Answering, not only listening, as the user's editor is: on a loaded machine a
    // Neovim still starting up can outlast a jump's timeout.
    let runtime = runtime();
    eventually("Neovim to answer", || runtime.block_on(answers(socket)));
    Nvim { child }
}

/// Whether Neovim at `socket` answers a request within a second.
async fn answers(socket: &Path) -> bool {
    let ask = async {
        let (nvim, io) =
            nvim_rs::create::tokio::new_path(socket, nvim_rs::rpc::handler::Dummy::new())
                .await
                .ok()?;
        let answered = nvim.get_api_info().await.is_ok();
        io.abort();
        Some(answered)
    };
    tokio::time::timeout(Duration::from_secs(1), ask)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The current buffer's name and the cursor's line, asked of Neovim itself.
pub async fn where_is_the_cursor(socket: &Path) -> (String, i64) {
    let (nvim, io) = nvim_rs::create::tokio::new_path(socket, nvim_rs::rpc::handler::Dummy::new())
        .await
        .unwrap();
    let name = nvim
        .get_current_buf()
        .await
        .unwrap()
        .get_name()
        .await
        .unwrap();
    let line = match nvim
        .call_function("line", vec![Value::from(".")])
        .await
        .unwrap()
    {
        Value::Integer(line) => line.as_i64().unwrap(),
        other => panic!("line() gave {other:?}"),
    };
    io.abort();
    (name, line)
}

#[test]
fn opens_the_file_at_the_line_in_a_running_neovim() {
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("my project (v2)");
    std::fs::create_dir_all(sources.join("src")).unwrap();
    let file = sources.join("src/order handler's #1.rs");
    let text: String = (1..=80).map(|i| format!("// line {i}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let socket = dir.path().join("nvim.sock");
    let _nvim = start_nvim(&socket, &sources);
    let runtime = runtime();

    // A relative path, as `file!()` gives, resolved in Neovim's working directory.
    let options = EditorOptions {
        socket: Some(socket.clone()),
        source_root: None,
    };
    let source = SourceRef {
        file: "src/order handler's #1.rs".into(),
        line: 42,
    };
    let opened = runtime.block_on(jump(&options, &source)).unwrap();
    assert_eq!(opened.canonicalize().unwrap(), file.canonicalize().unwrap());
    let (name, line) = runtime.block_on(where_is_the_cursor(&socket));
    assert_eq!(
        Path::new(&name).canonicalize().unwrap(),
        file.canonicalize().unwrap()
    );
    assert_eq!(line, 42);

    // Under a configured source root, from anywhere; a line past the end is clamped.
    let options = EditorOptions {
        socket: Some(socket.clone()),
        source_root: Some(sources.join("src")),
    };
    let source = SourceRef {
        file: "order handler's #1.rs".into(),
        line: 500,
    };
    runtime.block_on(jump(&options, &source)).unwrap();
    assert_eq!(runtime.block_on(where_is_the_cursor(&socket)).1, 80);

    // A file that is nowhere is a message, and Neovim stays where it was.
    let missing = SourceRef {
        file: "src/gone.rs".into(),
        line: 3,
    };
    let error = runtime.block_on(jump(&options, &missing)).unwrap_err();
    assert!(matches!(error, JumpError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("src/gone.rs"));
    assert_eq!(runtime.block_on(where_is_the_cursor(&socket)).1, 80);
}

#[test]
fn a_dead_socket_is_a_message_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nvim.sock");
    let runtime = runtime();
    let options = EditorOptions {
        socket: Some(socket.clone()),
        source_root: None,
    };
    let source = SourceRef {
        file: "src/main.rs".into(),
        line: 1,
    };
    // No Neovim at all.
    let error = runtime.block_on(jump(&options, &source)).unwrap_err();
    assert!(matches!(error, JumpError::Connect { .. }), "{error}");
    // A Neovim that went away.
    let nvim = start_nvim(&socket, dir.path());
    drop(nvim);
    std::thread::sleep(Duration::from_millis(100));
    let error = runtime.block_on(jump(&options, &source)).unwrap_err();
    assert!(matches!(error, JumpError::Connect { .. }), "{error}");
}
