//! What a collector that forwards (`serve --forward`) keeps beside each session: a
//! cursor per destination, and the counts the viewer shows. The collector writes both
//! and the viewer reads both, so their form is defined once, here.
//!
//! ```text
//! sessions/2026-…-4242/
//!     forward-grpc-jaeger_4317.cursor.json   how far that destination acknowledged:
//!         {"destination":"grpc://jaeger:4317","segment":3,"offset":81920,"done":false}
//!     forward.json                           every destination's counts, replaced
//!         {"destinations":[{"destination":"grpc://jaeger:4317",   about once a second
//!           "forwarded":12345,"pending":0,"failed":0,"retrying":false,"error":null}]}
//! ```
//!
//! A cursor's `segment` and `offset` name the next block to send: everything before it
//! was acknowledged (or refused for good). `done` says the whole ended session was
//! sent. Both files are written aside and renamed into place, so a reader never sees
//! half of one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::permissions::PRIVATE_FILE_MODE;

/// The counts file in a session directory.
pub const STATUS_FILE: &str = "forward.json";
const CURSOR_PREFIX: &str = "forward-";
const CURSOR_SUFFIX: &str = ".cursor.json";

/// The next block a destination waits for in one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The segment's sequence number (`segment-00000003.oseg` is 3).
    pub segment: u64,
    /// File offset of the next block's frame in that segment.
    pub offset: u64,
}

/// A cursor file's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorRecord {
    /// The destination's URL (`grpc://jaeger:4317`).
    pub destination: String,
    #[serde(flatten)]
    pub position: Position,
    pub done: bool,
}

/// One destination's counts, as its collector last wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationStatus {
    /// The destination's URL (`grpc://jaeger:4317`).
    pub destination: String,
    /// Records the destination took.
    pub forwarded: u64,
    /// Records accepted and not yet sent.
    pub pending: u64,
    /// Records the destination refused for good, or that could not be read.
    pub failed: u64,
    /// The destination asked to retry, or could not be reached; sending goes on.
    #[serde(default)]
    pub retrying: bool,
    /// The last failure, until a send succeeds.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StatusFile {
    destinations: Vec<DestinationStatus>,
}

/// The name of `destination`'s cursor file, given the file-name-safe form of its URL.
pub fn cursor_file_name(destination_slug: &str) -> String {
    format!("{CURSOR_PREFIX}{destination_slug}{CURSOR_SUFFIX}")
}

/// The cursor kept at `path`, if it was ever written.
pub fn read_cursor(path: &Path) -> std::io::Result<Option<CursorRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

pub fn write_cursor(path: &Path, cursor: &CursorRecord) -> std::io::Result<()> {
    let text = serde_json::to_string(cursor).map_err(std::io::Error::other)?;
    write_replacing(path, text.as_bytes())
}

/// Every readable cursor in `session`, of any destination.
pub fn session_cursors(session: &Path) -> Vec<CursorRecord> {
    let Ok(entries) = std::fs::read_dir(session) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(CURSOR_PREFIX) && name.ends_with(CURSOR_SUFFIX)
        })
        .filter_map(|entry| read_cursor(&entry.path()).ok().flatten())
        .collect()
}

/// The counts in `session`'s status file; none when it is missing or unreadable.
pub fn read_status(session: &Path) -> Vec<DestinationStatus> {
    std::fs::read_to_string(session.join(STATUS_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<StatusFile>(&text).ok())
        .map(|file| file.destinations)
        .unwrap_or_default()
}

/// Replaces `session`'s status file with `statuses`.
pub fn write_status(session: &Path, statuses: &[DestinationStatus]) -> std::io::Result<()> {
    let text = serde_json::to_string(&StatusFile {
        destinations: statuses.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    write_replacing(&session.join(STATUS_FILE), text.as_bytes())
}

/// Replaces the file at `path` with `bytes` by writing aside and renaming, readable
/// by its owner only, as every file of the data directory, and never written through
/// a link planted in its place.
fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".new");
    let aside = PathBuf::from(aside);
    let mut file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&aside)?;
    file.write_all(bytes)?;
    std::fs::rename(&aside, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_cursor_reads_back_and_is_found_in_its_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(cursor_file_name("grpc-x_1"));
        assert_eq!(read_cursor(&path).expect("readable"), None);
        let cursor = CursorRecord {
            destination: "grpc://x:1".into(),
            position: Position {
                segment: 3,
                offset: 4096,
            },
            done: true,
        };
        write_cursor(&path, &cursor).expect("written");
        assert_eq!(read_cursor(&path).expect("readable"), Some(cursor.clone()));
        std::fs::write(dir.path().join("forward-y.cursor.json"), "{").expect("written");
        assert_eq!(session_cursors(dir.path()), vec![cursor]);
        let text = std::fs::read_to_string(&path).expect("readable");
        assert_eq!(
            text,
            r#"{"destination":"grpc://x:1","segment":3,"offset":4096,"done":true}"#
        );
    }

    #[test]
    fn the_status_file_reads_back_and_a_missing_one_has_no_destination() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_status(dir.path()).is_empty());
        let status = DestinationStatus {
            destination: "grpc://jaeger:4317".into(),
            forwarded: 3,
            pending: 1,
            failed: 0,
            retrying: false,
            error: None,
        };
        write_status(dir.path(), std::slice::from_ref(&status)).expect("written");
        let text = std::fs::read_to_string(dir.path().join(STATUS_FILE)).expect("readable");
        assert_eq!(
            text,
            r#"{"destinations":[{"destination":"grpc://jaeger:4317","forwarded":3,"pending":1,"failed":0,"retrying":false,"error":null}]}"#
        );
        assert_eq!(read_status(dir.path()), vec![status]);
    }
}
