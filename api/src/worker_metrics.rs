//! `/metrics` (and `/healthz`) of a `bacon-server worker` process, on `workers.metrics_bind`
//! when set: its attempt counters, histograms and takeovers, and the queue's depth read at each
//! scrape, in the same families as the API process's `/metrics` (`docs/operations.md`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use bacon_engine::metrics::WorkMetrics;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Binds `bind` and serves until `shutdown`; returns the bound address.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    bind: SocketAddr,
    db: DatabaseConnection,
    work: Arc<WorkMetrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await.with_context(|| format!("binding workers.metrics_bind {bind}"))?;
    let address = listener.local_addr().context("reading the metrics address")?;
    let state = (db, Arc::new(Metrics::new(work)));
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .with_state(state);
    tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "The workers' metrics endpoint stopped.");
        }
    });
    Ok(address)
}

async fn metrics(State((db, metrics)): State<(DatabaseConnection, Arc<Metrics>)>) -> impl IntoResponse {
    metrics.scrape(&db).await
}
