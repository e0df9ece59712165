//! The viewer's answers while its own collector takes a burst: how long after the user
//! types a search the backend has taken it, shows its first rows and completes it, while
//! real OTLP/gRPC clients send 250,000 records a second to the collector `oculus`
//! embeds. `cargo bench -p oculus --bench under_load`; `OCULUS_BENCH_RATE` and
//! `OCULUS_BENCH_PREFILL` change the rate and the records stored before the searches.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oculus_collector::{Collector, Config};
use oculus_loadgen::data::Generator;
use oculus_viewer::BackendOptions;
use oculus_viewer::connection::Connection;
use oculus_viewer::editor::EditorOptions;
use oculus_viewer::filter::Filter;
use oculus_viewer::snapshot::{Snapshot, TraceSort, UiEvent, ViewKind};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;

// As in the `oculus` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records per export request, as an SDK's batch processor sends them.
const BATCH: usize = 1000;
/// Distinct requests sent over and over, so generating them costs nothing while sending.
const POOL: usize = 200;
/// Requests in flight at once.
const IN_FLIGHT: usize = 8;
/// Searches typed, one character at a time, during the burst.
const SEARCHES: usize = 8;
/// A fast typist: a key every 120 ms.
const KEY_INTERVAL: Duration = Duration::from_millis(120);
/// How long a search may take before the benchmark fails.
const GIVE_UP: Duration = Duration::from_secs(60);
/// What users search for: messages of every few hundred records, and nothing at all.
const TERMS: [&str; 4] = [
    "shipment created",
    "cache miss for key",
    "promo code SPRING",
    "zebra crossing",
];
/// The newest match of a term above is surely among this many newest records.
const NEWEST_MATCH_WITHIN: usize = 20_000;

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "under-load benchmark: skipped (run it with `cargo bench -p oculus --bench under_load`)"
        );
        return;
    }
    let rate: u64 = env_number("OCULUS_BENCH_RATE", 250_000);
    let prefill: u64 = env_number("OCULUS_BENCH_PREFILL", 2_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    // As `oculus` runs: two I/O workers for the collector and the editor.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let collector = runtime
        .block_on(Collector::start(Config::new(
            any_port,
            any_port,
            dir.path().to_path_buf(),
        )))
        .expect("collector");
    let endpoint = format!("http://{}", collector.grpc_addr());
    println!("oculus under load: {prefill} records stored, then {rate} records/s arriving");

    let pool = Arc::new(RequestPool::generate());
    send(&endpoint, &pool, prefill, None, &AtomicBool::new(false));
    let mut connection = open_viewer(dir.path(), &runtime);
    let mut last = wait_for(&mut connection, "the stored records", |s| {
        (s.status.logs + s.status.spans) as u64 >= prefill
            && s.status.loading.is_none()
            && s.logs.progress.is_none()
    });

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (endpoint, pool, stop, sent) = (
            endpoint.clone(),
            Arc::clone(&pool),
            Arc::clone(&stop),
            Arc::clone(&sent),
        );
        std::thread::Builder::new()
            .name("otlp-client".into())
            .spawn(move || {
                let records = send(&endpoint, &pool, u64::MAX, Some(rate), &stop);
                sent.store(records, Ordering::Relaxed);
            })
            .expect("client thread")
    };
    // Let the burst settle in before the user acts.
    std::thread::sleep(Duration::from_secs(2));
    let shown_before = last.status.logs + last.status.spans;
    let started = Instant::now();

    let mut handled = Vec::new();
    let mut first_rows = Vec::new();
    let mut complete = Vec::new();
    let mut version = 1;
    let mut unanswered = 0;
    for search in 0..SEARCHES {
        let term = TERMS[search % TERMS.len()];
        // Typed a key at a time, as the filter bar sends it.
        // The next key comes whether or not the last one was answered; a key not
        // answered by then counts as answered then (a lower bound).
        for end in 1..=term.len() {
            version += 1;
            let typed = Instant::now();
            show(&mut connection, version, &term[..end]);
            let last_key = end == term.len();
            let until = typed + if last_key { GIVE_UP } else { KEY_INTERVAL };
            let timing = time_answer(&mut connection, version, &mut last, until);
            handled.push(timing.handled.unwrap_or(KEY_INTERVAL));
            unanswered += usize::from(timing.handled.is_none());
            if !last_key {
                continue;
            }
            match timing.first_rows {
                Some(first) => first_rows.push(first),
                None => assert!(
                    term.starts_with("zebra"),
                    "the newest {NEWEST_MATCH_WITHIN} records had no {term:?}"
                ),
            }
            complete.push(
                timing
                    .complete
                    .expect("every search completes within a minute"),
            );
        }
        // Back to the unfiltered live list between searches.
        version += 1;
        show(&mut connection, version, "");
        time_answer(
            &mut connection,
            version,
            &mut last,
            Instant::now() + GIVE_UP,
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = started.elapsed();
    let shown = last.status.logs + last.status.spans - shown_before;
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("client");
    runtime
        .block_on(collector.shutdown())
        .expect("collector shutdown");

    println!(
        "records arriving while the user typed            {:.0}/s shown ({} sent in all)",
        shown as f64 / elapsed.as_secs_f64(),
        sent.load(Ordering::Relaxed)
    );
    print_percentiles(
        "each key handled (the snapshot says so)       ",
        &mut handled,
        "target one step",
    );
    println!(
        "keys not answered before the next one           {unanswered} of {}",
        handled.len()
    );
    print_percentiles(
        "first rows of a search (the newest, followed) ",
        &mut first_rows,
        "target 100 ms",
    );
    print_percentiles(
        "search complete                                ",
        &mut complete,
        "",
    );
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Requests of real shape (loadgen's services), 60 % logs and 40 % spans.
struct RequestPool {
    logs: Vec<ExportLogsServiceRequest>,
    traces: Vec<ExportTraceServiceRequest>,
}

impl RequestPool {
    fn generate() -> Self {
        let mut generator = Generator::new(17);
        let logs = (0..POOL * 3 / 5)
            .map(|_| generator.logs_request(BATCH))
            .collect();
        let traces = (0..POOL * 2 / 5)
            .map(|_| generator.traces_request(BATCH))
            .collect();
        Self { logs, traces }
    }
}

/// Sends `records` records from the pool, `rate` a second if given, until `stop`;
/// returns how many were acknowledged.
fn send(
    endpoint: &str,
    pool: &RequestPool,
    records: u64,
    rate: Option<u64>,
    stop: &AtomicBool,
) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let channel = Channel::from_shared(endpoint.to_owned())
            .expect("endpoint")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        let logs = LogsServiceClient::new(channel.clone());
        let traces = TraceServiceClient::new(channel);
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut requests = 0u64;
        while requests * (BATCH as u64) < records && !stop.load(Ordering::Relaxed) {
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64((requests * BATCH as u64) as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("semaphore");
            let acknowledged = Arc::clone(&acknowledged);
            let i = requests as usize;
            // Five requests in turn: three of logs, two of spans.
            if i % 5 < 3 {
                let request = pool.logs[(i / 5 * 3 + i % 5) % pool.logs.len()].clone();
                let mut client = logs.clone();
                tokio::spawn(async move {
                    if client.export(request).await.is_ok() {
                        acknowledged.fetch_add(BATCH as u64, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            } else {
                let request = pool.traces[(i / 5 * 2 + i % 5 - 3) % pool.traces.len()].clone();
                let mut client = traces.clone();
                tokio::spawn(async move {
                    if client.export(request).await.is_ok() {
                        acknowledged.fetch_add(BATCH as u64, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
            requests += 1;
        }
        // Every request answered before the count is read.
        let _all = permits
            .acquire_many(IN_FLIGHT as u32)
            .await
            .expect("semaphore");
        acknowledged.load(Ordering::Relaxed)
    })
}

fn open_viewer(data_dir: &Path, runtime: &tokio::runtime::Runtime) -> Connection {
    let mut connection = oculus_viewer::backend::spawn(
        BackendOptions {
            paths: vec![data_dir.to_path_buf()],
            editor: EditorOptions::default(),
            collector: "bench".into(),
            receivers: None,
            arrivals: oculus_viewer::Arrivals::default(),
        },
        runtime.handle().clone(),
        || {},
    )
    .expect("backend");
    show(&mut connection, 1, "");
    connection
}

/// What the filter bar sends when the search field reads `search`: the tab's filter,
/// then the list's viewport, following the newest records.
fn show(connection: &mut Connection, version: u64, search: &str) {
    connection.send(UiEvent::ShowTab {
        tab: 0,
        filter: Box::new(Filter {
            search: search.to_owned(),
            ..Filter::default()
        }),
        version,
    });
    connection.send(UiEvent::Viewport {
        tab: 0,
        view: ViewKind::Logs,
        top: 0,
        rows: 50,
        follow: true,
        selected: None,
        sort: TraceSort::default(),
    });
}

/// When the backend answered, as far as it did by the deadline.
struct Timing {
    handled: Option<Duration>,
    first_rows: Option<Duration>,
    complete: Option<Duration>,
}

/// Times the backend's snapshots for the filter of `version`: taken, first rows shown
/// (the newest matches, where a list that follows the newest records shows them),
/// complete.
fn time_answer(
    connection: &mut Connection,
    version: u64,
    last: &mut Snapshot,
    until: Instant,
) -> Timing {
    let sent = Instant::now();
    let newest_before = last.status.logs;
    let (mut handled, mut first_rows) = (None, None);
    loop {
        if let Some(snapshot) = connection.take_snapshot() {
            *last = snapshot;
        }
        if last.version == version {
            handled.get_or_insert_with(|| sent.elapsed());
            let newest_shown = last.logs.rows.last().map(|row| row.index as usize);
            if newest_shown.is_some_and(|i| i + NEWEST_MATCH_WITHIN >= newest_before) {
                first_rows.get_or_insert_with(|| sent.elapsed());
            }
            if last.logs.progress.is_none() {
                return Timing {
                    handled,
                    first_rows,
                    complete: Some(sent.elapsed()),
                };
            }
        }
        if Instant::now() >= until {
            return Timing {
                handled,
                first_rows,
                complete: None,
            };
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn wait_for(connection: &mut Connection, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let started = Instant::now();
    loop {
        if let Some(snapshot) = connection.take_snapshot()
            && done(&snapshot)
        {
            return snapshot;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn print_percentiles(what: &str, times: &mut [Duration], target: &str) {
    times.sort();
    let at = |p: f64| {
        times
            .get(((times.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what} p50 {:>7.1} ms, p99 {:>7.1} ms, max {:>7.1} ms  ({} samples){}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(times.last().copied().unwrap_or_default()),
        times.len(),
        if target.is_empty() {
            String::new()
        } else {
            format!("   ({target})")
        }
    );
}
