//! `archive`, `sessions` and `rm`: the commands that work on whole sessions.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use oculus_store::datadir::{LOCK_FILE, SESSION_FILE, SESSIONS_DIR, is_locked};
use oculus_store::{ArchiveError, Session, SessionSummary};

/// Sessions named on the command line: a session directory's path, or its name
/// within the data directory.
pub fn find_sessions(names: &[String], data_dir: &Path) -> anyhow::Result<Vec<Session>> {
    names
        .iter()
        .map(|name| {
            let given = PathBuf::from(name);
            let path = if given.is_dir() {
                given
            } else {
                let within = data_dir.join(SESSIONS_DIR).join(name);
                anyhow::ensure!(
                    within.is_dir(),
                    "{name}: no such session (neither a directory nor a session of {}; \
                     `oculus-collector sessions` lists them)",
                    data_dir.display()
                );
                within
            };
            let session = Session { path };
            anyhow::ensure!(
                session.path.join(SESSION_FILE).is_file() || !session.segments()?.is_empty(),
                "{} is not a session (no session.json, no segment)",
                session.path.display()
            );
            Ok(session)
        })
        .collect()
}

/// `oculus-collector archive SESSION... -o FILE`.
pub fn archive(names: &[String], data_dir: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let sessions = find_sessions(names, data_dir)?;
    let stop = oculus_collector::cli::stop_flag()?;
    let bar = oculus_collector::files::progress_bar(0)?;
    let written = oculus_store::write_archive(&sessions, output, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
        if stop.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    bar.finish_and_clear();
    let manifest = match written {
        Ok(manifest) => manifest,
        Err(stopped @ ArchiveError::Stopped { .. }) => {
            eprintln!("{stopped}");
            return Ok(ExitCode::from(130));
        }
        Err(error) => return Err(error).context("cannot write the archive"),
    };
    let totals = &manifest.totals;
    println!(
        "{}: {}, {}, {}, {}, {}, {} bytes of segments",
        output.display(),
        counted(manifest.sessions.len() as u64, "session"),
        counted(totals.segments as u64, "segment"),
        counted(totals.spans, "span"),
        counted(totals.logs, "log record"),
        counted(totals.metric_points, "metric point"),
        totals.segment_bytes,
    );
    Ok(ExitCode::SUCCESS)
}

/// "1 session", "2 sessions".
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The session the running collector of `data_dir` writes, if one runs: the newest
/// session not yet ended whose record names the lock holder's pid.
pub fn active_session(data_dir: &Path) -> anyhow::Result<Option<Session>> {
    if !is_locked(data_dir) {
        return Ok(None);
    }
    let holder = std::fs::read_to_string(data_dir.join(LOCK_FILE)).unwrap_or_default();
    let pid = holder
        .trim()
        .strip_prefix("pid ")
        .and_then(|pid| pid.parse::<u64>().ok());
    let sessions = oculus_store::sessions(data_dir)?;
    Ok(sessions.into_iter().rev().find(|session| {
        if session.is_closed() {
            return false;
        }
        let record = std::fs::read_to_string(session.path.join(SESSION_FILE))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        let recorded = record
            .as_ref()
            .and_then(|r| r.get("collector_pid"))
            .and_then(serde_json::Value::as_u64);
        // Without a pid in the lock file, the newest open session is the one.
        pid.is_none() || recorded == pid
    }))
}

/// `oculus-collector sessions`: a table of the data directory's sessions.
pub fn list(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let sessions = oculus_store::sessions(data_dir)?;
    let active = active_session(data_dir)?;
    let mut out = std::io::stdout().lock();
    if sessions.is_empty() {
        writeln!(out, "no sessions in {}", data_dir.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "NAME".to_owned(),
        "START".to_owned(),
        "DURATION".to_owned(),
        "SERVICES".to_owned(),
        "SPANS".to_owned(),
        "LOGS".to_owned(),
        "METRIC POINTS".to_owned(),
        "SIZE".to_owned(),
    ]];
    for session in &sessions {
        let summary = oculus_store::archiver::summarize(session)?;
        let mut name = session.name();
        if active.as_ref() == Some(session) {
            name.push_str(" (active)");
        }
        rows.push(row(name, &summary));
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| rows.iter().map(|r| r[column].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn row(name: String, summary: &SessionSummary) -> [String; 8] {
    let start = summary.started_unix_nano.map_or_else(
        || "-".to_owned(),
        |nanos| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
        },
    );
    let duration = Duration::from_secs(summary.duration_nanos / 1_000_000_000);
    let services = if summary.services.is_empty() {
        "-".to_owned()
    } else {
        summary.services.join(",")
    };
    [
        name,
        start,
        humantime::format_duration(duration).to_string(),
        services,
        summary.spans.to_string(),
        summary.logs.to_string(),
        summary.metric_points.to_string(),
        indicatif::HumanBytes(summary.bytes).to_string(),
    ]
}

/// `oculus-collector rm SESSION...`: deletes sessions, refusing the active one.
pub fn remove(names: &[String], data_dir: &Path) -> anyhow::Result<ExitCode> {
    let sessions = find_sessions(names, data_dir)?;
    // All refused before any is removed: a typo in a list deletes nothing.
    for session in &sessions {
        let active = active_session(&data_dir_of(session, data_dir))?;
        let is_active = active
            .as_ref()
            .is_some_and(|active| same_dir(&active.path, &session.path));
        anyhow::ensure!(
            !is_active,
            "{} is the session the running collector writes; stop the collector first \
             (nothing was removed)",
            session.path.display()
        );
    }
    for session in &sessions {
        std::fs::remove_dir_all(&session.path)
            .with_context(|| format!("cannot remove {}", session.path.display()))?;
        println!("removed {}", session.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The data directory a session lives in: the one above its `sessions` folder, else
/// the one given.
fn data_dir_of(session: &Session, given: &Path) -> PathBuf {
    let sessions_dir = session.path.canonicalize().ok().and_then(|path| {
        path.parent()
            .filter(|parent| parent.file_name().is_some_and(|n| n == SESSIONS_DIR))
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    });
    sessions_dir.unwrap_or_else(|| given.to_path_buf())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
