//! OTLP's rules for trace and span ids, shared by both ingest paths so they reject the
//! same records with the same words. A failure is the reason given in partial success.

use oculus_store::block::{split_span_id, split_trace_id};

/// A trace id a record must have: 16 bytes, not all zero.
pub fn required_trace_id(bytes: &[u8], what: &str) -> Result<(u64, u64), String> {
    split_trace_id(bytes)
        .filter(|&id| id != (0, 0))
        .ok_or_else(|| {
            format!(
                "{what} trace_id must be 16 bytes, not all zero (got {} bytes)",
                bytes.len()
            )
        })
}

/// A span id a record must have: 8 bytes, not all zero.
pub fn required_span_id(bytes: &[u8], what: &str) -> Result<u64, String> {
    split_span_id(bytes).filter(|&id| id != 0).ok_or_else(|| {
        format!(
            "{what} span_id must be 8 bytes, not all zero (got {} bytes)",
            bytes.len()
        )
    })
}

/// A span's parent: absent (empty) for a root, else a valid span id.
pub fn parent_span_id(bytes: &[u8]) -> Result<u64, String> {
    if bytes.is_empty() {
        Ok(0)
    } else {
        required_span_id(bytes, "parent")
    }
}

/// A log record's trace context: each id absent (empty) or of the right length.
pub fn log_ids(trace_id: &[u8], span_id: &[u8]) -> Result<((u64, u64), u64), String> {
    let trace = if trace_id.is_empty() {
        (0, 0)
    } else {
        split_trace_id(trace_id).ok_or_else(|| {
            format!(
                "log trace_id must be 16 bytes (got {} bytes)",
                trace_id.len()
            )
        })?
    };
    let span = if span_id.is_empty() {
        0
    } else {
        split_span_id(span_id)
            .ok_or_else(|| format!("log span_id must be 8 bytes (got {} bytes)", span_id.len()))?
    };
    Ok((trace, span))
}
