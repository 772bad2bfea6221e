//! The audit log: one row per plugin action attempt, secrets scrubbed.

use axum::extract::State;
use bacon_engine::ids::AuditId;
use bacon_engine::store;
use bacon_engine::store::audit::{AuditEntry, AuditFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_entries))
}

/// Filters; every one is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditParams {
    pub run_id: Option<String>,
    pub plugin_id: Option<String>,
    pub action: Option<String>,
    /// `success` or a failure kind (`retryable`, `permanent`, `timed_out`, …).
    pub outcome: Option<String>,
    /// Only rows at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only rows before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// How many rows to return (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// One audited attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryResponse {
    pub id: String,
    /// `invoke`, `test_connection`, `flow_step`, …
    pub kind: String,
    pub plugin_id: Option<String>,
    pub action: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    pub attempt: i32,
    pub outcome: String,
    pub duration_ms: i64,
    /// The failure, with secrets scrubbed.
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            plugin_id: e.plugin_id,
            action: e.action,
            run_id: e.run_id,
            step_id: e.step_id,
            attempt: e.attempt,
            outcome: e.outcome,
            duration_ms: e.duration_ms,
            error: e.error,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryList {
    pub items: Vec<AuditEntryResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List the tenant's audit rows, oldest first, filtered by run, plugin, action, outcome, time.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", operation_id = "list_audit_entries",
    params(AuditParams),
    responses((status = 200, description = "A page of audit rows", body = AuditEntryList)))]
pub async fn list_audit_entries(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<ApiJson<AuditEntryList>, ApiError> {
    let limit = super::pagination::page_size(params.limit)?;
    let cursor = super::pagination::cursor::<AuditId>(params.cursor.as_deref())?;
    let filter = AuditFilter {
        run_id: params.run_id,
        plugin_id: params.plugin_id,
        action: params.action,
        outcome: params.outcome,
        since: params.since,
        until: params.until,
    };
    let page = store::audit::list(&state.db, key.tenant_id, &filter, cursor, limit).await?;
    Ok(ApiJson(AuditEntryList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}
