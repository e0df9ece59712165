//! Writing OTLP files as the OpenTelemetry Collector's file exporter does: `otlp-json`
//! is JSON Lines, one TracesData, LogsData or MetricsData per line; `otlp-proto` is
//! each message's protobuf bytes preceded by their length as 4 bytes, big-endian.
//! Either may be one zstd stream.

use std::io::{self, Write};

use crate::data::Data;

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// JSON Lines.
    Json,
    /// Length-prefixed protobuf.
    Proto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
}

/// zstd's default level: the file is written once and read by other tools.
const ZSTD_LEVEL: i32 = 3;

/// Writes OTLP messages to a file.
pub struct FileWriter<W: Write> {
    sink: Sink<W>,
    format: FileFormat,
    messages: u64,
}

enum Sink<W: Write> {
    Plain(W),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> FileWriter<W> {
    pub fn new(out: W, format: FileFormat, compression: Compression) -> io::Result<Self> {
        let sink = match compression {
            Compression::None => Sink::Plain(out),
            Compression::Zstd => Sink::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?),
        };
        Ok(Self {
            sink,
            format,
            messages: 0,
        })
    }

    /// Appends one message.
    pub fn write(&mut self, data: &Data) -> io::Result<()> {
        let out: &mut dyn Write = match &mut self.sink {
            Sink::Plain(out) => out,
            Sink::Zstd(out) => out,
        };
        match self.format {
            FileFormat::Json => {
                let line = data.to_json().map_err(io::Error::other)?;
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            FileFormat::Proto => {
                let bytes = data.encode_to_vec();
                let len = u32::try_from(bytes.len()).map_err(|_| {
                    io::Error::other(format!(
                        "a message of {} bytes does not fit a 4-byte length",
                        bytes.len()
                    ))
                })?;
                out.write_all(&len.to_be_bytes())?;
                out.write_all(&bytes)?;
            }
        }
        self.messages += 1;
        Ok(())
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Ends the zstd stream, if any, and flushes; returns the output.
    pub fn finish(self) -> io::Result<W> {
        let mut out = match self.sink {
            Sink::Plain(out) => out,
            Sink::Zstd(encoder) => encoder.finish()?,
        };
        out.flush()?;
        Ok(out)
    }
}
