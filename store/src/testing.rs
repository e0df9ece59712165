//! Data directories in states that tests of other crates need, built with the store's
//! own writer (the `test-support` feature).

use std::path::{Path, PathBuf};

use crate::compression::encode_block;
use crate::frame::HEADER_LEN;
use crate::proto::Block;
use crate::session_writer::{SessionWriter, WriterOptions};

/// A run that crashed with a large active segment (at least `min_bytes`, of empty
/// blocks): recovering it takes a while, long enough for a test to act in the middle.
/// Returns the segment's path.
///
/// # Panics
/// When the directory cannot be written: this is for tests.
pub fn crashed_run(dir: &Path, min_bytes: usize) -> PathBuf {
    let (mut writer, _) =
        SessionWriter::open(dir, WriterOptions::default()).expect("a data directory");
    let block = encode_block(&Block::default(), 3).expect("encodes");
    writer.append(&[block]).expect("appends");
    let segment = writer.session().path.join("segment-00000001.oseg");
    drop(writer);
    // Frames hold no offsets: the one block's frame, repeated, is a valid segment.
    let bytes = std::fs::read(&segment).expect("readable");
    let frame = &bytes[HEADER_LEN..];
    let mut grown = bytes.clone();
    while grown.len() < min_bytes {
        grown.extend_from_slice(frame);
    }
    std::fs::write(&segment, grown).expect("writable");
    segment
}
