//! A model-based test: random appends, rotations, clean restarts and crashes with
//! torn tails against a `SessionWriter`, compared with a plain list of the blocks
//! that were acknowledged.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use oculus_store::frame::{Footer, HEADER_LEN, SegmentHeader};
use oculus_store::proto::Block;
use oculus_store::{SessionWriter, WriterOptions, check, resolve};

use crate::common::{RecordSpec, append_raw, build_block, encode, scan_file};

#[derive(Clone, Debug)]
enum Torn {
    /// The crash cut the next frame after this many bytes (clamped to the frame).
    PartialFrame(usize),
    /// The filesystem left this many zero bytes past the end.
    Zeros(usize),
}

#[derive(Clone, Debug)]
enum Op {
    /// One append call holding these blocks.
    Append(Vec<Vec<RecordSpec>>),
    /// close(), then a new SessionWriter.
    Restart,
    /// Drop without close, tear the tail, then a new SessionWriter.
    Crash(Torn),
}

fn record() -> impl Strategy<Value = RecordSpec> {
    prop_oneof![
        ("[a-zA-Z /{}]{0,16}", 100i64..600)
            .prop_map(|(name, status)| RecordSpec::Span { name, status }),
        ("\\PC{0,40}", 1i32..24).prop_map(|(body, severity)| RecordSpec::Log { body, severity }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(prop::collection::vec(record(), 1..6), 1..4).prop_map(Op::Append),
        1 => Just(Op::Restart),
        2 => prop_oneof![
            (1usize..2000).prop_map(Torn::PartialFrame),
            (1usize..4096).prop_map(Torn::Zeros),
        ]
        .prop_map(Op::Crash),
    ]
}

/// The highest-numbered segment of the session, if it is still unsealed.
fn active_segment(session: &Path) -> Option<PathBuf> {
    let last = oculus_store::Session {
        path: session.to_path_buf(),
    }
    .segments()
    .unwrap()
    .pop()?;
    let sealed = Footer::find(&std::fs::read(&last).unwrap()).is_some();
    (!sealed).then_some(last)
}

fn run(ops: Vec<Op>, max_segment_bytes: u64) -> Result<(), TestCaseError> {
    let root = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        max_segment_bytes,
        ..WriterOptions::default()
    };
    let open = || {
        let (writer, report) = SessionWriter::open(root.path(), options.clone()).unwrap();
        (writer, report)
    };
    let (mut writer, _) = open();
    let mut model: Vec<Block> = Vec::new();
    let mut seed = 0u64;
    for op in ops {
        match op {
            Op::Append(blocks) => {
                let blocks: Vec<Block> = blocks
                    .iter()
                    .map(|records| {
                        seed += 1;
                        build_block(seed, records)
                    })
                    .collect();
                let encoded: Vec<_> = blocks.iter().map(encode).collect();
                writer.append(&encoded).unwrap();
                model.extend(blocks);
            }
            Op::Restart => {
                writer.close().unwrap();
                let (next, report) = open();
                prop_assert!(report.sealed.is_empty(), "{:?}", report.sealed);
                prop_assert!(report.damage.is_empty());
                writer = next;
            }
            Op::Crash(torn) => {
                let session = writer.session().path.clone();
                drop(writer);
                let expected = match active_segment(&session) {
                    Some(active) => {
                        let bytes = match torn {
                            Torn::PartialFrame(len) => {
                                let frame = encode(&build_block(
                                    seed + 1,
                                    &[RecordSpec::Log {
                                        body: "never acknowledged".into(),
                                        severity: 9,
                                    }],
                                ))
                                .frame;
                                frame[..len.min(frame.len() - 1)].to_vec()
                            }
                            Torn::Zeros(len) => vec![0; len],
                        };
                        append_raw(&active, &bytes);
                        vec![(active, bytes.len() as u64)]
                    }
                    None => {
                        // No active segment: the crash hit while creating the next one.
                        let sequence = oculus_store::Session {
                            path: session.clone(),
                        }
                        .segments()
                        .unwrap()
                        .len() as u32
                            + 1;
                        let header = SegmentHeader {
                            sequence,
                            created_unix_nano: 1,
                        }
                        .encode();
                        let len = match torn {
                            Torn::PartialFrame(len) | Torn::Zeros(len) => {
                                1 + len % (HEADER_LEN - 1)
                            }
                        };
                        let path = session.join(format!("segment-{sequence:08}.oseg"));
                        std::fs::write(&path, &header[..len]).unwrap();
                        vec![(path, len as u64)]
                    }
                };
                let (next, report) = open();
                prop_assert_eq!(report.sealed, expected);
                prop_assert!(report.damage.is_empty(), "{:?}", report.damage);
                writer = next;
            }
        }
    }
    writer.close().unwrap();

    let mut found = Vec::new();
    let segments = resolve(root.path())
        .unwrap()
        .segment_paths()
        .map(Path::to_path_buf)
        .collect::<Vec<_>>();
    for path in &segments {
        let read = scan_file(path);
        prop_assert!(
            read.scan.damage.is_empty(),
            "{}: {:?}",
            path.display(),
            read.scan.damage
        );
        prop_assert!(!read.scan.torn_tail);
        let index = read.scan.sealed_index.clone();
        prop_assert_eq!(index.map(|i| i.blocks), Some(read.scan.blocks.clone()));
        found.extend(read.blocks);
    }
    prop_assert_eq!(&found, &model);

    let report = check(root.path(), |_, _| {}).unwrap();
    prop_assert_eq!(report.blocks, model.len() as u64);
    prop_assert_eq!(
        report.spans,
        model.iter().map(|b| b.spans.len() as u64).sum::<u64>()
    );
    prop_assert_eq!(
        report.logs,
        model.iter().map(|b| b.logs.len() as u64).sum::<u64>()
    );
    prop_assert_eq!(report.sealed_segments, segments.len());
    prop_assert!(report.damage.is_empty());
    prop_assert!(report.open_tails.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    })]

    #[test]
    fn writer_and_reader_agree_with_the_model(
        ops in prop::collection::vec(op(), 1..40),
        max_segment_bytes in 200u64..6000,
    ) {
        run(ops, max_segment_bytes)?;
    }
}
