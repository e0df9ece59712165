//! `export` and `import` on the command line: a data directory's records out to OTLP
//! files, and OTLP files in as a new session (see `import.rs` and `oculus_otlp`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use oculus_otlp::{Compression, Data, FileFormat, FileWriter, RecordFilter, Signal, export};
use oculus_store::datadir::unix_nanos;
use oculus_store::{SegmentItem, StoreError, resolve};

use crate::import::{ImportEvent, ImportOptions, ImportReport, import};

#[derive(Args)]
pub struct ExportArgs {
    /// Output format: JSON Lines or length-prefixed protobuf, as the OpenTelemetry
    /// Collector's file exporter writes them.
    #[arg(long, value_enum, default_value_t = FormatArg::OtlpJson)]
    format: FormatArg,
    /// Compress the output as one zstd stream.
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Only this signal [default: every signal].
    #[arg(long, value_enum)]
    signal: Option<SignalArg>,
    /// Only this service (its `service.name`); repeatable.
    #[arg(long, value_name = "NAME")]
    service: Vec<String>,
    /// Only this trace: its id in hex, or its first 8 or more hex digits. Leaves out
    /// metrics and logs of no trace.
    #[arg(long, value_name = "HEX")]
    trace_id: Option<String>,
    /// Only records at or after this time: RFC 3339 (`2026-11-30T22:05:00Z`), `now`,
    /// or a duration before now (`-15m`). A log's time, a span's start.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    since: Option<String>,
    /// Only records before this time (as `--since`).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    until: Option<String>,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A data directory, a session directory or a segment file.
    path: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    OtlpJson,
    OtlpProto,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    Zstd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SignalArg {
    Traces,
    Logs,
    Metrics,
}

impl From<SignalArg> for Signal {
    fn from(signal: SignalArg) -> Self {
        match signal {
            SignalArg::Traces => Self::Traces,
            SignalArg::Logs => Self::Logs,
            SignalArg::Metrics => Self::Metrics,
        }
    }
}

#[derive(Args)]
pub struct ImportArgs {
    /// Where sessions are kept [default: $XDG_DATA_HOME/oculus or ~/.local/share/oculus].
    #[arg(long, value_name = "DIR", env = "OCULUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// OTLP files: JSON Lines, length-prefixed protobuf (as the OpenTelemetry
    /// Collector's file exporter writes them) or one OTLP JSON document; zstd or not.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// A moment as `--since` and `--until` take it, in Unix nanoseconds.
fn parse_time(text: &str, now_unix_nano: u64) -> anyhow::Result<u64> {
    let text = text.trim();
    let bad = || format!("not a time: {text:?} (like 2026-11-30T22:05:00Z, now or -15m)");
    if text == "now" {
        return Ok(now_unix_nano);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let ago = humantime::parse_duration(ago).with_context(bad)?;
        return Ok(now_unix_nano.saturating_sub(u64::try_from(ago.as_nanos()).unwrap_or(u64::MAX)));
    }
    let time = humantime::parse_rfc3339_weak(text).with_context(bad)?;
    Ok(unix_nanos(time))
}

fn parse_trace_id(text: &str) -> anyhow::Result<String> {
    let hex = text.trim().to_ascii_lowercase();
    if !(8..=32).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("not a trace id: {text:?} (8 to 32 hex digits)");
    }
    Ok(hex)
}

impl ExportArgs {
    fn filter(&self) -> anyhow::Result<RecordFilter> {
        let now = unix_nanos(SystemTime::now());
        Ok(RecordFilter {
            services: self.service.clone(),
            trace_id: self.trace_id.as_deref().map(parse_trace_id).transpose()?,
            since_unix_nano: self
                .since
                .as_deref()
                .map(|t| parse_time(t, now))
                .transpose()?,
            until_unix_nano: self
                .until
                .as_deref()
                .map(|t| parse_time(t, now))
                .transpose()?,
        })
    }
}

pub fn run_export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let filter = args.filter()?;
    let signals: Vec<Signal> = match args.signal {
        Some(signal) => vec![signal.into()],
        None => Signal::ALL.to_vec(),
    };
    let format = match args.format {
        FormatArg::OtlpJson => FileFormat::Json,
        FormatArg::OtlpProto => FileFormat::Proto,
    };
    let compression = match args.compression {
        Some(CompressionArg::Zstd) => Compression::Zstd,
        None => Compression::None,
    };
    let resolved = resolve(&args.path)?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut out = FileWriter::new(out, format, compression).context("cannot write the output")?;
    let progress = progress_bar(resolved.total_bytes())?;
    // Damage found while resolving (an archive's manifest or footer) comes first.
    let mut damaged = resolved.damage.len();
    for damage in &resolved.damage {
        eprintln!("error: damaged: {damage}");
    }
    for file in &resolved.segments {
        let data = file.read()?;
        let mut failure = None;
        // The scan's damage list holds every range it could not read: damaged blocks,
        // and also a damaged header, index, footer or finished segment's end, which
        // yield no item.
        let scan = file.bytes(&data).scan(|item| {
            if failure.is_some() {
                return;
            }
            if let SegmentItem::Block { block, .. } = item
                && let Err(error) = write_block(&mut out, &signals, &filter, &block)
            {
                failure = Some(error);
            }
        });
        if let Some(error) = failure {
            return quiet_on_closed_pipe(error);
        }
        for damage in &scan.damage {
            damaged += 1;
            progress.suspend(|| eprintln!("error: damaged: {damage}"));
        }
        progress.inc(data.len() as u64);
    }
    if let Err(error) = out.finish().context("cannot write the output") {
        return quiet_on_closed_pipe(error);
    }
    progress.finish_and_clear();
    if damaged > 0 {
        eprintln!(
            "{damaged} damaged ranges in the input; what could be read was exported \
             (`oculus-collector check` lists every frame)"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A reader that stopped early (`export ... | head`) is not an error.
fn quiet_on_closed_pipe(error: anyhow::Error) -> anyhow::Result<ExitCode> {
    let closed = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if closed {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(error)
    }
}

fn write_block(
    out: &mut FileWriter<Box<dyn Write>>,
    signals: &[Signal],
    filter: &RecordFilter,
    block: &oculus_store::proto::Block,
) -> anyhow::Result<()> {
    for signal in signals {
        let data = match signal {
            Signal::Traces if !block.spans.is_empty() => Data::Traces(export::traces(block)),
            Signal::Logs if !block.logs.is_empty() => Data::Logs(export::logs(block)),
            Signal::Metrics if !block.metrics.is_empty() => {
                Data::Metrics(export::metrics(block).context("a stored metric does not decode")?)
            }
            _ => continue,
        };
        if let Some(data) = filter.apply(data) {
            out.write(&data).context("cannot write the output")?;
        }
    }
    Ok(())
}

/// A progress bar of `total` bytes, drawn only on a terminal.
pub fn progress_bar(total: u64) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta}")
            .context("invalid progress template")?,
    );
    Ok(bar)
}

/// Exit status of an import stopped by Ctrl-C, as shells report a SIGINT.
const INTERRUPTED: u8 = 130;

pub fn run_import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(oculus_store::default_data_dir);
    let report = import_with_progress(&data_dir, &args.files)?;
    println!(
        "imported {} spans, {} log records and {} metric points into {}",
        report.spans,
        report.logs,
        report.metric_points,
        report.session.display()
    );
    if report.interrupted {
        eprintln!("interrupted: the files were imported only up to that point");
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if report.malformed > 0 {
        eprintln!(
            "{} malformed lines, messages or records were not imported; the rest was",
            report.malformed
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports `files` into a new session of `data_dir` with a progress bar on a
/// terminal, reporting each malformed line or message on stderr. Ctrl-C or SIGTERM
/// stops it cleanly: what was read is kept and the session sealed.
pub fn import_with_progress(data_dir: &Path, files: &[PathBuf]) -> anyhow::Result<ImportReport> {
    let stop = crate::cli::stop_flag()?;
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = progress_bar(total)?;
    let mut on_event = |event: ImportEvent<'_>| match event {
        ImportEvent::Read { bytes } => progress.set_position(bytes),
        ImportEvent::Malformed { file, error } => {
            progress.suspend(|| eprintln!("error: {}: {error}", file.display()));
        }
    };
    let result = import(
        data_dir,
        files,
        &ImportOptions::default(),
        &stop,
        &mut on_event,
    );
    progress.finish_and_clear();
    match result {
        Ok(report) => Ok(report),
        Err(crate::import::ImportError::Store(error @ StoreError::Locked { .. })) => Err(error)
            .with_context(|| {
                format!(
                    "cannot import into {}: stop that collector first, or import into \
                     another --data-dir and open that",
                    data_dir.display()
                )
            }),
        Err(error) => Err(error.into()),
    }
}

/// Where `oculus FILE` imports an OTLP file: a data directory of its own under the
/// user's, named after the file, so that it never waits for the lock of a running
/// collector and each import is a session of its own in it.
pub fn import_dir_for(data_dir: &Path, file: &Path) -> PathBuf {
    let name = file.file_name().map_or_else(
        || "import".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    data_dir.join("imports").join(name)
}

/// Whether a file given to open is an OTLP file rather than a segment or an archive:
/// anything that begins with neither magic is read as OTLP (and reported if it is not).
pub fn is_otlp_file(path: &Path) -> bool {
    use std::io::Read;
    if !path.is_file() {
        return false;
    }
    let mut head = [0u8; 8];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut head));
    read.is_err()
        || (head != oculus_store::frame::SEGMENT_MAGIC
            && head != oculus_store::archive::ARCHIVE_MAGIC)
}

/// Imports one OTLP file for viewing (see [`import_dir_for`]); returns the session to
/// open and a line saying what was imported where. A file imported whole before, and
/// unchanged since (its size and modification time), opens its earlier session.
pub fn import_to_view(data_dir: &Path, file: &Path) -> anyhow::Result<(PathBuf, String)> {
    let target = import_dir_for(data_dir, file);
    let stamp = FileStamp::of(file)?;
    if let Some(session) = stamp.earlier_import(&target) {
        let said = format!(
            "opening {}, imported from {} before",
            session.display(),
            file.display()
        );
        return Ok((session, said));
    }
    let report = import_with_progress(&target, &[file.to_path_buf()])?;
    let mut said = format!(
        "imported {} records of {} into {}",
        report.records(),
        file.display(),
        report.session.display()
    );
    if report.malformed > 0 {
        said.push_str(&format!(
            " ({} malformed lines, messages or records left out)",
            report.malformed
        ));
    }
    if !report.interrupted {
        // Only a whole import is opened again instead of importing anew; failing to
        // record it costs an import the next time.
        if let Err(error) = stamp.record(&target, &report.session) {
            tracing::warn!(%error, "cannot record the import; the file will be imported again");
        }
    }
    Ok((report.session, said))
}

/// The file `oculus FILE` recorded its last whole import in, in the import's directory.
const IMPORTED_FROM: &str = "imported-from.json";

/// What identifies a version of an imported file.
#[derive(PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FileStamp {
    bytes: u64,
    modified_unix_nano: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ImportRecord {
    file: FileStamp,
    session: PathBuf,
}

impl FileStamp {
    fn of(file: &Path) -> anyhow::Result<Self> {
        let meta =
            std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
        Ok(Self {
            bytes: meta.len(),
            modified_unix_nano: meta.modified().map_or(0, unix_nanos),
        })
    }

    /// The session of an earlier whole import of this very file, if it is still there.
    fn earlier_import(&self, target: &Path) -> Option<PathBuf> {
        let text = std::fs::read_to_string(target.join(IMPORTED_FROM)).ok()?;
        let record: ImportRecord = serde_json::from_str(&text).ok()?;
        (record.file == *self && record.session.is_dir()).then_some(record.session)
    }

    fn record(self, target: &Path, session: &Path) -> anyhow::Result<()> {
        let record = ImportRecord {
            file: self,
            session: session.to_path_buf(),
        };
        use std::os::unix::fs::OpenOptionsExt;
        // Readable by its owner only, as everything in the data directory.
        let mut file = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(target.join(IMPORTED_FROM))?;
        file.write_all(&serde_json::to_vec(&record)?)?;
        Ok(())
    }
}
