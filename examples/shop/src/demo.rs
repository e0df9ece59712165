//! The whole demo in one command: a worker process, the front in this one, and a
//! customer placing orders through the front.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::net::TcpListener;

/// How long the worker may take to flush its telemetry and exit once told to stop.
const WORKER_EXIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(orders: u64) -> anyhow::Result<()> {
    let _telemetry = crate::front::telemetry();
    let mut worker = Command::new(std::env::current_exe().context("finding this program")?)
        .args(["worker", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the worker")?;
    // From here on an early return drops `worker` and with it its input: it then stops by itself.
    let stdout = worker.stdout.take().context("the worker's output")?;
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    let Some(worker_url) = first_line
        .trim_end()
        .strip_prefix("listening on ")
        .map(str::to_owned)
    else {
        let _ = worker.kill();
        bail!("the worker did not start");
    };

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let front_url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let front = tokio::spawn(crate::front::serve(listener, worker_url.clone(), async {
        // A dropped sender stops the front as well.
        let _ = stopped.await;
    }));
    println!("front {front_url}, worker {worker_url}");

    let customer = reqwest::Client::new();
    for order in 1..=orders {
        let response = customer
            .get(format!("{front_url}/checkout/{order}"))
            .send()
            .await
            .context("calling the front")?;
        let status = response.status();
        println!("{status}: {}", response.text().await.unwrap_or_default());
    }

    let _ = stop.send(());
    front.await.context("the front task")??;
    // Closing its input is the worker's signal to flush and exit.
    drop(worker.stdin.take());
    tokio::task::spawn_blocking(move || wait_for_exit(worker)).await?
}

fn wait_for_exit(mut worker: Child) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Some(status) = worker.try_wait()? {
            if !status.success() {
                bail!("the worker failed: {status}");
            }
            return Ok(());
        }
        if started.elapsed() > WORKER_EXIT_TIMEOUT {
            let _ = worker.kill();
            bail!("the worker did not stop within {WORKER_EXIT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
