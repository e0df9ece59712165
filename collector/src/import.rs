//! OTLP files into a new session of a data directory: each message takes a request's
//! way (decoding, normalization, block encoding with the session's dictionaries and
//! zstd levels) into the store's `SessionWriter`, which locks the directory, recovers
//! what a crashed run left and seals the session at the end.
//!
//! Consecutive protobuf messages of one signal are joined into one block of up to
//! [`MAX_BATCH_BYTES`] (protobuf messages concatenate into one whose repeated fields
//! are both lists), so a file of small messages still makes blocks of a useful size.
//! JSON is encoded as protobuf first and takes the same way.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use oculus_otlp::{FileReader, Message, Payload, Position, ReadError, Signal};
use oculus_store::{RecoveryReport, SessionWriter, StoreError, WriterOptions};

use crate::ingest::{self, Dictionaries, Encoding, IngestError, ZstdLevels};
use crate::transcode::{self, Transcoded};

/// Protobuf bytes joined into one block at most.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// How an import writes its session.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub zstd_levels: ZstdLevels,
    /// Compress with dictionaries sampled from the session's first blocks.
    pub dictionaries: bool,
    pub writer: WriterOptions,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            zstd_levels: ZstdLevels::DEFAULT,
            dictionaries: true,
            writer: WriterOptions::default(),
        }
    }
}

/// What an import tells its caller while it runs.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    /// Bytes of the files read so far, all files together.
    Read { bytes: u64 },
    /// A line or message that was not imported (the rest of the file goes on unless the
    /// error ends it).
    Malformed {
        file: &'a Path,
        error: &'a ReadError,
    },
}

/// What an import did.
#[derive(Debug)]
pub struct ImportReport {
    /// The session written.
    pub session: PathBuf,
    /// What opening the data directory recovered of a crashed run.
    pub recovery: RecoveryReport,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    /// Lines, messages or records not imported.
    pub malformed: u64,
    /// Stopped early at the caller's request; what was read is in the session.
    pub interrupted: bool,
}

impl ImportReport {
    pub fn records(&self) -> u64 {
        self.spans + self.logs + self.metric_points
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode a block: {0}")]
    Encode(io::Error),
}

/// Imports `files` into a new session of `data_dir`, in order. `stop` is checked
/// between messages: once set, what was read is written and the session sealed.
pub fn import(
    data_dir: &Path,
    files: &[PathBuf],
    options: &ImportOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(ImportEvent<'_>),
) -> Result<ImportReport, ImportError> {
    let (writer, recovery) = SessionWriter::open(data_dir, options.writer.clone())?;
    let mut importer = Importer {
        report: ImportReport {
            session: writer.session().path.clone(),
            recovery,
            spans: 0,
            logs: 0,
            metric_points: 0,
            malformed: 0,
            interrupted: false,
        },
        writer,
        dictionaries: options.dictionaries.then(Dictionaries::new),
        zstd_levels: options.zstd_levels,
        batches: Default::default(),
    };
    let read_bytes = Arc::new(AtomicU64::new(0));
    let mut files_bytes = 0;
    'files: for file in files {
        let reader = match Counted::open(file, &read_bytes).and_then(FileReader::new) {
            Ok(reader) => reader,
            Err(error) => {
                importer.report.malformed += 1;
                on_event(ImportEvent::Malformed {
                    file,
                    error: &error,
                });
                continue;
            }
        };
        for item in reader {
            if stop.load(Ordering::Relaxed) {
                importer.report.interrupted = true;
                importer.flush_all(file, on_event)?;
                break 'files;
            }
            match item {
                Ok(message) => importer.add(file, message, on_event)?,
                Err(error) => {
                    importer.report.malformed += 1;
                    on_event(ImportEvent::Malformed {
                        file,
                        error: &error,
                    });
                }
            }
            on_event(ImportEvent::Read {
                bytes: files_bytes + read_bytes.load(Ordering::Relaxed),
            });
        }
        // Positions name this file: its batches are written before the next one's.
        importer.flush_all(file, on_event)?;
        files_bytes += read_bytes.swap(0, Ordering::Relaxed);
    }
    importer.finish()
}

/// A file that counts the bytes read from it, for the progress bar.
struct Counted {
    file: File,
    read: Arc<AtomicU64>,
}

impl Counted {
    fn open(path: &Path, read: &Arc<AtomicU64>) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|e| ReadError {
            position: Position::Byte(0),
            reason: format!("cannot open: {e}"),
        })?;
        Ok(Self {
            file,
            read: Arc::clone(read),
        })
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read(buf)?;
        self.read.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// Messages of one signal waiting to be written as one block.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Each message's place in `bytes`, to name the one at fault.
    messages: Vec<(Position, Range<usize>)>,
}

struct Importer {
    writer: SessionWriter,
    dictionaries: Option<Dictionaries>,
    zstd_levels: ZstdLevels,
    /// One per signal, in `Signal::ALL`'s order.
    batches: [Batch; 3],
    report: ImportReport,
}

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Logs => 1,
        Signal::Metrics => 2,
    }
}

impl Importer {
    fn add(
        &mut self,
        file: &Path,
        message: Message,
        on_event: &mut dyn FnMut(ImportEvent<'_>),
    ) -> Result<(), ImportError> {
        let signal = message.payload.signal();
        let bytes = match message.payload {
            Payload::Protobuf { bytes, .. } => bytes,
            Payload::Decoded(data) => data.encode_to_vec(),
        };
        let batch = &self.batches[slot(signal)];
        if !batch.bytes.is_empty() && batch.bytes.len() + bytes.len() > MAX_BATCH_BYTES {
            self.flush(signal, file, on_event)?;
        }
        let batch = &mut self.batches[slot(signal)];
        let start = batch.bytes.len();
        batch.bytes.extend_from_slice(&bytes);
        batch
            .messages
            .push((message.position, start..batch.bytes.len()));
        Ok(())
    }

    fn flush_all(
        &mut self,
        file: &Path,
        on_event: &mut dyn FnMut(ImportEvent<'_>),
    ) -> Result<(), ImportError> {
        for signal in Signal::ALL {
            self.flush(signal, file, on_event)?;
        }
        Ok(())
    }

    /// Writes a signal's batch as one block; if a message in it is at fault, writes
    /// each message alone, so that only that one is reported and left out.
    fn flush(
        &mut self,
        signal: Signal,
        file: &Path,
        on_event: &mut dyn FnMut(ImportEvent<'_>),
    ) -> Result<(), ImportError> {
        let batch = std::mem::take(&mut self.batches[slot(signal)]);
        if batch.messages.is_empty() {
            return Ok(());
        }
        if let Ok(prepared) = ingest::prepare(signal, Encoding::Protobuf, &batch.bytes)
            && prepared.rejected == 0
        {
            return self.write(signal, prepared);
        }
        for (position, range) in batch.messages {
            match ingest::prepare(signal, Encoding::Protobuf, &batch.bytes[range]) {
                Ok(prepared) => {
                    if let Some(reason) = &prepared.reject_reason {
                        self.report.malformed += prepared.rejected;
                        let error = ReadError {
                            position,
                            reason: format!("{} records left out: {reason}", prepared.rejected),
                        };
                        on_event(ImportEvent::Malformed {
                            file,
                            error: &error,
                        });
                    }
                    self.write(signal, prepared)?;
                }
                Err(error) => {
                    self.report.malformed += 1;
                    let reason = match error {
                        IngestError::Invalid(reason) => reason,
                        other => other.to_string(),
                    };
                    let error = ReadError { position, reason };
                    on_event(ImportEvent::Malformed {
                        file,
                        error: &error,
                    });
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, signal: Signal, prepared: Transcoded) -> Result<(), ImportError> {
        if prepared.is_empty {
            transcode::recycle(prepared.raw);
            return Ok(());
        }
        let (spans, logs, metric_points) = (
            prepared.summary.spans,
            prepared.summary.logs,
            prepared.summary.metric_points,
        );
        let encoded = ingest::encode(
            prepared,
            signal,
            self.zstd_levels,
            self.dictionaries.as_ref(),
        )
        .map_err(ImportError::Encode)?;
        self.writer.append(std::slice::from_ref(&encoded))?;
        self.report.spans += u64::from(spans);
        self.report.logs += u64::from(logs);
        self.report.metric_points += u64::from(metric_points);
        Ok(())
    }

    /// Seals the session; every batch was written with its file.
    fn finish(self) -> Result<ImportReport, ImportError> {
        self.writer.close()?;
        Ok(self.report)
    }
}
