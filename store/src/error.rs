//! Errors of the store: I/O with the path it concerns, a held lock, and corruption.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // The cause is part of the message, not a `source`, so error chains print it once.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "data directory {} is in use by another collector{}; stop it or pass another --data-dir",
        path.display(),
        holder.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    #[error(
        "{}: {write}; cutting back the partial frame failed too ({cut}), so the segment takes no more appends",
        path.display()
    )]
    CutFailed {
        path: PathBuf,
        write: std::io::Error,
        cut: std::io::Error,
    },
    #[error(
        "{}: takes no more appends, as an earlier failed write could not be cut back; the next start recovers it",
        path.display()
    )]
    Poisoned { path: PathBuf },
    #[error("{}: takes no more appends, as it is sealed", path.display())]
    Sealed { path: PathBuf },
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    #[error("{} is not a data directory, session or segment", path.display())]
    NotOculusData { path: PathBuf },
    #[error(
        "{} belongs to another user (uid {owner}); a collector writes only a data directory of its own",
        path.display()
    )]
    NotOurs { path: PathBuf, owner: u32 },
}

impl StoreError {
    pub fn io(path: &Path, cause: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            cause,
        }
    }

    /// The data directory cannot be written by this user: it can still be read.
    pub fn is_not_writable(&self) -> bool {
        match self {
            Self::NotOurs { .. } => true,
            Self::Io { cause, .. } => matches!(
                cause.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ),
            _ => false,
        }
    }

    /// The disk is full: the caller may retry once space is freed.
    pub fn is_storage_full(&self) -> bool {
        let cause = match self {
            Self::Io { cause, .. } | Self::CutFailed { write: cause, .. } => cause,
            _ => return false,
        };
        matches!(
            cause.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    }
}

/// Damage found in a segment, naming the file and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} at byte {offset}: {kind}", path.display())]
pub struct Corruption {
    pub path: PathBuf,
    pub offset: u64,
    pub kind: CorruptionKind,
}

impl Corruption {
    pub fn new(path: &Path, offset: u64, kind: CorruptionKind) -> Self {
        Self {
            path: path.to_path_buf(),
            offset,
            kind,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorruptionKind {
    #[error("not an Oculus segment (bad magic)")]
    NotASegment,
    #[error("segment format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u16),
    #[error("segment header checksum mismatch")]
    HeaderChecksum,
    #[error("no frame starts here (bad frame magic)")]
    BadFrameMagic,
    #[error("unknown frame kind {0}")]
    UnexpectedFrameKind(u8),
    #[error("unknown compression codec {0}")]
    UnknownCodec(u8),
    #[error("frame claims {0} bytes, more than any valid frame")]
    FrameTooLarge(u32),
    #[error("frame checksum mismatch")]
    FrameChecksum,
    #[error("frame is cut short")]
    TruncatedFrame,
    #[error("cannot decompress frame: {0}")]
    Decompress(String),
    #[error("cannot decode frame: {0}")]
    Decode(String),
    #[error("segment index is cut short")]
    TruncatedIndex,
    #[error("segment footer is damaged (the index before it is intact)")]
    DamagedFooter,
    #[error(
        "segment ends here without its index and footer, though its session went on past it: it was cut short"
    )]
    MissingFooter,
    #[error("cannot decode frame: index lists {indexed} blocks, the segment holds {found}")]
    IndexMismatch { indexed: usize, found: usize },
    #[error("block needs compression dictionary {0}, which the segment lacks or has damaged")]
    MissingDictionary(u16),
    #[error("not an Oculus archive (bad magic)")]
    NotAnArchive,
    #[error("archive format version {0} is not supported (this build reads version 1)")]
    UnsupportedArchiveVersion(u16),
    #[error("archive is too short to hold its header and footer")]
    ArchiveTooShort,
    #[error("archive footer is damaged or cut short, so its manifest cannot be found")]
    DamagedArchiveFooter,
    #[error("archive manifest checksum mismatch")]
    ArchiveManifestChecksum,
    #[error("archive manifest does not read: {0}")]
    ArchiveManifest(String),
}
