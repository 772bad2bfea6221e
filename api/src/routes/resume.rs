//! `POST /resume/{runId}/{nodeId}/{token}`: a signed resume link of a `wait` node with
//! `approval: true` (`resume.<nodeId>` in the templates of the steps before it). No API key:
//! the token is the credential, and opens that one wait only. The optional JSON body is the
//! wait's output.

use axum::body::Bytes;
use axum::extract::{Path, State};
use bacon_engine::StoreError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(resume_wait))
}

/// The run a resume link ended a wait of.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resumed {
    pub run_id: String,
    /// The run's status after the wait ended (`running` while later steps run).
    pub status: String,
}

/// End an approval wait through its signed link.
#[utoipa::path(post, path = "/resume/{runId}/{nodeId}/{token}", tag = "runs", operation_id = "resume_wait",
    params(("runId" = String, Path, description = "The run id (`run_…`)"),
           ("nodeId" = String, Path, description = "The `wait` node's id"),
           ("token" = String, Path, description = "The link's signature")),
    request_body(content = Option<Object>, description = "Optional JSON: the wait node's output (default `{}`)"),
    responses((status = 200, description = "The wait ended", body = Resumed),
              (status = 400, description = "The body is not JSON (`invalid_json`)",
                body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such link (a wrong or altered token, run or node)",
                body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, description = "The run has ended (`invalid_run_state`) or the node is not waiting (`not_waiting`)",
                body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn resume_wait(
    State(state): State<AppState>,
    Path((run_id, node_id, token)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<ApiJson<Resumed>, ApiError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest { code: "invalid_json", detail: format!("the body is not JSON: {e}") })?
    };
    match state.runs.resume_by_link(&run_id, &node_id, &token, body).await? {
        Some(run) => Ok(ApiJson(Resumed { run_id: run.id, status: run.status.to_string() })),
        None => Err(StoreError::not_found("resume link", &run_id).into()),
    }
}
