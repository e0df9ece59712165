//! Helpers shared by the store tests: realistic blocks, segment files, reading back.

use std::path::{Path, PathBuf};

use oculus_store::block::SpanColumns;
use oculus_store::frame::SegmentHeader;
use oculus_store::proto::{
    AnyValue, Block, BlockSummary, KeyValue, LogRecord, Resource, Scope, SourceLocation, Span,
    SpanKind, StatusCode, any_value::Value,
};
use oculus_store::segment::{FsyncPolicy, SegmentWriter};
use oculus_store::{
    BlockBuilder, EncodedBlock, SegmentBytes, SegmentItem, encode_block, read_segment,
};

/// A fixed point in time (2025-11-25T16:00:00Z) so blocks are reproducible.
pub const BASE_TIME_UNIX_NANO: u64 = 1_764_086_400_000_000_000;

/// One record of a block under test.
#[derive(Clone, Debug)]
pub enum RecordSpec {
    Span { name: String, status: i64 },
    Log { body: String, severity: i32 },
}

/// A block the way the collector builds one: a resource, a scope, interned strings,
/// spans with attributes and source locations, logs with bodies and trace context.
pub fn build_block(seed: u64, records: &[RecordSpec]) -> Block {
    let mut builder = BlockBuilder::new();
    builder.set_base_time(BASE_TIME_UNIX_NANO + seed * 1_000_000_000);
    let key = builder.intern("service.name");
    let resource = builder.add_resource(Resource {
        attributes: vec![string_attr(key, "orders")],
        dropped_attributes_count: 0,
        schema_url: 0,
        entity_refs: Vec::new(),
    });
    let name = builder.intern("orders::api");
    let version = builder.intern("1.4.0");
    let scope = builder.add_scope(Scope {
        resource,
        name,
        version,
        ..Scope::default()
    });
    let trace_id_high = 0x4bf9_2f35_77b3_4da6 ^ seed;
    let trace_id_low = 0xa3ce_929d_0e0e_4736;
    for (i, record) in records.iter().enumerate() {
        let i = i as u64;
        let at = BASE_TIME_UNIX_NANO + seed * 1_000_000_000 + i * 1_000_000;
        let source = SourceLocation {
            file_path: builder.intern("src/orders.rs"),
            line: 40 + i as u32,
            function: builder.intern("orders::handle"),
        };
        match record {
            RecordSpec::Span { name, status } => {
                let name = builder.intern(name);
                let method_key = builder.intern("http.request.method");
                let status_key = builder.intern("http.response.status_code");
                let columns = SpanColumns {
                    span_id: (seed << 16) + i + 1,
                    parent_span_id: if i == 0 { 0 } else { seed << 16 | 1 },
                    start_unix_nano: at,
                    end_unix_nano: at + 250_000 + i,
                };
                let span = Span {
                    scope,
                    trace_id_high,
                    trace_id_low,
                    flags: 1,
                    name,
                    kind: SpanKind::Server as i32,
                    attributes: vec![
                        string_attr(method_key, "GET"),
                        KeyValue {
                            key: status_key,
                            value: Some(AnyValue {
                                value: Some(Value::IntValue(*status)),
                            }),
                        },
                    ],
                    status_code: if *status >= 500 {
                        StatusCode::Error as i32
                    } else {
                        StatusCode::Ok as i32
                    },
                    source: Some(source),
                    ..Span::default()
                };
                builder.push_span(span, columns);
            }
            RecordSpec::Log { body, severity } => {
                let severity_text = builder.intern(if *severity >= 17 { "ERROR" } else { "INFO" });
                let order_key = builder.intern("order.id");
                let log = LogRecord {
                    scope,
                    severity_number: *severity,
                    severity_text,
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(body.clone())),
                    }),
                    attributes: vec![KeyValue {
                        key: order_key,
                        value: Some(AnyValue {
                            value: Some(Value::IntValue(seed as i64 * 100 + i as i64)),
                        }),
                    }],
                    trace_id_high,
                    trace_id_low,
                    span_id: (seed << 16) + 1,
                    source: Some(source),
                    ..LogRecord::default()
                };
                builder.push_log(log, at, at + 10_000);
            }
        }
    }
    builder.finish()
}

pub fn string_attr(key: u32, value: &str) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
    }
}

/// A block of a few spans and logs that differs with `seed`.
pub fn sample_block(seed: u64) -> Block {
    let mut records = Vec::new();
    for i in 0..(2 + seed % 3) {
        records.push(RecordSpec::Span {
            name: format!("GET /orders/{{id}} #{seed}.{i}"),
            status: if i == 1 { 503 } else { 200 },
        });
    }
    for i in 0..(1 + seed % 4) {
        records.push(RecordSpec::Log {
            body: format!("order {seed}-{i} shipped to warehouse {}", seed * 7 + i),
            severity: if i == 2 { 17 } else { 9 },
        });
    }
    build_block(seed, &records)
}

pub fn encode(block: &Block) -> EncodedBlock {
    encode_block(block, 3).unwrap()
}

/// What a segment written by [`write_segment`] holds.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub blocks: Vec<Block>,
    /// Where each block's frame starts and ends.
    pub frames: Vec<(u64, u64)>,
    pub len_bytes: u64,
}

/// Writes `count` sample blocks (seeds `0..count`) with [`SegmentWriter`], one append
/// each, and seals the segment if asked.
pub fn write_segment(path: &Path, sequence: u32, count: u64, seal: bool) -> Written {
    let header = SegmentHeader {
        sequence,
        created_unix_nano: BASE_TIME_UNIX_NANO,
    };
    let mut writer = SegmentWriter::create(path, header, FsyncPolicy::Never).unwrap();
    let mut blocks = Vec::new();
    let mut frames = Vec::new();
    for seed in 0..count {
        let block = sample_block(seed);
        let encoded = encode(&block);
        let start = writer.len_bytes();
        writer.append(std::slice::from_ref(&encoded)).unwrap();
        assert_eq!(writer.len_bytes(), start + encoded.frame.len() as u64);
        frames.push((start, writer.len_bytes()));
        blocks.push(block);
    }
    let len_bytes = if seal {
        let sealed = writer.seal().unwrap();
        assert_eq!(sealed.blocks, count as usize);
        sealed.len_bytes
    } else {
        writer.len_bytes()
    };
    assert_eq!(std::fs::metadata(path).unwrap().len(), len_bytes);
    Written {
        path: path.to_path_buf(),
        blocks,
        frames,
        len_bytes,
    }
}

/// Everything one scan of a segment produced, blocks and damage in file order.
#[derive(Debug)]
pub struct Read {
    pub blocks: Vec<Block>,
    pub items: Vec<Item>,
    pub scan: oculus_store::segment::Scan,
}

/// A scan item reduced to what tests compare.
#[derive(Debug, PartialEq)]
pub enum Item {
    Block(u64),
    Corrupt(oculus_store::Corruption),
}

pub fn scan_bytes(path: &Path, data: &[u8]) -> Read {
    let mut blocks = Vec::new();
    let mut items = Vec::new();
    let scan = SegmentBytes::new(path, data).scan(|item| match item {
        SegmentItem::Block { summary, block } => {
            items.push(Item::Block(summary.offset));
            blocks.push(block);
        }
        SegmentItem::Corrupt(corruption) => items.push(Item::Corrupt(corruption)),
    });
    Read {
        blocks,
        items,
        scan,
    }
}

/// Reads a segment file the way the viewer does: `read_segment`, then a scan.
pub fn scan_file(path: &Path) -> Read {
    let data = read_segment(path).unwrap();
    scan_bytes(path, &data)
}

/// Offsets of block summaries, to compare with where frames were written.
pub fn offsets(summaries: &[BlockSummary]) -> Vec<u64> {
    summaries.iter().map(|s| s.offset).collect()
}

pub fn without<T: Clone>(items: &[T], index: usize) -> Vec<T> {
    let mut rest = items.to_vec();
    rest.remove(index);
    rest
}

/// Appends raw bytes to a file, as a writer that is cut off part way would.
pub fn append_raw(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

/// A data directory holding one session with the given segment files copied in.
pub fn data_dir_with(files: &[(&Path, &str)]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let root = tempfile::tempdir().unwrap();
    let session = root
        .path()
        .join(oculus_store::datadir::SESSIONS_DIR)
        .join("2025-11-25T16-00-00Z-1");
    std::fs::create_dir_all(&session).unwrap();
    // As a collector writes it when the session starts.
    std::fs::write(
        session.join(oculus_store::datadir::SESSION_FILE),
        "{\"started_unix_nano\": 1}\n",
    )
    .unwrap();
    let mut paths = Vec::new();
    for (from, name) in files {
        let to = session.join(name);
        std::fs::copy(from, &to).unwrap();
        paths.push(to);
    }
    (root, paths)
}
