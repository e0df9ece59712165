//! The data directory: one collector at a time, one session per collector run.
//!
//! ```text
//! DATA_DIR/
//!     collector.lock                  held (flock) by the running collector; holds its pid
//!     sessions/
//!         2026-11-25T17-30-05.123Z-4242/  one per collector run: start time, then pid
//!             session.json            when and by what the session was started
//!             segment-00000001.oseg   sealed
//!             segment-00000002.oseg   active (no footer yet)
//! ```
//!
//! Sessions sort by name in start order. Within a session only the highest-numbered
//! segment can be active; on the next start, recovery seals any segment left
//! unsealed by a crash, cutting only an incomplete or damaged tail.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::compression::EncodedBlock;
use crate::error::{Corruption, StoreError};
use crate::frame::SegmentHeader;
use crate::segment::{
    FsyncPolicy, SEGMENT_EXTENSION, SealedSegment, SegmentBytes, SegmentWriter, is_sealed,
    read_segment, sync_dir,
};

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

/// How a collector writes its session.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Seal the active segment once it holds this many bytes.
    pub max_segment_bytes: u64,
    /// Seal the active segment once it is this old (and not empty).
    pub max_segment_age: Duration,
    /// Delete the oldest sealed segments (of any session) past this total.
    pub max_total_bytes: Option<u64>,
    pub fsync: FsyncPolicy,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_segment_bytes: 64 << 20,
            max_segment_age: Duration::from_secs(600),
            max_total_bytes: None,
            fsync: FsyncPolicy::Never,
        }
    }
}

/// Proof that this process owns a data directory; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    root: PathBuf,
}

impl DataDirLock {
    /// Takes the directory's lock without waiting.
    pub fn acquire(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root.join(SESSIONS_DIR)).map_err(|e| StoreError::io(root, e))?;
        let path = root.join(LOCK_FILE);
        let io = |source| StoreError::io(&path, source);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
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
    pub segments: Vec<PathBuf>,
}

/// Resolves a data directory, a session directory or a single segment file.
pub fn resolve(path: &Path) -> Result<Resolved, StoreError> {
    let meta = fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
    if meta.is_file() {
        return Ok(Resolved {
            sessions: Vec::new(),
            segments: vec![path.to_path_buf()],
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
        segments.extend(session.segments()?);
    }
    Ok(Resolved { sessions, segments })
}

/// What recovery did to segments left unsealed by a previous run.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Segments that were sealed, with the bytes of torn tail cut from each.
    pub sealed: Vec<(PathBuf, u64)>,
    /// Damage found inside those segments; the valid blocks around it are kept.
    pub damage: Vec<Corruption>,
}

/// Seals every unsealed segment of the data directory.
fn recover(root: &Path, fsync: FsyncPolicy) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    for session in sessions(root)? {
        for path in session.segments()? {
            // Sealed segments need nothing; only their footer is read, so a start
            // costs the same however much data the directory holds.
            if is_sealed(&path)? {
                continue;
            }
            let data = read_segment(&path)?;
            let bytes = SegmentBytes::new(&path, &data);
            let scan = bytes.scan(|_| {});
            let Some(header) = scan.header else {
                if !scan.damage.is_empty() {
                    // A damaged or newer-version header still has blocks behind it:
                    // keep the file for `check` and a newer reader, never delete it.
                    report.damage.extend(scan.damage);
                    continue;
                }
                // Not even a header made it to disk: nothing was ever accepted here.
                let len = data.len() as u64;
                drop(data);
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                report.sealed.push((path, len));
                continue;
            };
            let torn = data.len() as u64 - scan.valid_len;
            drop(data);
            report.damage.extend(scan.damage);
            let writer = SegmentWriter::resume(&path, header, scan.valid_len, scan.blocks, fsync)?;
            writer.seal()?;
            report.sealed.push((path, torn));
        }
    }
    Ok(report)
}

/// Writes one collector run's session: rotation, retention and recovery.
#[derive(Debug)]
pub struct SessionWriter {
    lock: DataDirLock,
    session: Session,
    options: WriterOptions,
    active: Option<SegmentWriter>,
    active_since: Instant,
    next_sequence: u32,
}

impl SessionWriter {
    /// Locks the directory, recovers what a previous run left unsealed, and starts
    /// a new session.
    pub fn open(root: &Path, options: WriterOptions) -> Result<(Self, RecoveryReport), StoreError> {
        let lock = DataDirLock::acquire(root)?;
        let report = recover(root, options.fsync)?;
        let session = create_session(root, options.fsync)?;
        let writer = Self {
            lock,
            session,
            options,
            active: None,
            active_since: Instant::now(),
            next_sequence: 1,
        };
        Ok((writer, report))
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn root(&self) -> &Path {
        self.lock.root()
    }

    /// Appends blocks to the active segment, rotating first if it is full or old.
    /// Returns once the bytes are with the OS (or on disk, per the fsync policy).
    pub fn append(&mut self, blocks: &[EncodedBlock]) -> Result<(), StoreError> {
        if blocks.is_empty() {
            return Ok(());
        }
        self.abandon_poisoned();
        let incoming: u64 = blocks.iter().map(|b| b.frame.len() as u64).sum();
        let full = self.active.as_ref().is_some_and(|active| {
            active.block_count() > 0
                && active.len_bytes() + incoming > self.options.max_segment_bytes
        });
        if full || self.is_old() {
            self.seal_active()?;
        }
        if self.active.is_none() {
            self.active = Some(self.new_segment()?);
        }
        match &mut self.active {
            Some(active) => active.append(blocks),
            None => Ok(()),
        }
    }

    fn is_old(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|active| active.block_count() > 0)
            && self.active_since.elapsed() >= self.options.max_segment_age
    }

    /// Seals the active segment if it has reached its age limit; call when idle.
    pub fn tick(&mut self) -> Result<(), StoreError> {
        if self.is_old() {
            self.seal_active()?;
        }
        Ok(())
    }

    fn new_segment(&mut self) -> Result<SegmentWriter, StoreError> {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let path = self
            .session
            .path
            .join(format!("segment-{sequence:08}.{SEGMENT_EXTENSION}"));
        let header = SegmentHeader {
            sequence,
            created_unix_nano: unix_nanos(SystemTime::now()),
        };
        self.active_since = Instant::now();
        SegmentWriter::create(&path, header, self.options.fsync)
    }

    /// Lets go of an active segment that takes no more appends, so that writing goes
    /// on in a new one. It stays unsealed, and the next start recovers it.
    fn abandon_poisoned(&mut self) {
        if let Some(active) = self.active.take_if(|active| active.is_poisoned()) {
            tracing::warn!(
                path = %active.path().display(),
                "left unsealed after a failed write that could not be cut back; the next start recovers it"
            );
        }
    }

    fn seal_active(&mut self) -> Result<Option<SealedSegment>, StoreError> {
        self.abandon_poisoned();
        let Some(active) = self.active.take() else {
            return Ok(None);
        };
        let sealed = active.seal()?;
        self.enforce_retention()?;
        Ok(Some(sealed))
    }

    /// Deletes the oldest sealed segments until the directory fits the byte cap.
    fn enforce_retention(&self) -> Result<(), StoreError> {
        let Some(cap) = self.options.max_total_bytes else {
            return Ok(());
        };
        let mut segments = Vec::new();
        let mut total = 0u64;
        for session in sessions(self.root())? {
            for path in session.segments()? {
                let len = fs::metadata(&path)
                    .map_err(|e| StoreError::io(&path, e))?
                    .len();
                total += len;
                segments.push((path, len));
            }
        }
        let active = self.active.as_ref().map(SegmentWriter::path);
        for (path, len) in segments {
            if total <= cap {
                break;
            }
            if Some(path.as_path()) == active {
                continue;
            }
            fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            total -= len;
            tracing::info!(path = %path.display(), "deleted to stay under --max-total-bytes");
        }
        Ok(())
    }

    /// Seals the active segment; the session is complete on disk afterwards.
    pub fn close(mut self) -> Result<Option<SealedSegment>, StoreError> {
        self.seal_active()
    }
}

fn create_session(root: &Path, fsync: FsyncPolicy) -> Result<Session, StoreError> {
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
        match fs::create_dir(&path) {
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
    fs::write(&info_path, format!("{info:#}\n")).map_err(|e| StoreError::io(&info_path, e))?;
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
