//! The Oculus store: the data model and the segment format, both writing and reading.
//!
//! The collector writes with [`SessionWriter`]; the viewer and the command-line tools
//! read with [`read_segment`] / [`SegmentBytes`] (sealed and finished segments),
//! [`SegmentTail`] (the active segment) and [`BlockReader`] (one block by its offset).
//! This crate has no network code, so readers never link a server.
//!
//! The records themselves are the project's own protobuf schema,
//! `proto/oculus/segment/v1/segment.proto`, generated into [`proto`], with the field
//! numbers of its messages in [`field`].

pub mod archive;
pub mod archiver;
pub mod block;
pub mod block_reader;
pub mod check;
pub mod compression;
pub mod datadir;
pub mod dictionary;
pub mod error;
mod failpoint;
pub mod field;
pub mod forwarding;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod permissions;
pub mod recovery;
pub mod segment;
pub mod session_writer;
pub mod tail;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod walk;
pub mod wire;

/// Types generated from `proto/oculus/segment/v1/segment.proto`.
#[expect(clippy::all, clippy::pedantic, reason = "generated code")]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/oculus.segment.v1.rs"));
}

pub use archive::{Archive, ArchivedAt, Manifest, SessionSummary};
pub use archiver::{ArchiveError, write_archive};
pub use block::BlockBuilder;
pub use block_reader::{BlockReader, SegmentSource};
pub use check::{CheckReport, check};
pub use compression::{EncodedBlock, RawBlock, encode_block, encode_raw_block};
pub use datadir::{
    DataDirLock, Resolved, SegmentFile, Session, default_data_dir, resolve, sessions,
};
pub use dictionary::{DictionarySampler, SharedDictionary};
pub use error::{Corruption, CorruptionKind, StoreError};
pub use recovery::RecoveryReport;
pub use segment::{FsyncPolicy, RawItem, SegmentBytes, SegmentData, SegmentItem, read_segment};
pub use session_writer::{SessionWriter, WriterOptions};
pub use tail::{RawTailPoll, SegmentTail, TailPoll};
