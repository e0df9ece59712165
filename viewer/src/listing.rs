//! A directory's entries for the file browser, read on the backend thread: the UI
//! thread never touches the file system.

use std::path::PathBuf;

use crate::snapshot::{ListedEntry, Listing};

/// Entries the browser shows at most; a larger directory says how many were left out.
const MAX_ENTRIES: usize = 5_000;

/// Lists `dir`: directories first, then files, each by name; hidden entries (a name
/// starting with a dot) are left out.
pub(crate) fn list(dir: PathBuf, request: u64) -> Listing {
    let mut listing = Listing {
        request,
        dir,
        ..Listing::default()
    };
    let entries = match std::fs::read_dir(&listing.dir) {
        Ok(entries) => entries,
        Err(error) => {
            listing.error = Some(format!("cannot read {}: {error}", listing.dir.display()));
            return listing;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Followed through a link, as opening the path will be.
        let is_dir = listing.dir.join(&name).is_dir();
        listing.entries.push(ListedEntry { name, is_dir });
    }
    listing
        .entries
        .sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    listing.left_out = listing.entries.len().saturating_sub(MAX_ENTRIES);
    listing.entries.truncate(MAX_ENTRIES);
    listing
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn directories_come_first_and_hidden_entries_stay_hidden() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        for file in ["b.oseg", "a.txt", ".hidden"] {
            std::fs::write(dir.path().join(file), b"")?;
        }
        std::fs::create_dir(dir.path().join("sessions"))?;
        let listing = list(dir.path().to_path_buf(), 7);
        assert_eq!(listing.request, 7);
        assert_eq!(listing.error, None);
        let names: Vec<(&str, bool)> = listing
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.is_dir))
            .collect();
        assert_eq!(
            names,
            [("sessions", true), ("a.txt", false), ("b.oseg", false)]
        );

        let missing = list(dir.path().join("gone"), 8);
        assert!(missing.entries.is_empty());
        assert!(missing.error.is_some_and(|e| e.contains("gone")), "named");
        Ok(())
    }
}
