//! OTLP outside the receivers: the store's records as OTLP ([`export`]), and the files
//! the rest of OpenTelemetry reads and writes ([`write`], [`read`]): JSON Lines and
//! length-prefixed protobuf, as the OpenTelemetry Collector's file exporter writes
//! them, either one zstd-compressed or not; and a stored metric read into a plain model
//! ([`metric`]).
//!
//! Only OTLP's message types are linked (no tonic), so the viewer can use this crate
//! and still link no server.

pub mod data;
pub mod export;
pub mod filter;
pub mod metric;
pub mod read;
#[cfg(test)]
mod testing;
pub mod write;

pub use data::{Data, Signal};
pub use filter::RecordFilter;
pub use read::{FileReader, Message, Payload, Position, ReadError};
pub use write::{Compression, FileFormat, FileWriter};

/// OTLP's generated message types, for users of [`Data`].
pub use opentelemetry_proto::tonic as types;
