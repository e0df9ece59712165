//! The simulated service: each call handles one `GET /orders/{id}` request.
//!
//! Behaviour is scripted by the request's sequence number (1-based) so runs are
//! reproducible: every 5th request hits a slow query (a `warn!`), every 7th
//! fails in the database (an `error!` and error status on both spans).

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use tracing::field::Empty;
use tracing::{Instrument as _, debug, error, info, info_span, trace, warn};

/// Queries slower than this many milliseconds log a warning.
const SLOW_QUERY_MS: u64 = 25;

const CATALOG: [(&str, u64); 6] = [
    ("apple", 199),
    ("book", 1_450),
    ("cable", 899),
    ("desk-lamp", 3_999),
    ("espresso-beans", 1_275),
    ("fountain-pen", 4_999),
];

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: &'static str,
    pub quantity: u64,
    pub unit_price_cents: u64,
}

/// An order as the fake database returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub customer: String,
    pub items: Vec<Item>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// The fake database dropped the connection.
    ConnectionLost { order_id: u64 },
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::ConnectionLost { order_id } => {
                write!(
                    f,
                    "connection to postgresql lost while loading order {order_id}"
                )
            }
        }
    }
}

impl std::error::Error for OrderError {}

/// What the handler answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub total_cents: Option<u64>,
}

/// The order id requested by request number `seq`.
pub fn order_id_for(seq: u64) -> u64 {
    1_000 + seq
}

/// Whether request number `seq` is scripted to fail.
pub fn fails(seq: u64) -> bool {
    seq.is_multiple_of(7)
}

/// Handles request number `seq` (1-based) inside a server span named
/// `GET /orders/{id}`, with child spans `SELECT orders`, `check_inventory`
/// and `compute_price`.
pub async fn handle_order(seq: u64) -> Response {
    let order_id = order_id_for(seq);
    let span = info_span!(
        "GET /orders/{id}",
        otel.kind = "server",
        http.request.method = "GET",
        http.route = "/orders/{id}",
        url.path = %format_args!("/orders/{order_id}"),
        order.id = order_id,
        request.seq = seq,
        http.response.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    let request = async {
        trace!(seq, "request received");
        debug!(order_id, "routing to the order handler");
        let response = match load_order(order_id, seq).await {
            Ok(order) => {
                info!(order_id, items = order.items.len(), customer = %order.customer, "loaded order");
                check_inventory(&order).await;
                let total_cents = compute_price(&order);
                info!(order_id, total_cents, "request completed");
                Response {
                    status: 200,
                    total_cents: Some(total_cents),
                }
            }
            Err(err) => {
                error!(order_id, error = %err, "request failed");
                let current = tracing::Span::current();
                current.record("otel.status_code", "ERROR");
                current.record("otel.status_description", err.to_string().as_str());
                Response {
                    status: 500,
                    total_cents: None,
                }
            }
        };
        tracing::Span::current().record("http.response.status_code", response.status);
        response
    };
    request.instrument(span).await
}

/// A database call shaped like a PostgreSQL client span.
#[tracing::instrument(
    name = "SELECT orders",
    skip_all,
    fields(
        otel.kind = "client",
        db.system.name = "postgresql",
        db.namespace = "shop",
        db.operation.name = "SELECT",
        db.collection.name = "orders",
        db.query.text = "SELECT id, customer, items FROM orders WHERE id = $1",
        server.address = "127.0.0.1",
        server.port = 5432,
        order.id = order_id,
        db.response.returned_rows = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
)]
async fn load_order(order_id: u64, seq: u64) -> Result<Order, OrderError> {
    debug!("acquired connection from pool");
    let started = Instant::now();
    let latency = if seq.is_multiple_of(5) {
        Duration::from_millis(40)
    } else {
        Duration::from_millis(2 + mix(order_id) % 8)
    };
    tokio::time::sleep(latency).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

    if fails(seq) {
        let err = OrderError::ConnectionLost { order_id };
        let current = tracing::Span::current();
        current.record("otel.status_code", "ERROR");
        current.record("otel.status_description", err.to_string().as_str());
        error!(error = %err, elapsed_ms, "query failed");
        return Err(err);
    }
    if elapsed_ms >= SLOW_QUERY_MS {
        warn!(elapsed_ms, threshold_ms = SLOW_QUERY_MS, "slow query");
    }

    let order = fake_order(order_id);
    tracing::Span::current().record("db.response.returned_rows", 1);
    debug!(elapsed_ms, rows = 1, "query returned");
    Ok(order)
}

/// Reserves stock for every line; a separate async child span.
#[tracing::instrument(skip_all, fields(order.id = order.id, items = order.items.len()))]
async fn check_inventory(order: &Order) {
    for item in &order.items {
        tokio::task::yield_now().await;
        trace!(sku = item.sku, quantity = item.quantity, "reserved stock");
    }
    // About one order in six drains a shelf, so warnings stay occasional.
    if mix(order.id ^ 0x570C).is_multiple_of(6)
        && let Some(item) = order.items.first()
    {
        warn!(
            sku = item.sku,
            quantity = item.quantity,
            "stock running low after reservation"
        );
    }
}

/// Prices the order; a synchronous child span.
#[tracing::instrument(skip_all, fields(order.id = order.id, currency = "EUR", price.total_cents = Empty))]
fn compute_price(order: &Order) -> u64 {
    let mut total = 0;
    for item in &order.items {
        let line = item.unit_price_cents * item.quantity;
        debug!(
            sku = item.sku,
            quantity = item.quantity,
            line_cents = line,
            "priced line"
        );
        total += line;
    }
    if order.items.len() >= 4 {
        // Bulk orders get 10 % off.
        let discount = total / 10;
        total -= discount;
        info!(discount_cents = discount, "bulk discount applied");
    }
    tracing::Span::current().record("price.total_cents", total);
    total
}

/// Deterministic order contents so runs are reproducible.
fn fake_order(order_id: u64) -> Order {
    let mut state = mix(order_id);
    let count = 1 + state % 5;
    let items = (0..count)
        .map(|_| {
            state = mix(state);
            let (sku, unit_price_cents) = CATALOG[(state % CATALOG.len() as u64) as usize];
            Item {
                sku,
                quantity: 1 + (state >> 8) % 3,
                unit_price_cents,
            }
        })
        .collect();
    Order {
        id: order_id,
        customer: format!("customer-{}", mix(order_id ^ 0xC0FFEE) % 500),
        items,
    }
}

/// SplitMix64 finalizer: cheap, well-spread pseudo-randomness without a dependency.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many requests to send and how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPlan {
    /// `None` runs until `stop` completes.
    pub iterations: Option<u64>,
    /// Pause between requests; zero sends back to back.
    pub interval: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub requests: u64,
    pub failed: u64,
}

/// Sends requests per `plan` until done or until `stop` completes (e.g. Ctrl-C).
/// A request in flight when `stop` fires is abandoned; its spans still end.
pub async fn run(plan: RunPlan, stop: impl Future<Output = ()>) -> RunSummary {
    let mut stop = std::pin::pin!(stop);
    let mut summary = RunSummary::default();
    loop {
        if plan.iterations.is_some_and(|n| summary.requests >= n) {
            break;
        }
        let seq = summary.requests + 1;
        let response = tokio::select! {
            biased;
            () = &mut stop => break,
            response = handle_order(seq) => response,
        };
        summary.requests = seq;
        if response.status >= 500 {
            summary.failed += 1;
        }
        if !plan.interval.is_zero() && plan.iterations != Some(seq) {
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = tokio::time::sleep(plan.interval) => {}
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_deterministic() {
        assert_eq!(fake_order(1_007), fake_order(1_007));
        assert!(!fake_order(1_001).items.is_empty());
    }

    #[tokio::test]
    async fn every_seventh_request_fails() {
        let plan = RunPlan {
            iterations: Some(14),
            interval: Duration::ZERO,
        };
        let summary = run(plan, std::future::pending()).await;
        assert_eq!(
            summary,
            RunSummary {
                requests: 14,
                failed: 2
            }
        );
    }
}
