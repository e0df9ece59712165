//! Jump to source: opens a file at a line in the user's running Neovim over its
//! RPC socket (nvim-rs). Runs on the tokio runtime; the UI only ever gets a message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nvim_rs::Value;
use nvim_rs::create::tokio as create;
use nvim_rs::rpc::handler::Dummy;

use crate::snapshot::SourceRef;

/// How long a jump may take before the user is told Neovim did not answer.
const JUMP_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to find Neovim and the sources.
#[derive(Clone, Debug, Default)]
pub struct EditorOptions {
    /// `--nvim SOCKET`; else `$NVIM`, else a running Neovim's usual socket.
    pub socket: Option<PathBuf>,
    /// Relative source paths (what `file!()` gives) are looked up here first.
    pub source_root: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum JumpError {
    #[error("no Neovim found: start it with `nvim --listen SOCKET` and pass --nvim SOCKET")]
    NoNeovim,
    #[error("cannot reach Neovim at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Neovim at {0} did not answer")]
    Timeout(PathBuf),
    #[error("Neovim refused: {0}")]
    Rpc(String),
    #[error("file not found: {file} (looked in {looked_in})")]
    NotFound { file: String, looked_in: String },
}

/// The socket to use: the configured one, `$NVIM`, or the newest usual socket.
pub fn find_socket(options: &EditorOptions) -> Option<PathBuf> {
    if let Some(socket) = &options.socket {
        return Some(socket.clone());
    }
    if let Some(socket) = std::env::var_os("NVIM").filter(|s| !s.is_empty()) {
        return Some(PathBuf::from(socket));
    }
    newest_socket(&usual_socket_dirs())
}

/// Where Neovim puts its sockets: `$XDG_RUNTIME_DIR/nvim.PID.0` (0.9 and later),
/// `$TMPDIR/nvim.USER/*/nvim.PID.0`, and `/tmp/nvimXXXXXX/0` (before 0.8).
fn usual_socket_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        dirs.push(PathBuf::from(runtime));
    }
    let tmp = std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    if let Some(user) = std::env::var_os("USER") {
        let mut name = std::ffi::OsString::from("nvim.");
        name.push(user);
        if let Ok(entries) = std::fs::read_dir(tmp.join(name)) {
            dirs.extend(entries.flatten().map(|e| e.path()));
        }
    }
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        dirs.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("nvim"))
                .map(|e| e.path()),
        );
    }
    dirs
}

fn newest_socket(dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_nvim = name == "0" || (name.starts_with("nvim.") && name.ends_with(".0"));
            let Ok(meta) = entry.metadata() else { continue };
            if is_nvim && meta.file_type().is_socket() {
                found.push((
                    meta.modified().unwrap_or(std::time::UNIX_EPOCH),
                    entry.path(),
                ));
            }
        }
    }
    found.into_iter().max().map(|(_, path)| path)
}

/// Opens `source` in Neovim; returns the path that was opened.
pub async fn jump(options: &EditorOptions, source: &SourceRef) -> Result<PathBuf, JumpError> {
    let socket = find_socket(options).ok_or(JumpError::NoNeovim)?;
    match tokio::time::timeout(JUMP_TIMEOUT, jump_to(&socket, options, source)).await {
        Ok(result) => result,
        Err(_) => Err(JumpError::Timeout(socket)),
    }
}

async fn jump_to(
    socket: &Path,
    options: &EditorOptions,
    source: &SourceRef,
) -> Result<PathBuf, JumpError> {
    let (nvim, io) = create::new_path(socket, Dummy::new())
        .await
        .map_err(|source| JumpError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
    let rpc = |e: Box<nvim_rs::error::CallError>| JumpError::Rpc(e.to_string());
    let result = async {
        let cwd = match nvim
            .call_function("getcwd", Vec::new())
            .await
            .map_err(rpc)?
        {
            Value::String(s) => s.into_str().map(PathBuf::from),
            _ => None,
        };
        let path = resolve(&source.file, options.source_root.as_deref(), cwd.as_deref())?;
        let escaped = nvim
            .call_function(
                "fnameescape",
                vec![Value::from(path.to_string_lossy().as_ref())],
            )
            .await
            .map_err(rpc)?;
        let escaped = escaped.as_str().unwrap_or_default().to_owned();
        nvim.command(&format!("edit {escaped}"))
            .await
            .map_err(rpc)?;
        // cursor() clamps a line past the end instead of failing.
        nvim.call_function(
            "cursor",
            vec![Value::from(i64::from(source.line.max(1))), Value::from(1)],
        )
        .await
        .map_err(rpc)?;
        nvim.command("normal! zz").await.map_err(rpc)?;
        Ok(path)
    }
    .await;
    io.abort();
    result
}

/// Finds the file: absolute as it is; relative under the source root, then Neovim's
/// working directory, then the viewer's own.
pub fn resolve(
    file: &str,
    source_root: Option<&Path>,
    nvim_cwd: Option<&Path>,
) -> Result<PathBuf, JumpError> {
    let path = Path::new(file);
    if path.is_absolute() {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(JumpError::NotFound {
                file: file.to_owned(),
                looked_in: "/".to_owned(),
            })
        };
    }
    let own_cwd = std::env::current_dir().ok();
    let bases: Vec<&Path> = [source_root, nvim_cwd, own_cwd.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    bases
        .iter()
        .map(|base| base.join(path))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| JumpError::NotFound {
            file: file.to_owned(),
            looked_in: bases
                .iter()
                .map(|b| b.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
