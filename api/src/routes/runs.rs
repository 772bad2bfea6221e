//! Runs: start (with `Idempotency-Key`), list, get with steps, cancel, retry, rerun.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bacon_engine::ids::{FlowId, RunId};
use bacon_engine::runs::engine::Started;
use bacon_engine::runs::status::{RunStatus, RunTrigger, StepStatus};
use bacon_engine::store;
use bacon_engine::store::runs::{Run, Step};
use bacon_engine::tenancy::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_run))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(retry_run))
        .routes(routes!(rerun_run))
}

/// Start a run.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"input": {"orderId": "1001"}}))]
pub struct CreateRunRequest {
    /// The run's input, an object (default `{}`): templates see it as `input`.
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Map<String, Value>>,
    /// Run this version instead of the current one.
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

/// Re-run from the trigger.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RerunRequest {
    /// Run this version instead of the flow's current one.
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

// The OpenAPI face of the engine's `RunStatus` and `StepStatus`, which the API uses as they
// are: the engine stays free of the API framework. A test keeps the names equal.

/// Run states.
#[derive(Serialize, ToSchema)]
#[schema(as = RunStatus)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Documentation only.
enum RunStatusSchema {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// Step states.
#[derive(Serialize, ToSchema)]
#[schema(as = StepStatus)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Documentation only.
enum StepStatusSchema {
    Pending,
    Running,
    Retrying,
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

/// How a run was started: `manual` (the API, or a rerun), `webhook` (a plain webhook delivery),
/// `plugin` (a vendor's webhook, verified by its plugin), `schedule`, or `subflow` (a parent
/// run's `subflow` node: see `parentRunId`).
#[derive(Serialize, ToSchema)]
#[schema(as = RunTrigger)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Documentation only.
enum RunTriggerSchema {
    Manual,
    Webhook,
    Plugin,
    Schedule,
    Subflow,
}

/// One node execution of a run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepResponse {
    /// `step_` followed by a ULID.
    pub id: String,
    pub node_id: String,
    /// `plugin_action`, `delay`, `ai_context`, `subflow` or `wait`. A `map` item's steps have
    /// the node id `<map>[<index>].<node>`.
    pub node_type: String,
    #[schema(value_type = StepStatusSchema)]
    pub status: StepStatus,
    /// Attempts made so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// The rendered payload of the last attempt.
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// `{kind, message}` of the last failure.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// When a retrying step runs next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Step> for StepResponse {
    fn from(s: Step) -> Self {
        Self {
            id: s.id,
            node_id: s.node_id,
            node_type: s.node_type,
            status: s.status,
            attempts: s.attempt,
            max_attempts: s.max_attempts,
            input: s.input,
            output: s.output,
            error: s.error,
            next_attempt_at: s.next_attempt_at,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

/// A run and (when read one at a time) its steps.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResponse {
    /// `run_` followed by a ULID.
    pub id: String,
    pub flow_id: String,
    /// The flow version the run is pinned to.
    pub flow_version: i32,
    #[schema(value_type = RunStatusSchema)]
    pub status: RunStatus,
    pub idempotency_key: Option<String>,
    #[schema(value_type = Object)]
    pub input: Value,
    /// The event that started the run (a verified webhook delivery), when a trigger started it.
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    /// How the run was started; null for runs started before this was recorded.
    #[schema(value_type = Option<RunTriggerSchema>)]
    pub trigger_kind: Option<RunTrigger>,
    /// Variables set by `transform` nodes.
    #[schema(value_type = Object)]
    pub vars: Value,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// For a child run (started by a `subflow` node): its parent run and the parent's step.
    pub parent_run_id: Option<String>,
    pub parent_step_id: Option<String>,
    /// A synchronous webhook's answer, `{status, headers, body}`, once a `respond` node set it.
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    pub steps: Vec<StepResponse>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn run_response(run: Run, steps: Vec<Step>) -> RunResponse {
    RunResponse {
        id: run.id,
        flow_id: run.flow_id,
        flow_version: run.flow_version,
        status: run.status,
        idempotency_key: run.idempotency_key,
        input: run.input,
        trigger: run.trigger,
        trigger_kind: run.trigger_kind,
        vars: run.vars,
        error: run.error,
        parent_run_id: run.parent.as_ref().map(|p| p.run_id.clone()),
        parent_step_id: run.parent.map(|p| p.step_id),
        response: run.response,
        steps: steps.into_iter().map(Into::into).collect(),
        created_at: run.created_at,
        finished_at: run.finished_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunList {
    /// Runs without their steps (read one run for its steps).
    pub items: Vec<RunResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `?flowId=&status=&limit=&cursor=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct RunListParams {
    pub flow_id: Option<String>,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// Runs created at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Runs created before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// `manual`, `webhook`, `plugin`, `schedule` or `subflow`: how the runs were started.
    pub trigger_kind: Option<String>,
    /// The child runs of this run (`run_…`), started by its `subflow` nodes.
    pub parent_run_id: Option<String>,
    /// Runs whose error contains this text (case-insensitive, up to 200 characters).
    #[param(max_length = 200)]
    pub error: Option<String>,
    /// `newest` (default) or `oldest` first; a cursor continues in the order it was made for.
    #[param(inline)]
    pub order: Option<RunOrder>,
    /// How many runs to return (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// The order of a run list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunOrder {
    #[default]
    Newest,
    Oldest,
}

pub(crate) async fn with_steps(state: &AppState, run: Run) -> Result<RunResponse, ApiError> {
    let steps = store::runs::steps_of(&state.db, &run.id).await?;
    Ok(run_response(run, steps))
}

/// Start a run of a flow (202). The same `Idempotency-Key` returns the same run (200) instead of
/// starting another. Steps execute in the background; poll the run to follow them.
#[utoipa::path(post, path = "/v1/flows/{flowId}/runs", tag = "runs", operation_id = "create_run",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)"),
           ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,200}$",
               description = "Repeat-safe key (1 to 200 visible ASCII characters): the same key returns the same run")),
    request_body = CreateRunRequest,
    responses((status = 202, description = "The run started", body = RunResponse),
              (status = 200, description = "A run with this Idempotency-Key already exists", body = RunResponse)))]
pub async fn create_run(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateRunRequest>,
) -> Result<(StatusCode, ApiJson<RunResponse>), ApiError> {
    key.require(Role::Editor)?;
    let flow: FlowId = parse_id(&flow_id)?;
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => {
            let text = v.to_str().unwrap_or_default().trim().to_string();
            if text.is_empty() || text.len() > 200 {
                return Err(ApiError::BadRequest {
                    code: "invalid_idempotency_key",
                    detail: "Idempotency-Key must be 1 to 200 visible characters".into(),
                });
            }
            Some(text)
        }
        None => None,
    };
    let input = Value::Object(body.input.unwrap_or_default());
    let (run, created) =
        state.runs.start(key.tenant_id, flow, body.version, input, Started::manual(), idempotency_key).await?;
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, ApiJson(with_steps(&state, run).await?)))
}

/// Search runs: by flow, status, creation time and error text, newest first unless
/// `order=oldest`; pages are stable under inserts.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", operation_id = "list_runs",
    params(RunListParams),
    responses((status = 200, description = "A page of runs", body = RunList)))]
pub async fn list_runs(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiQuery(params): ApiQuery<RunListParams>,
) -> Result<ApiJson<RunList>, ApiError> {
    let limit = super::pagination::page_size(params.limit)?;
    let cursor = super::pagination::cursor::<RunId>(params.cursor.as_deref())?.and_then(|c| c.parse::<RunId>().ok());
    let status = match params.status.as_deref() {
        Some(text) => Some(text.parse::<RunStatus>().map_err(|_| ApiError::BadRequest {
            code: "invalid_query",
            detail: format!(
                "`status` must be one of {}, not `{}`",
                RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                text.chars().take(40).collect::<String>()
            ),
        })?),
        None => None,
    };
    let trigger_kind = match params.trigger_kind.as_deref() {
        Some(text) => Some(text.parse::<RunTrigger>().map_err(|_| ApiError::BadRequest {
            code: "invalid_query",
            detail: format!(
                "`triggerKind` must be one of {}, not `{}`",
                RunTrigger::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                text.chars().take(40).collect::<String>()
            ),
        })?),
        None => None,
    };
    let flow = match &params.flow_id {
        Some(text) => Some(parse_id::<FlowId>(text)?),
        None => None,
    };
    let parent = match &params.parent_run_id {
        Some(text) => Some(parse_id::<RunId>(text)?),
        None => None,
    };
    if params.error.as_ref().is_some_and(|e| e.chars().count() > 200) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: "`error` must be at most 200 characters".into(),
        });
    }
    let query = store::runs::RunQuery {
        flow,
        status,
        since: params.since,
        until: params.until,
        error_contains: params.error,
        trigger_kind,
        parent,
        oldest_first: params.order == Some(RunOrder::Oldest),
        cursor,
    };
    let page = store::runs::list(&state.db, key.tenant_id, query, limit).await?;
    Ok(ApiJson(RunList {
        items: page.items.into_iter().map(|r| run_response(r, Vec::new())).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get a run with its steps: status, attempts, timings, output, error.
#[utoipa::path(get, path = "/v1/runs/{runId}", tag = "runs", operation_id = "get_run",
    params(("runId" = String, Path, description = "The run id (`run_…`)")),
    responses((status = 200, description = "The run", body = RunResponse)))]
pub async fn get_run(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(run_id): Path<String>,
) -> Result<ApiJson<RunResponse>, ApiError> {
    let id: RunId = parse_id(&run_id)?;
    let run = store::runs::get(&state.db, key.tenant_id, id).await?;
    Ok(ApiJson(with_steps(&state, run).await?))
}

/// Cancel a running run: steps not yet started will not run.
#[utoipa::path(post, path = "/v1/runs/{runId}/cancel", tag = "runs", operation_id = "cancel_run",
    params(("runId" = String, Path, description = "The run id (`run_…`)")),
    responses((status = 200, description = "The run is cancelled", body = RunResponse),
              (status = 409, description = "The run is not running", body = crate::error::Problem,
                content_type = "application/problem+json")))]
pub async fn cancel_run(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(run_id): Path<String>,
) -> Result<ApiJson<RunResponse>, ApiError> {
    key.require(Role::Editor)?;
    let id: RunId = parse_id(&run_id)?;
    let run = state.runs.cancel(key.tenant_id, id).await?;
    Ok(ApiJson(with_steps(&state, run).await?))
}

/// Retry a failed run from its failed steps; steps that succeeded are not run again.
#[utoipa::path(post, path = "/v1/runs/{runId}/retry", tag = "runs", operation_id = "retry_run",
    params(("runId" = String, Path, description = "The run id (`run_…`)")),
    responses((status = 202, description = "The run is running again", body = RunResponse),
              (status = 409, description = "The run has not failed", body = crate::error::Problem,
                content_type = "application/problem+json")))]
pub async fn retry_run(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(run_id): Path<String>,
) -> Result<(StatusCode, ApiJson<RunResponse>), ApiError> {
    key.require(Role::Editor)?;
    let id: RunId = parse_id(&run_id)?;
    let run = state.runs.retry(key.tenant_id, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(with_steps(&state, run).await?)))
}

/// Start a new run with this run's input, from the trigger, on `version` (default: current).
#[utoipa::path(post, path = "/v1/runs/{runId}/rerun", tag = "runs", operation_id = "rerun_run",
    params(("runId" = String, Path, description = "The run id (`run_…`)")),
    request_body = RerunRequest,
    responses((status = 202, description = "The new run", body = RunResponse)))]
pub async fn rerun_run(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(run_id): Path<String>,
    ApiJson(body): ApiJson<RerunRequest>,
) -> Result<(StatusCode, ApiJson<RunResponse>), ApiError> {
    key.require(Role::Editor)?;
    let id: RunId = parse_id(&run_id)?;
    let run = state.runs.rerun(key.tenant_id, id, body.version).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(with_steps(&state, run).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn the_documented_statuses_are_the_engines() {
        let documented = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            serde_json::to_value(schema).unwrap()["enum"].clone()
        };
        let names = |all: Vec<&str>| serde_json::json!(all);
        assert_eq!(documented(RunStatusSchema::schema()), names(RunStatus::ALL.iter().map(|s| s.as_str()).collect()));
        assert_eq!(documented(StepStatusSchema::schema()), names(StepStatus::ALL.iter().map(|s| s.as_str()).collect()));
        assert_eq!(documented(RunTriggerSchema::schema()), names(RunTrigger::ALL.iter().map(|s| s.as_str()).collect()));
    }
}
