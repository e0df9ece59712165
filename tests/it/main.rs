//! End-to-end tests across crates, in one binary so it links once.

mod e2e;
mod fuzz_corpora;
mod imports;
mod layout;
mod sdk;
mod sdk_javascript;
mod sdk_python;
mod sdk_records;
mod sdk_workload;
