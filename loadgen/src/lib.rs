//! Realistic OTLP data, shared by the `oculus-loadgen` binary and the collector's
//! benchmarks so both measure the same requests.

pub mod data;
