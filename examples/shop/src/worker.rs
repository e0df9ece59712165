//! The stock worker: reserves items for the front. Its request spans continue the
//! front's trace, read from the `traceparent` header.

use std::io::Read as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tracing::{Instrument as _, debug, error, info, info_span, trace, warn};

use crate::catalog::{BROKEN_SKU, STOCK_PER_SKU};

/// Serves until Ctrl-C or the end of standard input (how the demo stops it), after
/// printing `listening on http://ADDR` as its first line of output.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    // Span events too, to show both forms: the worker's events are also in its spans.
    let _telemetry = oculus_tracing::builder("shop-worker")
        .filter("info,shop=trace")
        .span_events(true)
        .init();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    info!(%addr, "worker ready");
    let app = Router::new().route("/reserve/{sku}/{quantity}", post(reserve));
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await
        .context("serving")?;
    info!("worker stopped");
    Ok(())
}

async fn stopped() {
    let (ended, end_of_input) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: standard input has no async reader without more tokio features.
    let reader = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut buffer = [0_u8; 64];
            // Any read error ends input too.
            while matches!(std::io::stdin().read(&mut buffer), Ok(n) if n > 0) {}
            let _ = ended.send(());
        });
    if let Err(error) = reader {
        warn!(%error, "cannot watch standard input; only Ctrl-C stops the worker");
        let _ = tokio::signal::ctrl_c().await;
        return;
    }
    tokio::select! {
        _ = end_of_input => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn reserve(
    Path((sku, quantity)): Path<(String, u64)>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let span = info_span!(
        "POST /reserve/{sku}/{quantity}",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/reserve/{sku}/{quantity}",
        sku = %sku,
        quantity,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    oculus_tracing::propagation::set_parent(&span, &headers);
    async {
        let (status, body) = match lookup_stock(&sku).await {
            Err(reason) => {
                error!(sku = %sku, reason, "stock lookup failed");
                tracing::Span::current().record("otel.status_code", "error");
                (StatusCode::INTERNAL_SERVER_ERROR, reason.to_owned())
            }
            Ok(available) if available < quantity => {
                warn!(sku = %sku, available, quantity, "not enough stock");
                (StatusCode::CONFLICT, format!("only {available} left"))
            }
            Ok(available) => {
                info!(sku = %sku, quantity, left = available - quantity, "reserved");
                (StatusCode::OK, "reserved".to_owned())
            }
        };
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        (status, body)
    }
    .instrument(span)
    .await
}

async fn lookup_stock(sku: &str) -> Result<u64, &'static str> {
    let span = info_span!(
        "SELECT stock",
        otel.kind = "client",
        db.system.name = "postgresql",
        db.query.text = "SELECT available FROM stock WHERE sku = $1",
        otel.status_code = tracing::field::Empty,
    );
    async {
        trace!(sku, "query plan cached");
        tokio::time::sleep(Duration::from_millis(3)).await;
        if sku == BROKEN_SKU {
            tracing::Span::current().record("otel.status_code", "error");
            error!(sku, timeout_ms = 2, "query timed out");
            return Err("stock database timed out");
        }
        debug!(sku, rows = 1, "query done");
        Ok(STOCK_PER_SKU)
    }
    .instrument(span)
    .await
}
