//! Flows: node graphs saved as immutable versions, with optimistic concurrency on update.

pub mod graph;

use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bacon_engine::flows::validate;
use bacon_engine::ids::{BotId, FlowId};
use bacon_engine::store;
use bacon_engine::store::flows::{Flow, FlowFields, FlowVersion};
use bacon_engine::tenancy::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListParams;
use super::tenants::parse_name;
use crate::auth::{TenantAuth, TenantKey};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_flow, list_flows))
        .routes(routes!(get_flow, update_flow, delete_flow))
        .routes(routes!(list_flow_versions))
        .routes(routes!(get_flow_version))
        .routes(routes!(validate_flow))
}

/// A flow to create or the new state of one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "name": "Order status",
    "graph": {
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "fetch", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": "https://api.example.com/orders/{{ input.orderId }}"}}},
            {"id": "done", "type": "end", "config": {}}
        ],
        "edges": [{"id": "e1", "source": "start", "target": "fetch"}, {"id": "e2", "source": "fetch", "target": "done"}]
    }
}))]
pub struct FlowRequest {
    /// 1 to 200 characters, not blank, no control characters (surrounding spaces are trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    pub description: Option<String>,
    /// Narrow the flow to one bot (`bot_…`).
    pub bot_id: Option<String>,
    /// Validated on save: 422 with a JSON pointer per fault (`/graph/nodes/1/config/actionName`).
    #[schema(value_type = graph::FlowGraph)]
    pub graph: Value,
}

/// A flow and its current graph.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowResponse {
    /// `flow_` followed by a ULID.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub bot_id: Option<String>,
    /// The current version; send it as `If-Match` when updating.
    pub version: i32,
    pub active: bool,
    #[schema(value_type = graph::FlowGraph)]
    pub graph: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Flow> for FlowResponse {
    fn from(f: Flow) -> Self {
        Self {
            id: f.id.to_string(),
            name: f.name,
            description: f.description,
            bot_id: f.bot_id,
            version: f.version,
            active: f.active,
            graph: f.graph,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowList {
    pub items: Vec<FlowResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One immutable version of a flow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowVersionResponse {
    pub version: i32,
    #[schema(value_type = graph::FlowGraph)]
    pub graph: Value,
    pub created_at: DateTime<Utc>,
}

impl From<FlowVersion> for FlowVersionResponse {
    fn from(v: FlowVersion) -> Self {
        Self { version: v.version, graph: v.graph, created_at: v.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersionList {
    pub items: Vec<FlowVersionResponse>,
}

/// A graph to check without saving.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidateFlowRequest {
    #[schema(value_type = graph::FlowGraph)]
    pub graph: Value,
}

/// The graph is valid (an invalid one answers 422 with a pointer per fault).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateFlowResponse {
    pub valid: bool,
}

fn with_etag(status: StatusCode, flow: Flow) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", flow.version)).ok();
    let mut response = (status, ApiJson(FlowResponse::from(flow))).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

async fn fields(state: &AppState, key: &TenantKey, body: FlowRequest) -> Result<FlowFields, ApiError> {
    let name = parse_name("/name", &body.name)?;
    let bot_id = match &body.bot_id {
        Some(text) => {
            let bot: BotId = parse_id(text).map_err(|_| ApiError::validation("/botId", "no such bot"))?;
            store::bots::get(&state.db, key.tenant_id, bot)
                .await
                .map_err(|_| ApiError::validation("/botId", "no such bot"))?;
            Some(bot)
        }
        None => None,
    };
    check_graph(state, &body.graph)?;
    Ok(FlowFields { name: name.as_str().to_string(), description: body.description, bot_id, graph: body.graph })
}

fn check_graph(state: &AppState, graph: &Value) -> Result<(), ApiError> {
    validate::parse(graph, "/graph", &state.plugins)
        .map(|_| ())
        .map_err(|problems| ApiError::from_problems("the flow graph is not valid", "", problems))
}

/// `If-Match: "3"` (or `3`): the version the client last saw.
fn if_match(headers: &HeaderMap) -> Result<Option<i32>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
    text.parse::<i32>().map(Some).map_err(|_| ApiError::BadRequest {
        code: "invalid_if_match",
        detail: "If-Match must be the flow version, e.g. `\"3\"`".into(),
    })
}

/// Create a flow (version 1). The graph is validated first: 422 with a pointer per fault.
#[utoipa::path(post, path = "/v1/flows", tag = "flows", operation_id = "create_flow",
    request_body = FlowRequest,
    responses((status = 201, description = "The flow was created", body = FlowResponse,
        headers(("ETag" = String, description = "The version, for If-Match")))))]
pub async fn create_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiJson(body): ApiJson<FlowRequest>,
) -> Result<Response, ApiError> {
    key.require(Role::Editor)?;
    let fields = fields(&state, &key, body).await?;
    let flow = store::flows::create(&state.db, key.tenant_id, fields).await?;
    tracing::info!(tenant.id = %key.tenant_id, flow.id = %flow.id, "Flow created.");
    Ok(with_etag(StatusCode::CREATED, flow))
}

/// List the tenant's flows.
#[utoipa::path(get, path = "/v1/flows", tag = "flows", operation_id = "list_flows",
    params(ListParams),
    responses((status = 200, description = "A page of flows", body = FlowList)))]
pub async fn list_flows(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<FlowList>, ApiError> {
    let page = store::flows::list(&state.db, key.tenant_id, params.cursor::<FlowId>()?, params.limit()?).await?;
    Ok(ApiJson(FlowList { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Get a flow with its current graph; `ETag` carries the version.
#[utoipa::path(get, path = "/v1/flows/{flowId}", tag = "flows", operation_id = "get_flow",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)")),
    responses((status = 200, description = "The flow", body = FlowResponse,
        headers(("ETag" = String, description = "The version, for If-Match")))))]
pub async fn get_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
) -> Result<Response, ApiError> {
    let id: FlowId = parse_id(&flow_id)?;
    Ok(with_etag(StatusCode::OK, store::flows::get(&state.db, key.tenant_id, id).await?))
}

/// Save a new version of a flow. Send `If-Match: "<version>"` to refuse (412) when someone else
/// saved in between. Runs already started keep the version they started on. An active flow's
/// trigger and bot cannot change (409): deactivate it first.
#[utoipa::path(put, path = "/v1/flows/{flowId}", tag = "flows", operation_id = "update_flow",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)"),
           ("If-Match" = Option<String>, Header, pattern = r#"^(W/)?"?[0-9]{1,9}"?$"#,
               description = "The version the change is based on, as the `ETag` gave it: `\"3\"`")),
    request_body = FlowRequest,
    responses((status = 200, description = "The new version", body = FlowResponse),
              (status = 409, description = "The flow is active and the change touches its trigger or bot",
                body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 412, description = "The flow has a newer version", body = crate::error::Problem,
                content_type = "application/problem+json")))]
pub async fn update_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FlowRequest>,
) -> Result<Response, ApiError> {
    key.require(Role::Editor)?;
    let id: FlowId = parse_id(&flow_id)?;
    let expected = if_match(&headers)?;
    let current = store::flows::get(&state.db, key.tenant_id, id).await?;
    let fields = fields(&state, &key, body).await?;
    // An active flow's trigger was registered (with the vendor, or as a schedule) from its current
    // version: changing it, or the bot whose settings it uses, needs a deactivate first.
    if current.active
        && (trigger_config(&current.graph) != trigger_config(&fields.graph)
            || current.bot_id != fields.bot_id.map(|b| b.to_string()))
    {
        return Err(ApiError::Conflict {
            code: "flow_active",
            detail: "the flow is active: deactivate it before changing its trigger or its bot, then activate it again"
                .into(),
        });
    }
    let flow = store::flows::update(&state.db, key.tenant_id, id, expected, fields).await?;
    tracing::info!(tenant.id = %key.tenant_id, flow.id = %flow.id, version = flow.version, "Flow updated.");
    Ok(with_etag(StatusCode::OK, flow))
}

/// The trigger node's config in a graph (JSON as stored).
fn trigger_config(graph: &serde_json::Value) -> Option<&serde_json::Value> {
    graph["nodes"].as_array()?.iter().find(|n| n["type"] == "trigger").map(|n| &n["config"])
}

/// Delete a flow. Its versions and past runs stay readable through the audit log.
#[utoipa::path(delete, path = "/v1/flows/{flowId}", tag = "flows", operation_id = "delete_flow",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)")),
    responses((status = 204, description = "The flow is deleted")))]
pub async fn delete_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    key.require(Role::Editor)?;
    let id: FlowId = parse_id(&flow_id)?;
    // An active trigger goes with the flow: its vendor webhook is removed (a refusal is logged) and
    // its hook URL or schedule stops.
    state.inbound.deactivate(key.tenant_id, id, true).await?;
    store::flows::delete(&state.db, key.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List every version of a flow, oldest first.
#[utoipa::path(get, path = "/v1/flows/{flowId}/versions", tag = "flows", operation_id = "list_flow_versions",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)")),
    responses((status = 200, description = "The versions", body = FlowVersionList)))]
pub async fn list_flow_versions(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
) -> Result<ApiJson<FlowVersionList>, ApiError> {
    let id: FlowId = parse_id(&flow_id)?;
    let versions = store::flows::versions(&state.db, key.tenant_id, id).await?;
    Ok(ApiJson(FlowVersionList { items: versions.into_iter().map(Into::into).collect() }))
}

/// Get one version of a flow.
#[utoipa::path(get, path = "/v1/flows/{flowId}/versions/{version}", tag = "flows", operation_id = "get_flow_version",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)"),
           ("version" = i32, Path, description = "The version number")),
    responses((status = 200, description = "The version", body = FlowVersionResponse)))]
pub async fn get_flow_version(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path((flow_id, version)): Path<(String, String)>,
) -> Result<ApiJson<FlowVersionResponse>, ApiError> {
    let id: FlowId = parse_id(&flow_id)?;
    let version: i32 = version
        .parse()
        .map_err(|_| ApiError::NotFound { kind: "flow version", id: version.chars().take(20).collect() })?;
    Ok(ApiJson(store::flows::get_version(&state.db, key.tenant_id, id, version).await?.into()))
}

/// Validate a graph without saving it: 200 when valid, 422 with a pointer per fault.
#[utoipa::path(post, path = "/v1/flows/validate", tag = "flows", operation_id = "validate_flow",
    request_body = ValidateFlowRequest,
    responses((status = 200, description = "The graph is valid", body = ValidateFlowResponse)))]
pub async fn validate_flow(
    State(state): State<AppState>,
    _auth: TenantAuth,
    ApiJson(body): ApiJson<ValidateFlowRequest>,
) -> Result<ApiJson<ValidateFlowResponse>, ApiError> {
    check_graph(&state, &body.graph)?;
    Ok(ApiJson(ValidateFlowResponse { valid: true }))
}
