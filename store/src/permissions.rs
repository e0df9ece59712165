//! Who may read what the store writes: its owner only. Telemetry carries what programs
//! say about their users and secrets, so directories are 0700 and files 0600, files are
//! never opened through a link, and a data directory of another user is refused.

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::StoreError;

pub const PRIVATE_DIR_MODE: u32 = 0o700;
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents readable by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
        .map_err(|e| StoreError::io(dir, e))
}

/// Refuses a data directory that another user owns: writing there would hand them our
/// telemetry, or let them plant files we then trust.
pub(crate) fn refuse_if_not_ours(root: &Path) -> Result<(), StoreError> {
    let owner = fs::metadata(root)
        .map_err(|e| StoreError::io(root, e))?
        .uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[expect(
        unsafe_code,
        reason = "geteuid is a plain system call with no failure mode"
    )]
    let us = unsafe { libc::geteuid() };
    if owner != us {
        return Err(StoreError::NotOurs {
            path: root.to_path_buf(),
            owner,
        });
    }
    Ok(())
}

/// Creates (or empties) a file only its owner can read, never through a link.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}
