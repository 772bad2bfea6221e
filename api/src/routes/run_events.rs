//! `POST /v1/runs/{runId}/events/{name}`: resumes a run's `wait` node waiting for the event
//! `name`, with the request body as the node's output.

use axum::extract::{Path, State};
use bacon_engine::ids::RunId;
use bacon_engine::tenancy::Role;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::runs::{RunResponse, with_steps};
use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_event))
}

/// Send an event to a waiting run: its `wait` node for `name` (its `event`, or its id) takes the
/// body as its output, and the run goes on. The run answers as it stands after that step.
#[utoipa::path(post, path = "/v1/runs/{runId}/events/{name}", tag = "runs", operation_id = "send_run_event",
    params(("runId" = String, Path, description = "The run id (`run_…`)"),
           ("name" = String, Path, description = "The event name a `wait` node waits for")),
    request_body(content = Object, description = "Any JSON value: the wait node's output"),
    responses((status = 200, description = "The wait ended; the run as it now stands", body = RunResponse),
              (status = 409, description = "The run is not running (`invalid_run_state`) or waits for no event of this name (`not_waiting`)",
                body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn send_event(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path((run_id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiJson<RunResponse>, ApiError> {
    key.require(Role::Editor)?;
    let id: RunId = parse_id(&run_id)?;
    let run = state.runs.send_event(key.tenant_id, id, &name, body).await?;
    Ok(ApiJson(with_steps(&state, run).await?))
}
