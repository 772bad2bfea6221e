//! Liveness, readiness and metrics: unauthenticated, for load balancers and Prometheus.

use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use bacon_engine::database::{self, Readiness};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

/// How long a readiness check may wait for the database. Probes give up after 1 s (Kubernetes'
/// default `timeoutSeconds`); answering 503 just before that says "not ready" instead of leaving
/// the prober to time out, and a database slower than this is not ready to serve traffic anyway.
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(750);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_health)).routes(routes!(get_readiness)).routes(routes!(get_metrics))
}

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: String,
}

/// The server can serve traffic: its database answers and is fully migrated.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// Always `ready` (otherwise the answer is a 503 problem).
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// Liveness: answers 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "get_health",
    responses((status = 200, description = "The process is up", body = HealthResponse)))]
pub async fn get_health() -> ApiJson<HealthResponse> {
    ApiJson(HealthResponse { status: "ok".into() })
}

/// Readiness: 200 when the database is reachable and every migration is applied, else 503.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "get_readiness",
    responses((status = 200, description = "Ready to serve", body = ReadinessResponse)))]
pub async fn get_readiness(State(state): State<AppState>) -> Result<ApiJson<ReadinessResponse>, ApiError> {
    let readiness =
        tokio::time::timeout(READINESS_TIMEOUT, database::readiness(&state.db)).await.unwrap_or(Readiness::Unreachable);
    match readiness {
        Readiness::Ready => Ok(ApiJson(ReadinessResponse {
            status: "ready".into(),
            database: database::backend_name(&state.db).into(),
        })),
        Readiness::Unreachable => Err(ApiError::DatabaseUnreachable(None)),
        Readiness::PendingMigrations(n) => Err(ApiError::Unavailable {
            code: "migrations_pending",
            detail: format!("{n} database migrations are not applied yet"),
        }),
    }
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "get_metrics",
    responses((status = 200, description = "Metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.scrape(&state.db).await
}
