//! Records written out as OTLP, as the OpenTelemetry Collector's file exporter writes
//! them: a trace's spans and logs as JSON Lines for the clipboard, and what a tab
//! shows into a file. Records are read back from their blocks, each block once
//! however many of its records are written.

use std::collections::BTreeMap;
use std::io::BufWriter;

use oculus_otlp::export::Records;
use oculus_otlp::{Compression, FileFormat, FileWriter};

use crate::model::{Index, RecordLoc};
use crate::snapshot::{TabExport, ViewKind};
use crate::source::{Library, ReadBlockError};
use crate::tab::Tab;

/// Why a trace could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum OtlpOutError {
    #[error("cannot read a block of the records: {0}")]
    Read(#[from] ReadBlockError),
    #[error("cannot write OTLP JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The spans and logs of trace number `trace` of the index, as OTLP JSON Lines.
pub fn trace_json(
    index: &Index,
    library: &mut Library,
    trace: u32,
) -> Result<String, OtlpOutError> {
    let Some(entry) = index.traces.get(trace as usize) else {
        return Ok(String::new());
    };
    let spans = entry
        .spans
        .iter()
        .filter_map(|&i| index.spans.get(i as usize).map(|span| span.loc));
    let logs = entry
        .logs
        .iter()
        .filter_map(|&i| index.logs.get(i as usize).map(|log| log.loc));
    let mut text = String::new();
    for data in records(index, library, spans, logs)?.into_data() {
        text.push_str(&data.to_json()?);
        text.push('\n');
    }
    Ok(text)
}

/// Per block (in file order), the places in it of the spans and of the log records.
type ByBlock = BTreeMap<u32, (Vec<usize>, Vec<usize>)>;

fn by_block(
    spans: impl Iterator<Item = RecordLoc>,
    logs: impl Iterator<Item = RecordLoc>,
) -> ByBlock {
    let mut by_block = ByBlock::new();
    for loc in spans {
        by_block
            .entry(loc.block)
            .or_default()
            .0
            .push(loc.index as usize);
    }
    for loc in logs {
        by_block
            .entry(loc.block)
            .or_default()
            .1
            .push(loc.index as usize);
    }
    by_block
}

/// The records of one block, read back.
fn block_records(
    index: &Index,
    library: &mut Library,
    block: u32,
    (mut spans, mut logs): (Vec<usize>, Vec<usize>),
    records: &mut Records,
) -> Result<(), ReadBlockError> {
    let Some(&block_loc) = index.blocks.get(block as usize) else {
        return Ok(());
    };
    let block = library.read_block(block_loc)?;
    spans.sort_unstable();
    logs.sort_unstable();
    records.add(
        &block,
        |i| spans.binary_search(&i).is_ok(),
        |i| logs.binary_search(&i).is_ok(),
    );
    Ok(())
}

/// The records at these places, block by block in file order.
fn records(
    index: &Index,
    library: &mut Library,
    spans: impl Iterator<Item = RecordLoc>,
    logs: impl Iterator<Item = RecordLoc>,
) -> Result<Records, ReadBlockError> {
    let mut records = Records::default();
    for (block, places) in by_block(spans, logs) {
        block_records(index, library, block, places, &mut records)?;
    }
    Ok(records)
}

/// Writes what `tab` shows into the export's file: in the logs view its log records,
/// in the traces view its traces with all their spans and logs. Returns the notice
/// that says what was written, or why nothing was.
pub fn export_tab(index: &Index, library: &mut Library, tab: &Tab, export: &TabExport) -> String {
    let (spans, logs): (Vec<RecordLoc>, Vec<RecordLoc>) = match tab.view {
        ViewKind::Logs => {
            if !tab.logs.is_complete(index) {
                return "the filter is still running: export once it has finished".to_owned();
            }
            let logs = (0..tab.logs.len())
                .filter_map(|row| tab.logs.get(row))
                .filter_map(|i| index.logs.get(i as usize).map(|log| log.loc))
                .collect();
            (Vec::new(), logs)
        }
        ViewKind::Traces => {
            if !tab.spans.is_complete(index) {
                return "the filter is still running: export once it has finished".to_owned();
            }
            let (mut spans, mut logs) = (Vec::new(), Vec::new());
            for trace in (0..tab.order.len()).filter_map(|row| tab.order.trace_at(row)) {
                let Some(entry) = index.traces.get(trace as usize) else {
                    continue;
                };
                spans.extend(
                    entry
                        .spans
                        .iter()
                        .filter_map(|&i| index.spans.get(i as usize).map(|span| span.loc)),
                );
                logs.extend(
                    entry
                        .logs
                        .iter()
                        .filter_map(|&i| index.logs.get(i as usize).map(|log| log.loc)),
                );
            }
            (spans, logs)
        }
    };
    let written = write_file(index, library, spans.into_iter(), logs.into_iter(), export);
    match written {
        Ok((spans, logs)) => format!(
            "exported {spans} spans and {logs} log records to {}",
            export.path.display()
        ),
        Err(error) => format!("export failed: {error}"),
    }
}

/// Writes the records, a message per signal per block, into the export's file.
/// Returns the spans and log records written.
fn write_file(
    index: &Index,
    library: &mut Library,
    spans: impl Iterator<Item = RecordLoc>,
    logs: impl Iterator<Item = RecordLoc>,
    export: &TabExport,
) -> Result<(usize, usize), OtlpOutError> {
    let io = |source| OtlpOutError::Write {
        path: export.path.clone(),
        source,
    };
    let file = std::fs::File::create(&export.path).map_err(io)?;
    let format = if export.protobuf {
        FileFormat::Proto
    } else {
        FileFormat::Json
    };
    let compression = if export.zstd {
        Compression::Zstd
    } else {
        Compression::None
    };
    let mut writer = FileWriter::new(BufWriter::new(file), format, compression).map_err(io)?;
    let (mut span_count, mut log_count) = (0, 0);
    for (block, places) in by_block(spans, logs) {
        let mut records = Records::default();
        block_records(index, library, block, places, &mut records)?;
        for data in records.into_data() {
            match data.signal() {
                oculus_otlp::Signal::Traces => span_count += data.record_count(),
                _ => log_count += data.record_count(),
            }
            writer.write(&data).map_err(io)?;
        }
    }
    writer.finish().map_err(io)?;
    Ok((span_count, log_count))
}
