//! The viewer's figures on 10 million records (set OCULUS_BENCH_RECORDS for another
//! size): time to open a data directory, memory per record, time from a filter change
//! to the published view, full-text search, and UI frame times while 100k records per
//! second arrive.
//!
//! `cargo bench -p oculus-viewer --bench viewer`
//!
//! The data set is written once with the store's own writer, encoded as the collector
//! encodes it (spans and logs in blocks of their own, per-kind zstd levels and
//! dictionaries), and kept under `target/viewer-bench/` for the next run.
//!
//! `OCULUS_BENCH_PATH=PATH` opens PATH (a data directory, a session or an archive of
//! OCULUS_BENCH_RECORDS records) in its place, for the opening figures only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;
use oculus_store::proto::{
    AnyValue, KeyValue, LogRecord, Resource, Scope, SourceLocation, Span, StatusCode, any_value,
};
use oculus_store::{
    BlockBuilder, DictionarySampler, EncodedBlock, SessionWriter, SharedDictionary, WriterOptions,
    encode_raw_block,
};
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::filter::Filter;
use oculus_viewer::histogram::Counted;
use oculus_viewer::model::Level;
use oculus_viewer::snapshot::{Analysis, UiEvent, ViewKind};
use oculus_viewer::{App, Arrivals, BackendOptions, Engine};

// Indexing allocates and frees many small buffers while decoding blocks; mimalloc
// does that faster than glibc's allocator, as in the collector.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: [&str; 5] = ["checkout", "payments", "inventory", "frontend", "shipping"];
const ROUTES: [&str; 6] = [
    "/orders/{id}",
    "/cart",
    "/payments/{id}/capture",
    "/products/{id}",
    "/shipments",
    "/users/{id}/session",
];

/// A small, fast, seeded generator (SplitMix64), so every run writes the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn string(text: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    })
}

fn int(value: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(value)),
    })
}

/// One block of whole traces: per trace, an HTTP server span with three children and
/// six log records, as a traced service exports them.
fn block(
    rng: &mut Rng,
    service: &str,
    traces: usize,
    mut time: u64,
) -> (oculus_store::proto::Block, u64) {
    let mut b = BlockBuilder::new();
    let key = |b: &mut BlockBuilder, k: &str| b.intern(k);
    let service_key = key(&mut b, "service.name");
    let host_key = key(&mut b, "host.name");
    let resource = b.add_resource(Resource {
        attributes: vec![
            KeyValue {
                key: service_key,
                value: string(service),
            },
            KeyValue {
                key: host_key,
                value: string("devbox"),
            },
        ],
        ..Resource::default()
    });
    let scope_name = key(&mut b, &format!("{service}::handlers"));
    let scope = b.add_scope(Scope {
        resource,
        name: scope_name,
        ..Scope::default()
    });
    b.set_base_time(time);
    let file = key(&mut b, &format!("src/{service}/handlers.rs"));
    let mut logs = Vec::new();
    for _ in 0..traces {
        let trace = (rng.next(), rng.next());
        let root_id = rng.next() | 1;
        let route = ROUTES[rng.below(ROUTES.len() as u64) as usize];
        let id = rng.below(1_000_000);
        let failed = rng.below(100) < 3;
        let status = if failed { 500 } else { 200 };
        let start = time;
        let duration = 2_000_000 + rng.below(40_000_000);
        let names = ["db.query", "cache.get", "http.client"];
        let mut spans = vec![(
            Span {
                scope,
                trace_id_high: trace.0,
                trace_id_low: trace.1,
                name: key(&mut b, &format!("GET {route}")),
                kind: 2,
                attributes: vec![
                    KeyValue {
                        key: key(&mut b, "http.request.method"),
                        value: string("GET"),
                    },
                    KeyValue {
                        key: key(&mut b, "url.path"),
                        value: string(route.replace("{id}", &id.to_string())),
                    },
                    KeyValue {
                        key: key(&mut b, "http.response.status_code"),
                        value: int(status),
                    },
                    KeyValue {
                        key: key(&mut b, "user_agent.original"),
                        value: string("Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"),
                    },
                ],
                status_code: if failed { StatusCode::Error as i32 } else { 0 },
                source: Some(SourceLocation {
                    file_path: file,
                    line: 40,
                    function: 0,
                }),
                ..Span::default()
            },
            oculus_store::block::SpanColumns {
                span_id: root_id,
                parent_span_id: 0,
                start_unix_nano: start,
                end_unix_nano: start + duration,
            },
        )];
        for (i, name) in names.iter().enumerate() {
            let child_start = start + duration / 8 * (i as u64 + 1);
            spans.push((
                Span {
                    scope,
                    trace_id_high: trace.0,
                    trace_id_low: trace.1,
                    name: key(&mut b, name),
                    kind: 3,
                    attributes: vec![KeyValue {
                        key: key(&mut b, "db.system.name"),
                        value: string("postgresql"),
                    }],
                    ..Span::default()
                },
                oculus_store::block::SpanColumns {
                    span_id: rng.next() | 1,
                    parent_span_id: root_id,
                    start_unix_nano: child_start,
                    end_unix_nano: child_start + duration / 10,
                },
            ));
        }
        let messages = [
            (
                5,
                format!(
                    "request received for {}",
                    route.replace("{id}", &id.to_string())
                ),
            ),
            (
                5,
                format!("cache miss for key product:{}", rng.below(50_000)),
            ),
            (
                9,
                format!(
                    "order {id} placed by user {} for {} items",
                    rng.below(100_000),
                    1 + rng.below(9)
                ),
            ),
            (
                1,
                format!("acquired connection from pool in {} us", rng.below(900)),
            ),
            (
                if rng.below(10) == 0 { 13 } else { 9 },
                format!("query on orders took {} ms", rng.below(120)),
            ),
            (
                if failed { 17 } else { 9 },
                if failed {
                    format!("request failed with status {status}: upstream timed out")
                } else {
                    format!("request completed with status {status}")
                },
            ),
        ];
        for (i, (severity, message)) in messages.into_iter().enumerate() {
            logs.push((
                start + duration / 7 * i as u64,
                severity,
                message,
                trace,
                if i == 3 || i == 4 {
                    spans[1].1.span_id
                } else {
                    root_id
                },
                id,
            ));
        }
        for (span, columns) in spans {
            b.push_span(span, columns);
        }
        time += 3_000_000 + rng.below(2_000_000);
    }
    for (log_time, severity, message, trace, span_id, id) in logs {
        let severity_text = key(&mut b, Level::from_otlp(severity, "").label());
        let attributes = vec![
            KeyValue {
                key: key(&mut b, "order.id"),
                value: int(id as i64),
            },
            KeyValue {
                key: key(&mut b, "code.function.name"),
                value: string("handle_request"),
            },
        ];
        let log = LogRecord {
            scope,
            severity_number: severity,
            severity_text,
            body: string(message),
            attributes,
            trace_id_high: trace.0,
            trace_id_low: trace.1,
            span_id,
            source: Some(SourceLocation {
                file_path: file,
                line: 60 + severity as u32,
                function: 0,
            }),
            ..LogRecord::default()
        };
        b.push_log(log, log_time, log_time + 1000);
    }
    (b.finish(), time)
}

/// Encodes blocks as the collector does: a request's spans and its logs in blocks of
/// their own, spans at zstd level 3 and logs at 1, each kind with a dictionary sampled
/// from the session's first blocks of that kind (its ids as the collector's).
struct CollectorEncoding {
    kinds: [(i32, DictionarySampler, Option<SharedDictionary>); 2],
}

impl CollectorEncoding {
    fn new() -> Self {
        Self {
            kinds: [
                (3, DictionarySampler::new(1), None),
                (1, DictionarySampler::new(2), None),
            ],
        }
    }

    fn encode(&mut self, block: &oculus_store::proto::Block) -> Vec<EncodedBlock> {
        let spans = oculus_store::proto::Block {
            logs: Vec::new(),
            log_time_offsets: Vec::new(),
            log_observed_offsets: Vec::new(),
            ..block.clone()
        };
        let logs = oculus_store::proto::Block {
            metrics: Vec::new(),
            spans: Vec::new(),
            span_ids: Vec::new(),
            parent_span_ids: Vec::new(),
            span_start_offsets: Vec::new(),
            span_durations: Vec::new(),
            ..block.clone()
        };
        [spans, logs]
            .iter()
            .zip(&mut self.kinds)
            .map(|(part, (level, sampler, dictionary))| {
                let raw = prost::Message::encode_to_vec(part);
                // Until a dictionary is sampled, blocks go without, as the collector's do.
                if dictionary.is_none() {
                    *dictionary = sampler.offer(&raw);
                }
                let summary = oculus_store::block::summarize(part);
                encode_raw_block(&raw, summary, *level, dictionary.as_ref()).expect("encode")
            })
            .collect()
    }
}

/// Series of the gauge a live run sends, each with a point per block.
const GAUGE_SERIES: u64 = 10;

/// Adds a point of each series of a `queue.depth` gauge at `time` to `block`, as the
/// collector stores a metric: its OTLP encoding, verbatim.
fn add_gauge_points(block: &mut oculus_store::proto::Block, rng: &mut Rng, time: u64) {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1 as otlp;

    let data_points = (0..GAUGE_SERIES)
        .map(|queue| otlp::NumberDataPoint {
            attributes: vec![KeyValue {
                key: "queue".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("q{queue}"))),
                }),
                ..KeyValue::default()
            }],
            time_unix_nano: time,
            value: Some(otlp::number_data_point::Value::AsInt(rng.below(1000) as i64)),
            ..otlp::NumberDataPoint::default()
        })
        .collect();
    let metric = otlp::Metric {
        name: "queue.depth".into(),
        unit: "{items}".into(),
        data: Some(otlp::metric::Data::Gauge(otlp::Gauge { data_points })),
        ..otlp::Metric::default()
    };
    let name = u32::try_from(block.strings.len()).expect("strings");
    block.strings.push(metric.name.clone());
    block.metrics.push(oculus_store::proto::Metric {
        scope: 0,
        name,
        otlp_metric: prost::Message::encode_to_vec(&metric),
        data_points: GAUGE_SERIES as u32,
    });
}

/// Records per block: 50 traces of 4 spans and 6 logs.
const TRACES_PER_BLOCK: usize = 50;
const RECORDS_PER_BLOCK: u64 = TRACES_PER_BLOCK as u64 * 10;

/// Writes `records` records into a new session of `root`, `per_second` at a time if
/// given (else as fast as possible); stops early when `stop` is set.
fn write_records(
    root: &Path,
    records: u64,
    per_second: Option<u64>,
    stop: &AtomicBool,
    seed: u64,
) -> u64 {
    let (mut writer, _) = SessionWriter::open(root, WriterOptions::default()).expect("session");
    let mut rng = Rng(seed);
    let mut encoding = CollectorEncoding::new();
    let mut time = oculus_viewer::time::now_unix_nano() - 3_600_000_000_000;
    let started = Instant::now();
    let mut written = 0;
    while written < records && !stop.load(Ordering::Relaxed) {
        let service = SERVICES[(written / RECORDS_PER_BLOCK) as usize % SERVICES.len()];
        let (mut block, next) = block(&mut rng, service, TRACES_PER_BLOCK, time);
        // A live run also sends metrics, for the Metrics view's frame times.
        if per_second.is_some() {
            add_gauge_points(&mut block, &mut rng, next);
        }
        time = next;
        writer.append(&encoding.encode(&block)).expect("append");
        written += RECORDS_PER_BLOCK;
        if let Some(rate) = per_second {
            let due = Duration::from_secs_f64(written as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        } else if written % 1_000_000 < RECORDS_PER_BLOCK {
            eprint!(
                "\r  writing the data set: {} M records",
                written / 1_000_000
            );
        }
    }
    writer.close().expect("close");
    written
}

fn data_set(records: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/viewer-bench")
        .join(records.to_string());
    // A new marker has older data sets written again: those written before each kind
    // of record chained its own times, before they were encoded as the collector
    // encodes them, or before their indexes named each block's services.
    let done = dir.join("complete-4");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        write_records(&dir, records, None, &AtomicBool::new(false), 7);
        eprintln!();
        std::fs::write(&done, b"").expect("marker");
    }
    dir
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn options(dir: &Path) -> BackendOptions {
    BackendOptions {
        paths: vec![dir.to_path_buf()],
        editor: EditorOptions::default(),
        collector: "bench".into(),
        arrivals: Arrivals::default(),
        receivers: None,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Shows `tab` with `filter`, its `view`'s first 50 rows asked for, as the UI would.
fn show_tab(engine: &mut Engine, tab: u64, filter: Filter, view: ViewKind) {
    engine.handle(UiEvent::ShowTab {
        tab,
        filter: Box::new(filter),
        version: 1,
    });
    engine.handle(UiEvent::Viewport {
        tab,
        view,
        top: 0,
        rows: 50,
        follow: false,
        selected: None,
        sort: oculus_viewer::snapshot::TraceSort::default(),
    });
}

/// Applies `filter` to a tab and runs it to the end; returns the time to the first
/// publish (the rows on screen) and to the complete view, and the rows it holds.
fn time_filter(
    engine: &mut Engine,
    tab: u64,
    filter: Filter,
    view: ViewKind,
) -> (Duration, Duration, usize) {
    let started = Instant::now();
    show_tab(engine, tab, filter, view);
    engine.step();
    let first = engine.snapshot();
    let first_publish = started.elapsed();
    engine.finish();
    let snapshot = engine.snapshot();
    let complete = started.elapsed();
    std::hint::black_box(first);
    let rows = match view {
        ViewKind::Logs => snapshot.logs.total,
        ViewKind::Traces => snapshot.traces.total,
    };
    (first_publish, complete, rows)
}

/// The operations table: from the view shown (and then from a filter change) until
/// it is complete and published, the tab's own filter pass included in the second.
fn operations_table(engine: &mut Engine) {
    use oculus_viewer::operations::{OperationSort, OperationsRequest};
    let tab = 40;
    engine.handle(UiEvent::ShowTab {
        tab,
        filter: Box::new(Filter::default()),
        version: 1,
    });
    engine.finish();
    let started = Instant::now();
    engine.handle(UiEvent::Operations(Some(Box::new(OperationsRequest {
        tab,
        sort: OperationSort::default(),
        selected: None,
        compare: None,
    }))));
    engine.finish();
    let view = engine.snapshot().operations;
    let elapsed = started.elapsed();
    let (operations, spans) = view.map_or((0, 0), |v| (v.rows.len(), v.spans));
    println!(
        "operations table, {} records: {}   ({spans} spans, {operations} operations)",
        short(engine.index().logs.len() + engine.index().spans.len()),
        ms(elapsed)
    );
    let started = Instant::now();
    engine.handle(UiEvent::ShowTab {
        tab,
        filter: Box::new(Filter {
            min_level: Level::Error,
            ..Filter::default()
        }),
        version: 2,
    });
    engine.finish();
    let view = engine.snapshot().operations;
    let elapsed = started.elapsed();
    let (operations, spans) = view.map_or((0, 0), |v| (v.rows.len(), v.spans));
    println!(
        "operations table after a filter change (errors): {}   ({spans} spans, {operations} operations)",
        ms(elapsed)
    );
}

/// A record count as the benchmark's lines name it: 10M, 200k.
fn short(records: usize) -> String {
    if records >= 1_000_000 && records.is_multiple_of(1_000_000) {
        format!("{}M", records / 1_000_000)
    } else if records >= 1_000 {
        format!("{}k", records / 1_000)
    } else {
        records.to_string()
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "viewer benchmark: skipped (run it with `cargo bench -p oculus-viewer --bench viewer`)"
        );
        return;
    }
    if std::env::var("OCULUS_BENCH_ONLY").is_ok_and(|only| only == "latency") {
        let dir = std::env::temp_dir().join(format!("oculus-latency-{}", std::process::id()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        live_latency(&dir, &runtime);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let records: u64 = std::env::var("OCULUS_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let given = std::env::var_os("OCULUS_BENCH_PATH").map(PathBuf::from);
    let dir = given.clone().unwrap_or_else(|| data_set(records));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    println!("oculus viewer benchmark: {records} records (60% logs, 40% spans)");
    open_in_backend(&dir, records, &runtime);
    if given.is_some() || std::env::var_os("OCULUS_BENCH_OPEN_ONLY").is_some() {
        return;
    }
    let started = Instant::now();
    let mut engine = Engine::new(options(&dir), runtime.handle().clone());
    engine.poll();
    let opened = started.elapsed();
    let held = engine.index().logs.len() + engine.index().spans.len();
    assert_eq!(held as u64, records, "every record was read");
    let text = engine.index().log_text.text_bytes() + engine.index().span_text.text_bytes();
    let overhead = engine.index().overhead_bytes();
    println!(
        "open again in this process, memory already mapped {}",
        ms(opened)
    );
    println!(
        "memory per record beyond its text               {:.0} B   (target 150 B; text {:.0} B per record)",
        overhead as f64 / held as f64,
        text as f64 / held as f64
    );

    let filters: Vec<(&str, Filter, ViewKind)> = vec![
        (
            "level >= WARN",
            Filter {
                min_level: Level::Warn,
                ..Filter::default()
            },
            ViewKind::Logs,
        ),
        (
            "service = payments",
            Filter {
                services: vec!["payments".into()],
                ..Filter::default()
            },
            ViewKind::Logs,
        ),
        (
            "attribute order.id=4242",
            Filter {
                attributes: "order.id=4242".into(),
                ..Filter::default()
            },
            ViewKind::Logs,
        ),
        (
            "traces with errors",
            Filter {
                min_level: Level::Error,
                ..Filter::default()
            },
            ViewKind::Traces,
        ),
    ];
    for (tab, (name, filter, view)) in filters.into_iter().enumerate() {
        let (first, complete, rows) = time_filter(&mut engine, 10 + tab as u64, filter, view);
        println!(
            "filter change, {name:<26} first rows {:>9}, complete {:>9}   (target 100 ms; {rows} rows)",
            ms(first),
            ms(complete)
        );
    }
    let searches: Vec<(&str, Filter)> = vec![
        (
            "\"upstream timed out\"",
            Filter {
                search: "upstream timed out".into(),
                ..Filter::default()
            },
        ),
        (
            "\"PRODUCT:4242\" (case)",
            Filter {
                search: "PRODUCT:4242".into(),
                ..Filter::default()
            },
        ),
        (
            "\"zebra\" (no match)",
            Filter {
                search: "zebra".into(),
                ..Filter::default()
            },
        ),
        (
            "regex took 1[01][0-9] ms",
            Filter {
                search: "took 1[01][0-9] ms".into(),
                regex: true,
                ..Filter::default()
            },
        ),
    ];
    for (tab, (name, filter)) in searches.into_iter().enumerate() {
        let (first, complete, rows) =
            time_filter(&mut engine, 20 + tab as u64, filter, ViewKind::Logs);
        println!(
            "full-text search {name:<26} first rows {:>9}, complete {:>9}   (target 300 ms; {rows} rows)",
            ms(first),
            ms(complete)
        );
    }
    operations_table(&mut engine);
    histogram_recompute(&mut engine, records);
    drop(engine);

    trace_views(&dir, &runtime);
    metrics_view();
    frame_times(&dir, records, &runtime);
    live_latency(&dir, &runtime);
}

/// Spans in the large trace.
const LARGE_TRACE_SPANS: usize = 100_000;

/// The large trace as (span id, parent id, start, end) from `start_unix_nano`: a root,
/// then requests of a millisecond with steps of 20 µs in a row under each.
fn large_trace(start_unix_nano: u64) -> Vec<(u64, u64, u64, u64)> {
    let mut spans = vec![(1, 0, start_unix_nano, start_unix_nano + 3_000_000_000)];
    let mut request = 0;
    while spans.len() < LARGE_TRACE_SPANS {
        let id = spans.len() as u64 + 1;
        let start = start_unix_nano + request * 1_400_000;
        spans.push((id, 1, start, start + 1_000_000));
        for step in 0..49u64 {
            if spans.len() == LARGE_TRACE_SPANS {
                break;
            }
            let at = start + step * 20_000;
            spans.push((spans.len() as u64 + 1, id, at, at + 20_000));
        }
        request += 1;
    }
    spans
}

/// The trace views' figures on a 100,000-span trace: its critical path and self times
/// (the pure function), and the time from opening it to the backend publishing its
/// view (the spans in tree order, those figures and the flame graph's layout).
fn trace_views(dir: &Path, runtime: &tokio::runtime::Runtime) {
    use oculus_viewer::critical_path::{PathSpan, span_times};

    let start = oculus_viewer::time::now_unix_nano() - 600_000_000_000;
    let trace = large_trace(start);
    let position: std::collections::HashMap<u64, usize> =
        trace.iter().enumerate().map(|(i, s)| (s.0, i)).collect();
    let path_spans: Vec<PathSpan> = trace
        .iter()
        .map(|&(_, parent, start_unix_nano, end_unix_nano)| PathSpan {
            start_unix_nano,
            end_unix_nano,
            parent: position.get(&parent).copied(),
        })
        .collect();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        std::hint::black_box(span_times(std::hint::black_box(&path_spans)));
        best = best.min(started.elapsed());
    }
    println!(
        "critical path and self time, 100,000-span trace: {}   (best of 5)",
        ms(best)
    );

    let trace_dir = dir.join("large-trace");
    let _ = std::fs::remove_dir_all(&trace_dir);
    std::fs::create_dir_all(&trace_dir).expect("large trace dir");
    write_large_trace(&trace_dir, &trace);
    let mut engine = Engine::new(options(&trace_dir), runtime.handle().clone());
    engine.poll();
    engine.handle(UiEvent::ShowTab {
        tab: 0,
        filter: Box::default(),
        version: 1,
    });
    engine.finish();
    let started = Instant::now();
    engine.handle(UiEvent::OpenTrace {
        tab: 0,
        trace: 0xbeef,
        focus: None,
    });
    let snapshot = engine.snapshot();
    let published = started.elapsed();
    let spans = snapshot.trace.as_ref().map_or(0, |t| t.spans.len());
    assert_eq!(spans, LARGE_TRACE_SPANS, "the whole trace is published");
    println!(
        "open a 100,000-span trace: its view published      {}",
        ms(published)
    );
    drop(engine);
    large_trace_frames(&trace_dir, runtime);
    let _ = std::fs::remove_dir_all(&trace_dir);
}

/// Frame times of the real app (headless) with the 100,000-span trace open: the
/// waterfall while it scrolls and zooms, then the flame graph while it zooms.
fn large_trace_frames(dir: &Path, runtime: &tokio::runtime::Runtime) {
    let connection = oculus_viewer::backend::spawn(options(dir), runtime.handle().clone(), || {})
        .expect("backend");
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(u64::MAX)
        .build_ui_state(|ui, app: &mut App| app.show(ui), App::new(connection, 1));
    let step_until = |harness: &mut egui_kittest::Harness<'_, App>, done: &dyn Fn(&App) -> bool| {
        let started = Instant::now();
        while !done(harness.state()) {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the trace never opened"
            );
            harness.step();
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let typed = |harness: &mut egui_kittest::Harness<'_, App>, text: &str| {
        for c in text.chars() {
            harness.event(egui::Event::Text(c.to_string()));
            harness.step();
        }
    };
    step_until(&mut harness, &|app| {
        app.snapshot().status.spans == LARGE_TRACE_SPANS && app.snapshot().status.loading.is_none()
    });
    typed(&mut harness, "t");
    step_until(&mut harness, &|app| app.snapshot().traces.total > 0);
    typed(&mut harness, "gg");
    step_until(&mut harness, &|app| {
        app.tab().list().selected_item().is_some()
    });
    harness.key_press(egui::Key::Enter);
    step_until(&mut harness, &|app| {
        app.waterfall()
            .is_some_and(|w| w.view.spans.len() == LARGE_TRACE_SPANS)
    });
    // Each frame after a key: a page down, a zoom in or out, a pan.
    let measure = |harness: &mut egui_kittest::Harness<'_, App>, keys: &str| {
        let mut frames = Vec::new();
        for c in keys.chars().cycle().take(200) {
            harness.event(egui::Event::Text(c.to_string()));
            let started = Instant::now();
            harness.step();
            frames.push(started.elapsed());
        }
        frames.sort();
        (
            frames[frames.len() / 2],
            frames[(frames.len() - 1) * 99 / 100],
        )
    };
    let (waterfall_p50, waterfall_p99) = measure(&mut harness, "jjjj++hl--");
    typed(&mut harness, "F");
    let (flame_p50, flame_p99) = measure(&mut harness, "++hl--");
    println!(
        "frame time, 100,000-span trace open: waterfall p50 {} p99 {}, flame graph p50 {} p99 {}   (headless)",
        ms(waterfall_p50),
        ms(waterfall_p99),
        ms(flame_p50),
        ms(flame_p99),
    );
}

/// Writes the large trace into a new session of `dir`, 5,000 spans a block.
fn write_large_trace(dir: &Path, trace: &[(u64, u64, u64, u64)]) {
    let (mut writer, _) = SessionWriter::open(dir, WriterOptions::default()).expect("session");
    let mut encoding = CollectorEncoding::new();
    for chunk in trace.chunks(5_000) {
        let mut b = BlockBuilder::new();
        b.set_base_time(chunk[0].2);
        let service_key = b.intern("service.name");
        let resource = b.add_resource(Resource {
            attributes: vec![KeyValue {
                key: service_key,
                value: string("batch"),
            }],
            ..Resource::default()
        });
        let scope = b.add_scope(Scope {
            resource,
            ..Scope::default()
        });
        let name = b.intern("step");
        for &(span_id, parent_span_id, start_unix_nano, end_unix_nano) in chunk {
            b.push_span(
                Span {
                    scope,
                    trace_id_low: 0xbeef,
                    name,
                    ..Span::default()
                },
                oculus_store::block::SpanColumns {
                    span_id,
                    parent_span_id,
                    start_unix_nano,
                    end_unix_nano,
                },
            );
        }
        writer
            .append(&encoding.encode(&b.finish()))
            .expect("append");
    }
    writer.close().expect("close");
}

/// Time from a filter change to the published histogram of the shown view, complete
/// (the filter's pass, then the count of every row it lists), as the filter figures
/// are taken; and the longest step of the backend on the way.
fn histogram_recompute(engine: &mut Engine, records: u64) {
    // Lists every record (those without a level count as INFO), through a filter pass.
    let every_record = Filter {
        min_level: Level::Trace,
        ..Filter::default()
    };
    let views = [
        (30, ViewKind::Logs, Counted::Logs),
        (31, ViewKind::Traces, Counted::Spans),
    ];
    for (tab, view, counted) in views {
        let started = Instant::now();
        show_tab(engine, tab, every_record.clone(), view);
        let mut longest_step = Duration::ZERO;
        let total = loop {
            let step = Instant::now();
            engine.step();
            longest_step = longest_step.max(step.elapsed());
            let snapshot = engine.snapshot();
            if let Some(histogram) = snapshot
                .histogram
                .filter(|h| h.complete && h.counted == counted)
            {
                break histogram.total;
            }
        };
        let what = match counted {
            Counted::Logs => "log records",
            Counted::Spans => "spans",
        };
        let size = if records.is_multiple_of(1_000_000) {
            format!("{}M", records / 1_000_000)
        } else {
            records.to_string()
        };
        println!(
            "histogram recompute after a filter change, {size} records: {}   ({total} {what} counted; longest step {})",
            ms(started.elapsed()),
            ms(longest_step)
        );
    }
}

/// Opens the data set as the app does, with the backend thread: the time until the
/// first rows are published, and until every record is in and the view is complete.
fn open_in_backend(dir: &Path, records: u64, runtime: &tokio::runtime::Runtime) {
    let rss_before = rss_bytes();
    let started = Instant::now();
    let mut connection =
        oculus_viewer::backend::spawn(options(dir), runtime.handle().clone(), || {})
            .expect("backend");
    connection.send(UiEvent::ShowTab {
        tab: 0,
        filter: Box::default(),
        version: 1,
    });
    connection.send(UiEvent::Viewport {
        tab: 0,
        view: ViewKind::Logs,
        top: 0,
        rows: 50,
        follow: true,
        selected: None,
        sort: oculus_viewer::snapshot::TraceSort::default(),
    });
    let mut first_rows = None;
    loop {
        if let Some(snapshot) = connection.take_snapshot() {
            if first_rows.is_none() && !snapshot.logs.rows.is_empty() {
                first_rows = Some(started.elapsed());
            }
            let status = &snapshot.status;
            if status.loading.is_none()
                && (status.logs + status.spans) as u64 == records
                && snapshot.logs.progress.is_none()
                && snapshot.logs.total == status.logs
            {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let loaded = started.elapsed();
    let rss_growth = rss_bytes().saturating_sub(rss_before);
    println!(
        "open the data directory: first rows shown        {}",
        ms(first_rows.unwrap_or(loaded))
    );
    println!(
        "open the data directory: all records, full view  {}   (target 3 s)",
        ms(loaded)
    );
    println!(
        "resident memory growth per record, text included {:.0} B",
        rss_growth as f64 / records as f64
    );
}

/// Time from a block's append (when the collector acknowledges it) to the backend
/// publishing it, while the viewer follows a live data directory. Appends come at
/// random times, as requests do, so that no timer of the viewer's is in step with them.
fn live_latency(dir: &Path, runtime: &tokio::runtime::Runtime) {
    const APPENDS: usize = 300;
    let live = dir.join("latency");
    let _ = std::fs::remove_dir_all(&live);
    std::fs::create_dir_all(&live).expect("latency dir");
    let mut connection = oculus_viewer::backend::spawn(
        BackendOptions {
            paths: vec![live.clone()],
            editor: EditorOptions::default(),
            collector: "bench".into(),
            arrivals: Arrivals::default(),
            receivers: None,
        },
        runtime.handle().clone(),
        || {},
    )
    .expect("backend");
    connection.send(UiEvent::ShowTab {
        tab: 0,
        filter: Box::default(),
        version: 1,
    });
    let (mut writer, _) = SessionWriter::open(&live, WriterOptions::default()).expect("session");
    let mut rng = Rng(3);
    let mut encoding = CollectorEncoding::new();
    let mut time = oculus_viewer::time::now_unix_nano();
    let mut shown = 0;
    let mut latencies = Vec::new();
    for _ in 0..APPENDS {
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        let (block, next) = block(&mut rng, "latency", 1, time);
        time = next;
        let encoded = encoding.encode(&block);
        let expected = shown + block.spans.len() + block.logs.len();
        writer.append(&encoded).expect("append");
        let appended = Instant::now();
        loop {
            if let Some(snapshot) = connection.take_snapshot() {
                let status = &snapshot.status;
                if status.logs + status.spans >= expected {
                    latencies.push(appended.elapsed());
                    shown = expected;
                    break;
                }
            }
            assert!(
                appended.elapsed() < Duration::from_secs(10),
                "a record never showed"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    writer.close().expect("close");
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "accepted record to published view ({} appends): p50 {}, p99 {}, max {}   (target 100 ms)",
        latencies.len(),
        ms(percentile(0.5)),
        ms(percentile(0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
}

/// A key the user presses to open a view for the frame-time figures.
#[derive(Clone, Copy)]
enum Press {
    Text(&'static str),
    Key(egui::Key),
    /// A click on the first widget whose label starts with this text.
    Click(&'static str),
}

/// A view whose frames are timed: the presses that open it from the log list, what
/// shows it is open, and the presses that bring the log list back.
struct FrameView {
    name: &'static str,
    open: &'static [Press],
    is_open: fn(&App) -> bool,
    close: &'static [Press],
}

const FRAME_VIEWS: &[FrameView] = &[
    FrameView {
        name: "log list",
        open: &[],
        is_open: |app| app.tab().view == ViewKind::Logs,
        close: &[],
    },
    FrameView {
        name: "trace list",
        open: &[Press::Text("t")],
        is_open: |app| app.tab().view == ViewKind::Traces && app.tab().open_trace.is_none(),
        close: &[Press::Text("t")],
    },
    FrameView {
        name: "operations",
        open: &[Press::Text("O")],
        is_open: |app| app.tab().analysis == Some(Analysis::Operations),
        close: &[Press::Text("O")],
    },
    FrameView {
        name: "metrics",
        // The earlier live runs sent the gauge: one of its series charted.
        open: &[Press::Text("M"), Press::Click("queue.depth {queue=q0")],
        is_open: |app| {
            app.tab().analysis == Some(Analysis::Metrics) && app.tab().metric_series.is_some()
        },
        close: &[Press::Text("M")],
    },
    FrameView {
        name: "open trace",
        open: &[
            Press::Text("t"),
            Press::Text("j"),
            Press::Key(egui::Key::Enter),
        ],
        is_open: |app| app.waterfall().is_some(),
        close: &[],
    },
    FrameView {
        name: "flame graph",
        open: &[Press::Text("F")],
        is_open: |app| app.waterfall().is_some() && app.flame(),
        close: &[
            Press::Text("F"),
            Press::Key(egui::Key::Escape),
            Press::Text("t"),
        ],
    },
];

/// Frame times of the real app (headless: egui's layout and our UI code, not the GPU)
/// over the data set while a writer adds 100k records per second, with each of
/// `FRAME_VIEWS` open in turn.
fn frame_times(dir: &Path, records: u64, runtime: &tokio::runtime::Runtime) {
    let live = dir.join("live");
    let _ = std::fs::remove_dir_all(&live);
    std::fs::create_dir_all(&live).expect("live dir");
    // The live runs go into their own data directory, opened beside the data set.
    let mut opts = options(dir);
    opts.paths.push(live.clone());
    let repaints = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&repaints);
    let connection = oculus_viewer::backend::spawn(opts, runtime.handle().clone(), move || {
        counter.fetch_add(1, Ordering::Relaxed);
    })
    .expect("backend");
    let app = App::new(connection, 2);
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(u64::MAX)
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    // Wait for the whole data set to be loaded and shown.
    loop {
        let snapshot = harness.state().snapshot();
        let status = &snapshot.status;
        if status.loading.is_none()
            && (status.logs + status.spans) as u64 >= records
            && snapshot.logs.progress.is_none()
        {
            break;
        }
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    for (seed, view) in FRAME_VIEWS.iter().enumerate() {
        press(&mut harness, view.open);
        // Let the view's first computation end before the clock starts.
        for _ in 0..200 {
            harness.step();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!((view.is_open)(harness.state()), "{} is open", view.name);
        frames_while_records_arrive(&mut harness, &live, view.name, 20 + seed as u64, &repaints);
        press(&mut harness, view.close);
    }
}

fn press(harness: &mut egui_kittest::Harness<'_, App>, presses: &[Press]) {
    for press in presses {
        match *press {
            Press::Text(text) => harness.event(egui::Event::Text(text.into())),
            Press::Key(key) => harness.key_press(key),
            Press::Click(label) => {
                // The view's first publish may take a few frames.
                for _ in 0..400 {
                    if harness.query_all_by_label_contains(label).next().is_some() {
                        break;
                    }
                    harness.step();
                    std::thread::sleep(Duration::from_millis(5));
                }
                harness
                    .get_all_by_label_contains(label)
                    .next()
                    .expect("a widget with the label")
                    .click();
            }
        }
        harness.step();
    }
}

/// Steps frames as a 120 Hz display asks for them for ten seconds while a writer adds
/// 100k records a second to a new run under `live`, and prints their times.
fn frames_while_records_arrive(
    harness: &mut egui_kittest::Harness<'_, App>,
    live: &Path,
    view: &str,
    seed: u64,
    repaints: &AtomicU64,
) {
    const RATE: u64 = 100_000;
    const SECONDS: u64 = 10;
    let stop = Arc::new(AtomicBool::new(false));
    let writer_stop = Arc::clone(&stop);
    let run = live.to_path_buf();
    let writer = std::thread::Builder::new()
        .name("live-writer".into())
        .spawn(move || write_records(&run, RATE * SECONDS, Some(RATE), &writer_stop, seed))
        .expect("writer thread");
    let shown = |harness: &egui_kittest::Harness<'_, App>| {
        let status = &harness.state().snapshot().status;
        status.logs + status.spans
    };
    let before = shown(harness);
    let publishes_before = repaints.load(Ordering::Relaxed);
    let mut frames = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(SECONDS) {
        let frame_start = Instant::now();
        harness.step();
        frames.push(frame_start.elapsed());
        if let Some(rest) = Duration::from_micros(8_333).checked_sub(frame_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    let after = shown(harness);
    frames.sort();
    let percentile = |p: f64| frames[((frames.len() - 1) as f64 * p) as usize];
    println!(
        "UI frame time, {view:<16} while {}k records/s arrive (headless, {} frames): p50 {}, p99 {}, max {}   (target p99 8 ms)",
        RATE / 1000,
        frames.len(),
        ms(percentile(0.5)),
        ms(percentile(0.99)),
        ms(*frames.last().unwrap_or(&Duration::ZERO)),
    );
    println!(
        "  records written {written}, shown by the end {}, backend publishes {}",
        after - before,
        repaints.load(Ordering::Relaxed) - publishes_before
    );
}

/// The Metrics view built again from a full store: 5 services of 20 instruments of 10
/// series, each at its cap of points (a gauge's values; a sparkline each, one chart).
fn metrics_view() {
    use oculus_otlp::metric::{Metric, MetricKind, Point, PointValue};
    use oculus_viewer::filter::CompiledFilter;
    use oculus_viewer::metrics::{MAX_POINTS_PER_SERIES, SeriesId};
    use oculus_viewer::model::Index;

    let mut index = Index::default();
    for service in SERVICES {
        let service = index.strings.intern(service);
        for instrument in 0..20 {
            let points = (0..10u64)
                .flat_map(|series| {
                    (0..MAX_POINTS_PER_SERIES as u64).map(move |t| Point {
                        attributes: vec![("series".into(), series.to_string())],
                        time_unix_nano: 1_000_000_000 * (t + 1),
                        value: PointValue::Double((t % 100) as f64),
                        ..Point::default()
                    })
                })
                .collect();
            let metric = Metric {
                name: format!("instrument.{instrument}"),
                kind: MetricKind::Gauge,
                points,
                ..Metric::default()
            };
            index.metrics.add(service, 0, &metric);
        }
    }
    let mut filter = CompiledFilter::new(&Filter::default());
    let selected = Some(SeriesId {
        instrument: 0,
        series: 0,
    });
    let started = Instant::now();
    let view = oculus_viewer::metric_projection::build(&index, &mut filter, selected);
    let took = started.elapsed();
    let series: usize = view
        .services
        .iter()
        .flat_map(|s| &s.instruments)
        .map(|i| i.series.len())
        .sum();
    println!(
        "metrics view rebuild ({series} series, {} points)    {:>9}",
        index.metrics.points(),
        ms(took)
    );
}
