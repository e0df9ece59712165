//! How far a destination has acknowledged a session, kept in the session directory.
//!
//! ```text
//! sessions/2026-…-4242/forward-grpc-jaeger_4317.cursor.json
//!     {"destination":"grpc://jaeger:4317","segment":3,"offset":81920,"done":false}
//! ```
//! `segment` and `offset` name the next block to send: everything before it was
//! acknowledged. `done` says the whole (ended) session was forwarded. The file is
//! replaced by a rename, so it is never half written.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The next block a destination waits for in one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The segment's sequence number (`segment-00000003.oseg` is 3).
    pub segment: u64,
    /// File offset of the next block's frame in that segment.
    pub offset: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CursorFile {
    destination: String,
    #[serde(flatten)]
    position: Position,
    done: bool,
}

/// One destination's cursor in one session directory.
#[derive(Debug)]
pub struct Cursor {
    path: PathBuf,
    destination: String,
    pub position: Position,
    pub done: bool,
}

impl Cursor {
    /// The cursor kept at `path`, if it was ever written.
    pub fn load(path: &Path, destination: &str) -> std::io::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let file: CursorFile = serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(Some(Self {
            path: path.to_path_buf(),
            destination: destination.to_owned(),
            position: file.position,
            done: file.done,
        }))
    }

    /// A cursor at the start of a session, not yet written.
    pub fn start(path: &Path, destination: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            destination: destination.to_owned(),
            position: Position::default(),
            done: false,
        }
    }

    /// Writes the cursor aside and renames it into place.
    pub fn save(&self) -> std::io::Result<()> {
        let file = CursorFile {
            destination: self.destination.clone(),
            position: self.position,
            done: self.done,
        };
        let text = serde_json::to_string(&file).map_err(std::io::Error::other)?;
        write_replacing(&self.path, text.as_bytes())
    }
}

/// Replaces the file at `path` with `bytes` by writing aside and renaming, readable
/// by its owner only, as every file of the data directory, and never written through
/// a link planted in its place.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".new");
    let aside = PathBuf::from(aside);
    let mut file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&aside)?;
    file.write_all(bytes)?;
    std::fs::rename(&aside, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_cursor_loads_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("forward-x.cursor.json");
        assert!(
            Cursor::load(&path, "grpc://x:1")
                .expect("readable")
                .is_none()
        );
        let mut cursor = Cursor::start(&path, "grpc://x:1");
        cursor.position = Position {
            segment: 3,
            offset: 4096,
        };
        cursor.save().expect("saved");
        let loaded = Cursor::load(&path, "grpc://x:1")
            .expect("readable")
            .expect("present");
        assert_eq!(loaded.position, cursor.position);
        assert!(!loaded.done);
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(text.contains("\"destination\":\"grpc://x:1\""), "{text}");
    }
}
