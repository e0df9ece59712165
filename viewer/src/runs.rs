//! The runs as the Runs menu shows them: each session's times, services and counts,
//! from the index's per-run totals and the library's sessions, rebuilt only when one
//! of them changed. An ended run's forwarding counts are read from its directory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::Index;
use crate::snapshot::{Forwarding, RunInfo};
use crate::source::SessionInfo;

/// The last list built, and what it was built from.
#[derive(Default)]
pub(crate) struct Runs {
    built_from: Option<Key>,
    list: Arc<[RunInfo]>,
    /// Ended runs' forwarding counts, by session directory, and when they were read.
    forwarding: HashMap<PathBuf, (Instant, Vec<Forwarding>)>,
}

/// How long an ended run's forwarding counts with records pending are trusted: a
/// later run of its collector may send them meanwhile, and say so in the cursor.
const PENDING_REREAD: Duration = Duration::from_secs(2);

/// What a run's description depends on: the index grows only by blocks, and
/// sessions only by being added or ending.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    blocks: usize,
    sessions: usize,
    live: Vec<bool>,
}

impl Runs {
    /// The runs as of now: the list last built, unless a block or a session came or a
    /// run ended since.
    pub fn get(
        &mut self,
        sessions: &[SessionInfo],
        live: Vec<bool>,
        index: &Index,
    ) -> Arc<[RunInfo]> {
        let key = Key {
            blocks: index.blocks.len(),
            sessions: sessions.len(),
            live,
        };
        if self.built_from.as_ref() != Some(&key) {
            self.read_forwarding(sessions, &key.live);
            let mut list = build(sessions, &key.live, index);
            for run in &mut list {
                if let Some((_, forwarding)) = self.forwarding.get(&run.path) {
                    run.forwarding.clone_from(forwarding);
                }
            }
            self.list = list.into();
            self.built_from = Some(key);
        }
        Arc::clone(&self.list)
    }

    /// Reads the forwarding counts of ended runs not read yet, and again those with
    /// records pending when last read a while ago.
    fn read_forwarding(&mut self, sessions: &[SessionInfo], live: &[bool]) {
        let now = Instant::now();
        for (number, session) in sessions.iter().enumerate() {
            if live.get(number).copied().unwrap_or(false) {
                continue;
            }
            let stale = self
                .forwarding
                .get(&session.path)
                .is_none_or(|(read, counts)| {
                    counts.iter().any(|c| c.pending > 0)
                        && now.duration_since(*read) >= PENDING_REREAD
                });
            if stale {
                let counts = crate::status::ended_run_forwarding(&session.path);
                self.forwarding.insert(session.path.clone(), (now, counts));
            }
        }
    }
}

/// Each session's description, by session number.
pub(crate) fn build(sessions: &[SessionInfo], live: &[bool], index: &Index) -> Vec<RunInfo> {
    sessions
        .iter()
        .enumerate()
        .map(|(number, session)| {
            let totals = index.runs.get(number).cloned().unwrap_or_default();
            RunInfo {
                name: session.name.clone(),
                path: session.path.clone(),
                live: live.get(number).copied().unwrap_or(false),
                first_unix_nano: totals.first_unix_nano,
                last_unix_nano: totals.last_unix_nano,
                services: totals
                    .services
                    .iter()
                    .map(|&service| Arc::clone(index.strings.get(service)))
                    .collect(),
                logs: totals.logs,
                spans: totals.spans,
                metric_points: totals.metric_points,
                forwarding: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::{Runs, build};
    use crate::model::{BlockLoc, Index, PreparedBlock, PreparedRecord, PreparedScope};
    use crate::source::SessionInfo;

    fn session(name: &str) -> SessionInfo {
        SessionInfo {
            name: name.to_owned(),
            path: PathBuf::from("/data/sessions").join(name),
        }
    }

    /// A block of one service's logs at `log_times` and spans over `spans`.
    fn block(service: &str, log_times: &[u64], spans: &[(u64, u64)]) -> PreparedBlock {
        let record = |time, end| PreparedRecord {
            time,
            end,
            ..PreparedRecord::default()
        };
        PreparedBlock {
            strings: vec![String::new(), "scope".to_owned()],
            scopes: vec![PreparedScope {
                service: service.to_owned(),
                name: 1,
                ..PreparedScope::default()
            }],
            logs: log_times.iter().map(|&t| record(t, 0)).collect(),
            spans: spans
                .iter()
                .map(|&(start, end)| record(start, end))
                .collect(),
            metric_points: 3,
            ..PreparedBlock::default()
        }
    }

    fn add(index: &mut Index, block: &PreparedBlock, session: u16) {
        let loc = BlockLoc {
            segment: 0,
            offset: 0,
            frame_bytes: 0,
        };
        index.add_prepared(block, loc, session);
    }

    #[test]
    fn each_run_has_its_own_times_services_and_counts() {
        let mut index = Index::default();
        add(
            &mut index,
            &block("checkout", &[200, 100], &[(150, 900)]),
            0,
        );
        add(&mut index, &block("payments", &[5_000], &[]), 1);
        add(&mut index, &block("checkout", &[300], &[]), 0);
        // A record without a time does not move the run's start to 1970.
        add(&mut index, &block("payments", &[0, 7_000], &[]), 1);
        let sessions = [session("first"), session("second"), session("empty")];
        let runs = build(&sessions, &[false, true, false], &index);

        assert_eq!(runs.len(), 3);
        let first = &runs[0];
        assert_eq!(first.name, "first");
        assert_eq!(first.path, PathBuf::from("/data/sessions/first"));
        assert!(!first.live);
        assert_eq!(
            (first.first_unix_nano, first.last_unix_nano),
            (Some(100), Some(900))
        );
        assert_eq!(first.length_nano(), Some(800));
        assert_eq!(first.services, vec![Arc::<str>::from("checkout")]);
        assert_eq!((first.logs, first.spans, first.metric_points), (3, 1, 6));

        let second = &runs[1];
        assert!(second.live);
        assert_eq!(second.services, vec![Arc::<str>::from("payments")]);
        assert_eq!((second.logs, second.spans), (3, 0));
        assert_eq!(second.length_nano(), Some(2_000));

        // A run found before any of its records arrived.
        let empty = &runs[2];
        assert_eq!((empty.logs, empty.spans, empty.length_nano()), (0, 0, None));
        assert!(empty.services.is_empty());
    }

    #[test]
    fn the_list_is_rebuilt_only_when_a_block_a_session_or_a_runs_end_came() {
        let mut index = Index::default();
        add(&mut index, &block("checkout", &[100], &[]), 0);
        let sessions = [session("first")];
        let mut runs = Runs::default();
        let before = runs.get(&sessions, vec![true], &index);
        let again = runs.get(&sessions, vec![true], &index);
        assert!(
            Arc::ptr_eq(&before, &again),
            "nothing changed: shared, not rebuilt"
        );

        add(&mut index, &block("checkout", &[200], &[]), 0);
        let grown = runs.get(&sessions, vec![true], &index);
        assert_eq!(grown[0].logs, 2);

        let ended = runs.get(&sessions, vec![false], &index);
        assert!(!ended[0].live);
        assert!(!Arc::ptr_eq(&grown, &ended));
    }
}
