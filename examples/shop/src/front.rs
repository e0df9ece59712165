//! The HTTP front: `GET /checkout/{order}` reserves each line of the order at the
//! worker, passing the trace on in the `traceparent` header, and prices the cart.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use tokio::net::TcpListener;
use tracing::{Instrument as _, debug, error, info, info_span, trace, warn};

use crate::catalog::{self, Line};

/// Starts the front's telemetry. The guard flushes when dropped.
pub fn telemetry() -> oculus_tracing::Guard {
    oculus_tracing::builder("shop-front")
        .filter("info,shop=trace")
        .init()
}

/// Serves the front until Ctrl-C, for trying it by hand with curl.
pub async fn serve_until_ctrl_c(listen: SocketAddr, worker: String) -> anyhow::Result<()> {
    let _telemetry = telemetry();
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("front on http://{listen}/checkout/1");
    let stop = async {
        // Without a signal handler the front serves until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    serve(listener, worker, stop).await
}

/// Serves the front on `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    worker: String,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/checkout/{order}", get(checkout))
        .with_state(Worker {
            base: worker,
            client: reqwest::Client::new(),
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .context("serving the front")
}

#[derive(Clone)]
struct Worker {
    base: String,
    client: reqwest::Client,
}

async fn checkout(
    State(worker): State<Worker>,
    Path(order): Path<u64>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let span = info_span!(
        "GET /checkout/{order}",
        otel.kind = "server",
        http.request.method = "GET",
        http.route = "/checkout/{order}",
        order.id = order,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    oculus_tracing::propagation::set_parent(&span, &headers);
    async {
        let lines = catalog::lines(order);
        debug!(lines = lines.len(), "cart loaded");
        let mut out_of_stock = Vec::new();
        for line in &lines {
            match worker.reserve(line).await {
                Ok(StatusCode::OK) => trace!(sku = %line.sku, "line reserved"),
                Ok(StatusCode::CONFLICT) => out_of_stock.push(line.sku.clone()),
                Ok(status) => return fail(order, &format!("worker answered {status}")),
                Err(error) => return fail(order, &format!("worker unreachable: {error}")),
            }
        }
        let (status, body) = if out_of_stock.is_empty() {
            let total_cents = price(&lines);
            info!(order, total_cents, "order placed");
            (
                StatusCode::OK,
                format!("order {order}: {total_cents} cents"),
            )
        } else {
            warn!(order, skus = ?out_of_stock, "order refused: out of stock");
            (
                StatusCode::CONFLICT,
                format!("order {order}: out of stock: {}", out_of_stock.join(", ")),
            )
        };
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        (status, body)
    }
    .instrument(span)
    .await
}

fn fail(order: u64, reason: &str) -> (StatusCode, String) {
    let span = tracing::Span::current();
    span.record("otel.status_code", "error");
    span.record("http.response.status_code", 502_u16);
    error!(order, reason, "order failed");
    (
        StatusCode::BAD_GATEWAY,
        format!("order {order} failed: {reason}"),
    )
}

fn price(lines: &[Line]) -> u64 {
    let _span = info_span!("price cart", lines = lines.len()).entered();
    let total = lines
        .iter()
        .map(|line| catalog::price_cents(&line.sku) * line.quantity)
        .sum();
    debug!(total_cents = total, "priced");
    total
}

impl Worker {
    /// One client span per call; its context travels in the request's headers.
    async fn reserve(&self, line: &Line) -> reqwest::Result<StatusCode> {
        let url = format!("{}/reserve/{}/{}", self.base, line.sku, line.quantity);
        let span = info_span!(
            "POST /reserve",
            otel.kind = "client",
            http.request.method = "POST",
            url.full = %url,
            http.response.status_code = tracing::field::Empty,
        );
        let mut headers = HeaderMap::new();
        oculus_tracing::propagation::inject(&span, &mut headers);
        async {
            let response = self.client.post(&url).headers(headers).send().await?;
            let status = response.status();
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            Ok(status)
        }
        .instrument(span)
        .await
    }
}
