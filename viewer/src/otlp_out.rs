//! A trace's records written out as OTLP JSON Lines (a TracesData line, then a
//! LogsData line), as the OpenTelemetry Collector's file exporter writes them: read back
//! from their blocks, a block once however many of its records the trace holds.

use std::collections::BTreeMap;

use oculus_otlp::export::Records;

use crate::model::{Index, RecordLoc};
use crate::source::{Library, ReadBlockError};

/// Why a trace could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum OtlpOutError {
    #[error("cannot read a block of the trace: {0}")]
    Read(#[from] ReadBlockError),
    #[error("cannot write OTLP JSON: {0}")]
    Json(#[from] serde_json::Error),
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

/// The records at these places, block by block in file order.
fn records(
    index: &Index,
    library: &mut Library,
    spans: impl Iterator<Item = RecordLoc>,
    logs: impl Iterator<Item = RecordLoc>,
) -> Result<Records, ReadBlockError> {
    // Per block: its spans' and its logs' places in it.
    let mut by_block: BTreeMap<u32, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
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
    let mut records = Records::default();
    for (block, (mut spans, mut logs)) in by_block {
        let Some(&block_loc) = index.blocks.get(block as usize) else {
            continue;
        };
        let block = library.read_block(block_loc)?;
        spans.sort_unstable();
        logs.sort_unstable();
        records.add(
            &block,
            |i| spans.binary_search(&i).is_ok(),
            |i| logs.binary_search(&i).is_ok(),
        );
    }
    Ok(records)
}
