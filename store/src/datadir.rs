//! The data directory: one collector at a time, one session per collector run.
//!
//! ```text
//! DATA_DIR/
//!     collector.lock                  held (flock) by the running collector; holds its pid
//!     sessions/
//!         2026-11-25T17-30-05.123Z-4242/  one per collector run: start time, then pid
//!             session.json            when and by what the session was started, and
//!                                     once it ended, when and how (stop or recovery)
//!             segment-00000001.oseg   sealed
//!             segment-00000002.oseg   active (no footer yet)
//!             forward-….cursor.json   with `serve --forward`: what a destination took
//!             forward.json            and the forwarding counts (the collector's
//!                                     `forward.rs`; no reader of segments needs them)
//! ```
//!
//! Sessions sort by name in start order. Within a session only the highest-numbered
//! segment can be active: every segment before it was sealed before the next was
//! created, so one of them without its footer was cut short afterwards. A session whose
//! record says it ended has no active segment at all. On the next start, recovery
//! (`recovery.rs`) seals the active segment of a run that crashed, cutting only an
//! incomplete or damaged tail, and records that the session ended. This module
//! finds, locks and creates; `session_writer.rs` writes.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::archive::{Archive, ArchivedAt, is_archive, map_range};
use crate::block_reader::BlockReader;
use crate::error::{Corruption, StoreError};
use crate::permissions::{
    PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, create_private_dir, create_private_file,
    refuse_if_not_ours,
};
use crate::proto::SegmentIndex;
use crate::segment::{FsyncPolicy, SEGMENT_EXTENSION, SegmentBytes, SegmentData, sync_dir};
use crate::segment::{header_damage, header_damage_within, index_within, is_sealed, read_index};

pub const LOCK_FILE: &str = "collector.lock";
pub const SESSIONS_DIR: &str = "sessions";
pub const SESSION_FILE: &str = "session.json";

/// The per-user default: `$XDG_DATA_HOME/oculus`, else `~/.local/share/oculus`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("oculus");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/oculus"),
        None => PathBuf::from("oculus-data"),
    }
}

/// Proof that this process owns a data directory; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    root: PathBuf,
}

impl DataDirLock {
    /// Takes the directory's lock without waiting, creating the directory (readable by
    /// its owner only) if needed. Refuses a directory another user owns.
    pub fn acquire(root: &Path) -> Result<Self, StoreError> {
        if root.exists() {
            refuse_if_not_ours(root)?;
        }
        create_private_dir(&root.join(SESSIONS_DIR))?;
        let path = root.join(LOCK_FILE);
        let io = |source| StoreError::io(&path, source);
        // Never through a link: a link planted here would point the pid write at
        // another file of this user.
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path)
                    .ok()
                    .map(|text| text.trim().to_owned())
                    .filter(|text| !text.is_empty());
                return Err(StoreError::Locked {
                    path: root.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "pid {}", std::process::id()).map_err(io)?;
        Ok(Self {
            _file: file,
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Whether another process holds the lock of `root` (a running collector).
pub fn is_locked(root: &Path) -> bool {
    let Ok(file) = File::open(root.join(LOCK_FILE)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(fs::TryLockError::WouldBlock) => true,
        Err(fs::TryLockError::Error(_)) => false,
    }
}

/// A session directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    pub path: PathBuf,
}

impl Session {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The session's segments in write order, each with whether the session went on
    /// past it.
    pub fn segment_files(&self) -> Result<Vec<SegmentFile>, StoreError> {
        let paths = self.segments()?;
        // Only a collector's session (it writes the record before any segment) says
        // anything about order; segment files copied into a folder say nothing.
        let written_by_collector = self.path.join(SESSION_FILE).is_file();
        let closed = self.is_closed();
        let last = paths.len().saturating_sub(1);
        Ok(paths
            .into_iter()
            .enumerate()
            .map(|(i, path)| SegmentFile {
                path,
                finished: written_by_collector && (closed || i < last),
                archived: None,
            })
            .collect())
    }

    /// Whether the session's record says it ended: its collector stopped, or the next
    /// start recovered it. No segment of a closed session is written again.
    pub fn is_closed(&self) -> bool {
        let Ok(text) = fs::read_to_string(self.path.join(SESSION_FILE)) else {
            return false;
        };
        serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|info| info.get(ENDED_FIELD).is_some())
    }

    /// Records in `session.json` that the session ended, and how, so that readers know
    /// every segment of it must be sealed. Written aside and renamed into place, so the
    /// record is never half written.
    pub(crate) fn mark_closed(&self, how: &str, fsync: FsyncPolicy) -> Result<(), StoreError> {
        let path = self.path.join(SESSION_FILE);
        // A missing or unreadable record is replaced: the end is what matters now.
        let mut info = fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        info[ENDED_FIELD] = unix_nanos(SystemTime::now()).into();
        info["ended_by"] = how.into();
        let aside = self.path.join(format!("{SESSION_FILE}.new"));
        let io = |at: &Path, e| StoreError::io(at, e);
        let mut file = create_private_file(&aside).map_err(|e| io(&aside, e))?;
        file.write_all(format!("{info:#}\n").as_bytes())
            .map_err(|e| io(&aside, e))?;
        if fsync != FsyncPolicy::Never {
            file.sync_data().map_err(|e| io(&aside, e))?;
        }
        crate::failpoint::check("session::mark_closed")
            .and_then(|()| fs::rename(&aside, &path))
            .map_err(|e| io(&path, e))?;
        if fsync != FsyncPolicy::Never {
            sync_dir(&self.path).map_err(|e| io(&self.path, e))?;
        }
        Ok(())
    }

    /// The session's segments in write order.
    pub fn segments(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = fs::read_dir(&self.path).map_err(|e| StoreError::io(&self.path, e))?;
        let mut segments = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| StoreError::io(&self.path, e))?.path();
            if path.extension().is_some_and(|ext| ext == SEGMENT_EXTENSION) {
                segments.push(path);
            }
        }
        segments.sort();
        Ok(segments)
    }
}

/// The field of `session.json` that says the session ended.
const ENDED_FIELD: &str = "ended_unix_nano";

/// A segment file and what its session says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    /// The session went on past this segment (a later one exists) or was closed: it
    /// was sealed, so an end without its footer is damage, not an open tail.
    pub finished: bool,
    /// Where it lies when it is one of an archive's segments (`path` is then the
    /// archive's); `None` for a file of its own.
    pub archived: Option<ArchivedAt>,
}

impl SegmentFile {
    /// Where the segment starts within the file at `path`.
    pub fn base(&self) -> u64 {
        self.archived.as_ref().map_or(0, |at| at.offset)
    }

    /// The segment's bytes: an archived one mapped from its archive, else as
    /// [`read_segment`](crate::read_segment) reads a file.
    pub fn read(&self) -> Result<SegmentData, StoreError> {
        match &self.archived {
            Some(at) => map_range(&self.path, at.offset, at.len, true),
            None => crate::segment::read_segment(&self.path),
        }
    }

    /// A reader of `data` (from [`Self::read`]) that reports damage by this file's path
    /// and offsets within it.
    pub fn bytes<'a>(&'a self, data: &'a [u8]) -> SegmentBytes<'a> {
        SegmentBytes::new(&self.path, data)
            .finished(self.finished)
            .based_at(self.base())
    }

    /// A reader of single blocks of this segment, reporting damage as [`Self::bytes`] does.
    pub fn block_reader(&self) -> BlockReader {
        BlockReader::new(&self.path).based_at(self.base())
    }

    /// The session this segment belongs to: its directory, or the archive's name for it.
    pub fn session_path(&self) -> PathBuf {
        match &self.archived {
            Some(at) => at.session.clone(),
            None => self
                .path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        }
    }

    /// The segment's index, read through its footer alone (see
    /// [`read_index`](crate::segment::read_index)).
    pub fn read_index(&self) -> Result<Option<SegmentIndex>, StoreError> {
        match &self.archived {
            Some(at) => {
                let file = File::open(&self.path).map_err(|e| StoreError::io(&self.path, e))?;
                index_within(&self.path, &file, at.offset, at.len)
            }
            None => read_index(&self.path),
        }
    }

    /// Damage in the segment's header, reading only the header (see
    /// [`header_damage`](crate::segment::header_damage)).
    pub fn header_damage(&self) -> Result<Option<Corruption>, StoreError> {
        match &self.archived {
            Some(at) => {
                let file = File::open(&self.path).map_err(|e| StoreError::io(&self.path, e))?;
                header_damage_within(&self.path, &file, at.offset)
            }
            None => header_damage(&self.path),
        }
    }

    /// Whether the segment ends in a valid footer. An archive's segments count as
    /// sealed, as nothing writes them again (the archiver seals what it copies); one
    /// cut short is reported as such by the whole-segment scan ([`Self::bytes`]).
    pub fn is_sealed(&self) -> Result<bool, StoreError> {
        match &self.archived {
            Some(_) => Ok(true),
            None => is_sealed(&self.path),
        }
    }

    /// The segment's bytes for reading single blocks: an archived one mapped from its
    /// archive without reading it in ahead; `None` for a file of its own, which is
    /// read with `pread` as it may still grow.
    pub fn map_for_blocks(&self) -> Result<Option<SegmentData>, StoreError> {
        match &self.archived {
            Some(at) => map_range(&self.path, at.offset, at.len, false).map(Some),
            None => Ok(None),
        }
    }

    /// Its size in bytes.
    pub fn len_bytes(&self) -> u64 {
        match &self.archived {
            Some(at) => at.len,
            None => fs::metadata(&self.path).map_or(0, |m| m.len()),
        }
    }
}

/// The sessions of a data directory, oldest first.
pub fn sessions(root: &Path) -> Result<Vec<Session>, StoreError> {
    let dir = root.join(SESSIONS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&dir, e)),
    };
    let mut sessions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
        if entry
            .file_type()
            .map_err(|e| StoreError::io(&dir, e))?
            .is_dir()
        {
            sessions.push(Session { path: entry.path() });
        }
    }
    sessions.sort();
    Ok(sessions)
}

/// What a path given by the user holds.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub sessions: Vec<Session>,
    /// Every segment, in session and write order.
    pub segments: Vec<SegmentFile>,
    /// The archive the path is, with its manifest.
    pub archive: Option<Archive>,
    /// Damage found resolving the path: an archive's footer or manifest that cannot be
    /// read (its segments are then found without it).
    pub damage: Vec<Corruption>,
}

impl Resolved {
    pub fn segment_paths(&self) -> impl Iterator<Item = &Path> {
        self.segments.iter().map(|segment| segment.path.as_path())
    }

    /// The bytes of every segment together.
    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(SegmentFile::len_bytes).sum()
    }
}

/// Resolves a data directory, a session directory, an archive or a single segment file.
pub fn resolve(path: &Path) -> Result<Resolved, StoreError> {
    let meta = fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
    if meta.is_file() && is_archive(path) {
        let archive = match Archive::open(path) {
            Ok(archive) => archive,
            Err(StoreError::Corrupt(damage)) => return salvage_archive(path, meta.len(), damage),
            Err(error) => return Err(error),
        };
        return Ok(Resolved {
            sessions: archive
                .manifest
                .sessions
                .iter()
                .map(|session| Session {
                    path: archive.session_path(session),
                })
                .collect(),
            segments: archive_segment_files(&archive),
            archive: Some(archive),
            damage: Vec::new(),
        });
    }
    if meta.is_file() {
        return Ok(Resolved {
            sessions: Vec::new(),
            segments: vec![segment_in_its_session(path)?],
            archive: None,
            damage: Vec::new(),
        });
    }
    let sessions = if path.join(SESSIONS_DIR).is_dir() {
        sessions(path)?
    } else {
        let session = Session {
            path: path.to_path_buf(),
        };
        if session.segments()?.is_empty() && !path.join(SESSION_FILE).is_file() {
            return Err(StoreError::NotOculusData {
                path: path.to_path_buf(),
            });
        }
        vec![session]
    };
    let mut segments = Vec::new();
    for session in &sessions {
        segments.extend(session.segment_files()?);
    }
    Ok(Resolved {
        sessions,
        segments,
        archive: None,
        damage: Vec::new(),
    })
}

/// The name of the one session the segments of an archive without its manifest are
/// read as.
pub const MANIFEST_LOST_SESSION: &str = "manifest-lost";

/// An archive whose manifest cannot be read (`damage` says why): its segments, found
/// by their own headers and footers, as one session.
fn salvage_archive(path: &Path, len: u64, damage: Corruption) -> Result<Resolved, StoreError> {
    let data = map_range(path, 0, len, false)?;
    let session = path.join(MANIFEST_LOST_SESSION);
    let segments = crate::archive::salvage_segments(&data)
        .into_iter()
        .map(|(offset, len)| SegmentFile {
            path: path.to_path_buf(),
            finished: true,
            archived: Some(ArchivedAt {
                offset,
                len,
                session: session.clone(),
            }),
        })
        .collect();
    Ok(Resolved {
        sessions: vec![Session { path: session }],
        segments,
        archive: None,
        damage: vec![damage],
    })
}

/// Every segment of `archive`, in session and write order.
pub fn archive_segment_files(archive: &Archive) -> Vec<SegmentFile> {
    archive
        .manifest
        .sessions
        .iter()
        .flat_map(|session| {
            let session_path = archive.session_path(session);
            session.segments.iter().map(move |segment| SegmentFile {
                path: archive.path.clone(),
                finished: true,
                archived: Some(ArchivedAt {
                    offset: segment.offset,
                    len: segment.len,
                    session: session_path.clone(),
                }),
            })
        })
        .collect()
}

/// A segment file given on its own, judged by the session directory it sits in.
fn segment_in_its_session(path: &Path) -> Result<SegmentFile, StoreError> {
    let session = path.parent().map(|dir| Session {
        path: if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        },
    });
    let name = path.file_name();
    let listed = match &session {
        Some(session) => session.segment_files()?,
        None => Vec::new(),
    };
    let finished = listed
        .iter()
        .find(|segment| segment.path.file_name() == name)
        .is_some_and(|segment| segment.finished);
    Ok(SegmentFile {
        path: path.to_path_buf(),
        finished,
        archived: None,
    })
}

pub(crate) fn create_session(root: &Path, fsync: FsyncPolicy) -> Result<Session, StoreError> {
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_millis(now)
        .to_string()
        .replace(':', "-");
    let base = format!("{stamp}-{}", std::process::id());
    let sessions_dir = root.join(SESSIONS_DIR);
    let mut name = base.clone();
    let mut attempt = 1;
    let path = loop {
        let path = sessions_dir.join(&name);
        let created = crate::failpoint::check("session::create")
            .and_then(|()| fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(&path));
        match created {
            Ok(()) => break path,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                attempt += 1;
                // Fixed width, so names sort in start order past the ninth attempt.
                name = format!("{base}-{attempt:04}");
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        }
    };
    let info = serde_json::json!({
        "started_unix_nano": unix_nanos(now),
        "collector_pid": std::process::id(),
        "collector_version": env!("CARGO_PKG_VERSION"),
        "format_version": crate::frame::FORMAT_VERSION,
    });
    let info_path = path.join(SESSION_FILE);
    create_private_file(&info_path)
        .and_then(|mut file| file.write_all(format!("{info:#}\n").as_bytes()))
        .map_err(|e| StoreError::io(&info_path, e))?;
    if fsync != FsyncPolicy::Never {
        // Under a flushing policy the new session must be findable after a power loss.
        sync_dir(&sessions_dir).map_err(|e| StoreError::io(&sessions_dir, e))?;
    }
    Ok(Session { path })
}

pub fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
