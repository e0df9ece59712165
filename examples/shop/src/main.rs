//! `shop`: an HTTP front and a stock worker, two processes exporting to one collector,
//! whose traces join across the wire. `cargo run -p shop` starts both and places orders.

mod catalog;
mod demo;
mod front;
mod worker;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// Orders the demo places unless told otherwise.
const DEFAULT_ORDERS: u64 = 12;

#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(subcommand)]
    command: Option<Mode>,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Start a worker process and the front, place orders through the front, stop both
    /// (what runs without a subcommand).
    Demo {
        /// Orders to place.
        #[arg(long, default_value_t = DEFAULT_ORDERS)]
        orders: u64,
    },
    /// Serve the front until Ctrl-C: `GET /checkout/{order}` on `--listen`.
    Front {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The worker's base URL.
        #[arg(long)]
        worker: String,
    },
    /// Serve the stock worker until Ctrl-C or the end of its input: `POST /reserve/{sku}/{qty}`.
    Worker {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command.unwrap_or(Mode::Demo {
        orders: DEFAULT_ORDERS,
    }) {
        Mode::Demo { orders } => demo::run(orders).await,
        Mode::Front { listen, worker } => front::serve_until_ctrl_c(listen, worker).await,
        Mode::Worker { listen } => worker::serve(listen).await,
    }
}
