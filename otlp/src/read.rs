//! Reading OTLP files: what [`crate::write`] writes and the OpenTelemetry Collector's
//! file exporter writes, plus a single OTLP JSON document (the specification's
//! `examples/*.json`, what Jaeger and otel-tui load), pretty-printed or not.
//!
//! The format is read from the content, never from the name: the zstd magic
//! (`28 b5 2f fd`) means one zstd stream, inside which the same rules apply; a first
//! byte of `{` or white space means JSON (a length prefix starting with those bytes
//! would announce 150 MiB or more); anything else is length-prefixed protobuf.
//!
//! Each message comes with where it starts (its line, or its byte offset, counted in
//! the decompressed content of a zstd file). A malformed line or message is reported
//! and reading goes on with the next; what leaves no next to find (a truncated
//! protobuf message or length, a damaged zstd stream, a read error) ends the file.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use opentelemetry_proto::tonic::logs::v1::{LogsData, ResourceLogs};
use opentelemetry_proto::tonic::metrics::v1::{MetricsData, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};

use crate::data::{Data, Signal, signal_of};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The longest protobuf message read: past it a length is taken for damage, since
/// reading it would hold that much memory for nothing.
pub const MAX_MESSAGE_BYTES: u32 = 512 << 20;

/// Where a message (or a problem) starts in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// A JSON line, from 1.
    Line(u64),
    /// A byte offset in the file.
    Byte(u64),
    /// A byte offset in the decompressed content of a zstd file.
    DecompressedByte(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::Byte(offset) => write!(f, "byte offset {offset}"),
            Self::DecompressedByte(offset) => {
                write!(f, "byte offset {offset} of the decompressed content")
            }
        }
    }
}

/// A line or message that could not be read, or why the file ends early.
#[derive(Debug, thiserror::Error)]
#[error("{position}: {reason}")]
pub struct ReadError {
    pub position: Position,
    pub reason: String,
}

/// A message as read: protobuf stays bytes, so that a reader with a faster path from
/// bytes (the collector's transcoder) takes it; JSON is decoded already.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Protobuf { signal: Signal, bytes: Vec<u8> },
    Decoded(Data),
}

impl Payload {
    pub fn signal(&self) -> Signal {
        match self {
            Self::Protobuf { signal, .. } => *signal,
            Self::Decoded(data) => data.signal(),
        }
    }

    /// The message, decoded.
    pub fn into_data(self) -> Result<Data, prost::DecodeError> {
        match self {
            Self::Protobuf { signal, bytes } => Data::decode(signal, &bytes),
            Self::Decoded(data) => Ok(data),
        }
    }
}

/// One message of a file and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub payload: Payload,
    pub position: Position,
}

/// A top-level OTLP JSON object: a line of JSON Lines or a whole document. A document
/// may hold more than one signal.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyData {
    resource_spans: Option<Vec<ResourceSpans>>,
    resource_logs: Option<Vec<ResourceLogs>>,
    resource_metrics: Option<Vec<ResourceMetrics>>,
}

impl AnyData {
    fn into_data(self) -> Vec<Data> {
        let mut data = Vec::new();
        if let Some(resource_spans) = self.resource_spans {
            data.push(Data::Traces(TracesData { resource_spans }));
        }
        if let Some(resource_logs) = self.resource_logs {
            data.push(Data::Logs(LogsData { resource_logs }));
        }
        if let Some(resource_metrics) = self.resource_metrics {
            data.push(Data::Metrics(MetricsData { resource_metrics }));
        }
        data
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    JsonLines,
    Proto,
}

/// Reads the messages of one OTLP file, in order.
pub struct FileReader {
    input: Box<dyn BufRead + Send>,
    layout: Layout,
    compressed: bool,
    /// Bytes of the content read so far.
    offset: u64,
    /// Lines read so far.
    line: u64,
    /// No JSON line was read yet: a first line that ends mid-value starts a document.
    at_start: bool,
    pending: VecDeque<Message>,
    ended: bool,
    line_buffer: Vec<u8>,
}

impl FileReader {
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|e| ReadError {
            position: Position::Byte(0),
            reason: format!("cannot open: {e}"),
        })?;
        Self::new(file)
    }

    /// Reads from `input`, telling its format from its first bytes.
    pub fn new(mut input: impl Read + Send + 'static) -> Result<Self, ReadError> {
        let io_error = |e: io::Error| ReadError {
            position: Position::Byte(0),
            reason: format!("cannot read: {e}"),
        };
        let head = read_head(&mut input, ZSTD_MAGIC.len()).map_err(io_error)?;
        let compressed = head == ZSTD_MAGIC;
        let raw = io::Cursor::new(head).chain(input);
        let mut content: Box<dyn BufRead + Send> = if compressed {
            let decoder = zstd::stream::read::Decoder::new(raw).map_err(io_error)?;
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, raw))
        };
        let first = content
            .fill_buf()
            .map_err(|e| ReadError {
                position: Position::Byte(0),
                reason: content_error(compressed, &e),
            })?
            .first()
            .copied();
        let layout = match first {
            Some(b'{' | b' ' | b'\t' | b'\r' | b'\n') => Layout::JsonLines,
            _ => Layout::Proto,
        };
        Ok(Self {
            input: content,
            layout,
            compressed,
            offset: 0,
            line: 0,
            at_start: true,
            pending: VecDeque::new(),
            ended: false,
            line_buffer: Vec::new(),
        })
    }

    /// Whether the file is one zstd stream.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Whether the file is JSON (else length-prefixed protobuf).
    pub fn is_json(&self) -> bool {
        self.layout == Layout::JsonLines
    }

    /// Bytes of the content read so far (decompressed, for a zstd file).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn byte_position(&self, offset: u64) -> Position {
        if self.compressed {
            Position::DecompressedByte(offset)
        } else {
            Position::Byte(offset)
        }
    }

    /// Ends the file with an error at `position`.
    fn end(&mut self, position: Position, reason: String) -> Option<Result<Message, ReadError>> {
        self.ended = true;
        Some(Err(ReadError { position, reason }))
    }

    fn next_json(&mut self) -> Option<Result<Message, ReadError>> {
        loop {
            let mut buffer = std::mem::take(&mut self.line_buffer);
            buffer.clear();
            let read = self.input.read_until(b'\n', &mut buffer);
            let read = match read {
                Ok(0) => return None,
                Ok(read) => read,
                Err(e) => {
                    let reason = content_error(self.compressed, &e);
                    return self.end(Position::Line(self.line + 1), reason);
                }
            };
            self.offset += read as u64;
            self.line += 1;
            let line = self.line;
            let text = buffer.trim_ascii();
            if text.is_empty() {
                self.line_buffer = buffer;
                continue;
            }
            let parsed = serde_json::from_slice::<AnyData>(text);
            let at_start = std::mem::replace(&mut self.at_start, false);
            let result = match parsed {
                Ok(any) => Ok(any),
                Err(e) if at_start && e.is_eof() => return self.document(buffer, line, &e),
                Err(e) => Err(ReadError {
                    position: Position::Line(line),
                    reason: format!("invalid OTLP JSON: {e}"),
                }),
            };
            self.line_buffer = buffer;
            match result {
                Ok(any) => {
                    self.queue(any, Position::Line(line));
                    if let Some(message) = self.pending.pop_front() {
                        return Some(Ok(message));
                    }
                    return Some(Err(ReadError {
                        position: Position::Line(line),
                        reason: "no resourceSpans, resourceLogs or resourceMetrics".to_owned(),
                    }));
                }
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// The whole content as one JSON document that begins on `first_line`, which
    /// `buffer` holds and which did not parse alone (`line_error`). If the document
    /// does not parse either but the line after it does, the file is JSON Lines with a
    /// cut first line: that line is reported and the rest read line by line.
    fn document(
        &mut self,
        mut buffer: Vec<u8>,
        first_line: u64,
        line_error: &serde_json::Error,
    ) -> Option<Result<Message, ReadError>> {
        self.ended = true;
        let first_line_bytes = buffer.len();
        if let Err(e) = self.input.read_to_end(&mut buffer) {
            let reason = content_error(self.compressed, &e);
            return Some(Err(ReadError {
                position: Position::Line(first_line),
                reason,
            }));
        }
        let error = match serde_json::from_slice::<AnyData>(&buffer) {
            Ok(any) => {
                self.queue(any, Position::Line(first_line));
                return self.pending.pop_front().map(Ok);
            }
            Err(error) => error,
        };
        let rest = buffer.split_off(first_line_bytes);
        let next_line_parses = rest
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .find(|line| !line.is_empty())
            .is_some_and(|line| serde_json::from_slice::<AnyData>(line).is_ok());
        if next_line_parses {
            self.input = Box::new(io::Cursor::new(rest));
            self.ended = false;
            return Some(Err(ReadError {
                position: Position::Line(first_line),
                reason: format!("invalid OTLP JSON: {line_error}"),
            }));
        }
        Some(Err(ReadError {
            position: Position::Line(first_line + error.line().saturating_sub(1) as u64),
            reason: format!("invalid OTLP JSON document: {error}"),
        }))
    }

    fn queue(&mut self, any: AnyData, position: Position) {
        for data in any.into_data() {
            self.pending.push_back(Message {
                payload: Payload::Decoded(data),
                position,
            });
        }
    }

    fn next_proto(&mut self) -> Option<Result<Message, ReadError>> {
        let start = self.offset;
        let position = self.byte_position(start);
        let mut prefix = [0u8; 4];
        let got = match read_full(&mut self.input, &mut prefix) {
            Ok(got) => got,
            Err(e) => {
                let reason = content_error(self.compressed, &e);
                return self.end(position, reason);
            }
        };
        self.offset += got as u64;
        match got {
            0 => return None,
            4 => {}
            _ => {
                return self.end(
                    position,
                    format!("truncated length prefix: {got} of 4 bytes"),
                );
            }
        }
        let len = u32::from_be_bytes(prefix);
        if len > MAX_MESSAGE_BYTES {
            return self.end(
                position,
                format!(
                    "a length prefix of {len} bytes, past the largest message read \
                     ({MAX_MESSAGE_BYTES} bytes): not an OTLP protobuf file, or damaged"
                ),
            );
        }
        let mut bytes = Vec::new();
        if let Err(e) = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut bytes)
        {
            let reason = content_error(self.compressed, &e);
            return self.end(position, reason);
        }
        self.offset += bytes.len() as u64;
        if bytes.len() < len as usize {
            return self.end(
                position,
                format!(
                    "truncated message: its length prefix says {len} bytes, {} follow",
                    bytes.len()
                ),
            );
        }
        match signal_of(&bytes) {
            Ok(signal) => Some(Ok(Message {
                payload: Payload::Protobuf { signal, bytes },
                position,
            })),
            // The next length prefix is still where this one says: go on.
            Err(e) => Some(Err(ReadError {
                position,
                reason: e.to_string(),
            })),
        }
    }
}

impl Iterator for FileReader {
    type Item = Result<Message, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(message) = self.pending.pop_front() {
            return Some(Ok(message));
        }
        if self.ended {
            return None;
        }
        match self.layout {
            Layout::JsonLines => self.next_json(),
            Layout::Proto => self.next_proto(),
        }
    }
}

fn content_error(compressed: bool, error: &io::Error) -> String {
    if compressed {
        format!("cannot decompress (zstd): {error}")
    } else {
        format!("cannot read: {error}")
    }
}

/// Reads up to `len` bytes, fewer only at the end of the input.
fn read_head(input: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0; len];
    let got = read_full(input, &mut head)?;
    head.truncate(got);
    Ok(head)
}

fn read_full(input: &mut (impl Read + ?Sized), buffer: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        match input.read(&mut buffer[got..]) {
            Ok(0) => break,
            Ok(read) => got += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{gauge, log, logs, span, traces};
    use crate::write::{Compression, FileFormat, FileWriter};

    fn messages() -> Vec<Data> {
        vec![
            traces("a", vec![span(1, 10), span(2, 20)]),
            logs("b", vec![log(30, Some(1)), log(40, None)]),
            gauge("c", &[50]),
        ]
    }

    fn written(format: FileFormat, compression: Compression) -> Vec<u8> {
        let mut writer = FileWriter::new(Vec::new(), format, compression).expect("writer");
        for data in messages() {
            writer.write(&data).expect("written");
        }
        assert_eq!(writer.messages(), 3);
        writer.finish().expect("finished")
    }

    /// Every item of a file: its message (decoded) or its error, as text.
    fn read(bytes: Vec<u8>) -> Vec<Result<(Data, Position), String>> {
        match FileReader::new(io::Cursor::new(bytes)) {
            Ok(reader) => reader
                .map(|item| {
                    item.map(|m| (m.payload.into_data().expect("decodes"), m.position))
                        .map_err(|e| e.to_string())
                })
                .collect(),
            Err(error) => vec![Err(error.to_string())],
        }
    }

    #[test]
    fn what_is_written_reads_back_in_every_format() {
        for format in [FileFormat::Json, FileFormat::Proto] {
            for compression in [Compression::None, Compression::Zstd] {
                let bytes = written(format, compression);
                let reader = FileReader::new(io::Cursor::new(bytes.clone())).expect("opens");
                assert_eq!(reader.is_json(), format == FileFormat::Json);
                assert_eq!(reader.is_compressed(), compression == Compression::Zstd);
                let read: Vec<Data> = read(bytes)
                    .into_iter()
                    .map(|item| item.expect("well-formed").0)
                    .collect();
                assert_eq!(read, messages(), "{format:?} {compression:?}");
            }
        }
    }

    #[test]
    fn json_lines_are_numbered_and_blank_ones_skipped() {
        let lines: Vec<String> = messages()
            .iter()
            .map(|d| d.to_json().expect("json"))
            .collect();
        let text = format!("\n{}\n\n{}\r\n{}", lines[0], lines[1], lines[2]);
        let positions: Vec<Position> = read(text.into_bytes())
            .into_iter()
            .map(|item| item.expect("well-formed").1)
            .collect();
        assert_eq!(
            positions,
            [Position::Line(2), Position::Line(4), Position::Line(5)]
        );
    }

    #[test]
    fn a_bad_json_line_is_reported_and_reading_goes_on() {
        let good = messages()[0].to_json().expect("json");
        let text = format!("{good}\n{{\"resourceSpans\": 3}}\n{{}}\nnot json\n{good}\n");
        let read = read(text.into_bytes());
        assert_eq!(read.len(), 5);
        assert!(read[0].is_ok());
        let error = |i: usize| read[i].as_ref().expect_err("malformed").clone();
        assert!(
            error(1).starts_with("line 2: invalid OTLP JSON"),
            "{}",
            error(1)
        );
        assert_eq!(
            error(2),
            "line 3: no resourceSpans, resourceLogs or resourceMetrics"
        );
        assert!(
            error(3).starts_with("line 4: invalid OTLP JSON"),
            "{}",
            error(3)
        );
        assert_eq!(read[4].as_ref().map(|m| m.1), Ok(Position::Line(5)));
    }

    #[test]
    fn a_cut_first_line_is_reported_and_the_lines_after_it_read() {
        let good = messages()[1].to_json().expect("json");
        let text = format!("{}\n{good}\n{good}\n", &good[..good.len() / 2]);
        let read = read(text.into_bytes());
        assert_eq!(read.len(), 3, "{read:?}");
        assert!(
            read[0]
                .as_ref()
                .is_err_and(|e| e.starts_with("line 1: invalid OTLP JSON: EOF")),
            "{read:?}"
        );
        assert_eq!(read[1].as_ref().map(|m| m.1), Ok(Position::Line(2)));
        assert_eq!(read[2].as_ref().map(|m| m.1), Ok(Position::Line(3)));
        // A pretty document with an error is one error, at its line.
        let document = "{\n  \"resourceSpans\": [\n    {,}\n  ]\n}\n";
        let broken = self::read(document.as_bytes().to_vec());
        assert_eq!(broken.len(), 1);
        assert!(
            broken[0]
                .as_ref()
                .is_err_and(|e| e.starts_with("line 3: invalid OTLP JSON document")),
            "{broken:?}"
        );
    }

    #[test]
    fn a_document_with_several_signals_yields_each() {
        let text = "{\n  \"resourceSpans\": [],\n  \"resourceLogs\": []\n}\n";
        let signals: Vec<Signal> = read(text.as_bytes().to_vec())
            .into_iter()
            .map(|item| item.expect("well-formed").0.signal())
            .collect();
        assert_eq!(signals, [Signal::Traces, Signal::Logs]);
    }

    #[test]
    fn protobuf_damage_is_reported_at_its_offset() {
        let bytes = written(FileFormat::Proto, Compression::None);
        let second = 4 + u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;

        // A message that is not protobuf: reported, and the next one is read.
        let mut damaged = bytes.clone();
        damaged[4] = 0xff;
        damaged[5] = 0xff;
        let read_back = read(damaged);
        assert!(
            read_back[0]
                .as_ref()
                .is_err_and(|e| e.starts_with("byte offset 0: invalid protobuf")),
            "{read_back:?}"
        );
        assert_eq!(read_back.len(), 3);
        assert_eq!(
            read_back[1].as_ref().map(|m| m.1),
            Ok(Position::Byte(second as u64))
        );

        // A length past any message ends the file there.
        let mut huge = bytes.clone();
        huge[second..second + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let read_back = read(huge);
        assert_eq!(read_back.len(), 2);
        assert!(
            read_back[1].as_ref().is_err_and(|e| e.starts_with(&format!(
                "byte offset {second}: a length prefix of {} bytes",
                u32::MAX
            ))),
            "{read_back:?}"
        );

        // Half a length prefix.
        let mut cut = bytes[..second + 2].to_vec();
        let read_back = read(cut.clone());
        assert_eq!(
            read_back[1],
            Err(format!(
                "byte offset {second}: truncated length prefix: 2 of 4 bytes"
            ))
        );
        // In a zstd file, offsets count the decompressed bytes.
        cut = zstd::encode_all(&cut[..], 3).expect("compressed");
        let read_back = read(cut);
        assert_eq!(
            read_back[1],
            Err(format!(
                "byte offset {second} of the decompressed content: truncated length prefix: 2 of 4 bytes"
            ))
        );
    }

    #[test]
    fn an_empty_file_has_no_messages() {
        assert!(read(Vec::new()).is_empty());
        assert!(read(zstd::encode_all(&b""[..], 3).expect("compressed")).is_empty());
    }
}
