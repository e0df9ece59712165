//! How far a destination has acknowledged a session: its cursor file in the session
//! directory, whose form is the store's (`oculus_store::forwarding`).

use std::path::{Path, PathBuf};

pub use oculus_store::forwarding::Position;
use oculus_store::forwarding::{self, CursorRecord};

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
        Ok(forwarding::read_cursor(path)?.map(|record| Self {
            path: path.to_path_buf(),
            destination: destination.to_owned(),
            position: record.position,
            done: record.done,
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
        let record = CursorRecord {
            destination: self.destination.clone(),
            position: self.position,
            done: self.done,
        };
        forwarding::write_cursor(&self.path, &record)
    }
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
    }
}
