//! Activating a flow's trigger: a plugin trigger registers our hook URL with the vendor
//! (`subscribe`), a webhook trigger gets its hook URL; deactivating removes both.

use axum::extract::{Path, State};
use bacon_engine::ids::FlowId;
use bacon_engine::inbound::hook_url;
use bacon_engine::tenancy::Role;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(activate_flow)).routes(routes!(deactivate_flow))
}

/// A flow's activation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationResponse {
    pub flow_id: String,
    pub active: bool,
    /// Where the vendor (or any caller, for a webhook trigger) sends deliveries: `POST` here.
    pub hook_url: Option<String>,
    /// The plugin whose trigger this is (absent for a plain webhook trigger).
    pub plugin_id: Option<String>,
    pub trigger_key: Option<String>,
    /// The vendor's id of the webhook registered for this flow, when the plugin registers one.
    pub external_id: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    /// A signed webhook trigger's secret (`whsec_…`), shown once, on the call that activates the
    /// flow: each delivery carries `X-Bacon-Timestamp` (Unix seconds) and `X-Bacon-Signature:
    /// v1=<hex HMAC-SHA256 of v1:{timestamp}:{body}>` (see docs/webhooks.md).
    pub signing_secret: Option<String>,
}

/// Activate a flow's trigger (editor or admin key). Activating an active flow returns it as it is.
#[utoipa::path(post, path = "/v1/flows/{flowId}/activate", tag = "flows", operation_id = "activate_flow",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)")),
    responses((status = 200, description = "The flow is active", body = ActivationResponse),
        (status = 502, description = "The vendor refused to register the webhook; the flow stays inactive",
            body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn activate_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
) -> Result<ApiJson<ActivationResponse>, ApiError> {
    key.require(Role::Editor)?;
    let flow: FlowId = parse_id(&flow_id)?;
    let activation = state.inbound.activate(key.tenant_id, flow, &state.public_url).await?;
    let active = activation.subscription;
    Ok(ApiJson(ActivationResponse {
        signing_secret: activation.signing_secret,
        flow_id: active.flow_id,
        active: true,
        // Deliveries go to the hook URL; a schedule has none.
        hook_url: (active.trigger_key != bacon_engine::schedules::SCHEDULE)
            .then(|| hook_url(&state.public_url, &active.hook_id)),
        plugin_id: active.plugin_id,
        trigger_key: Some(active.trigger_key),
        external_id: active.external_id,
        activated_at: Some(active.created_at),
    }))
}

/// Deactivate a flow's trigger (editor or admin key): the vendor's webhook is removed and the hook
/// URL stops answering. Deactivating an inactive flow changes nothing.
#[utoipa::path(post, path = "/v1/flows/{flowId}/deactivate", tag = "flows", operation_id = "deactivate_flow",
    params(("flowId" = String, Path, description = "The flow id (`flow_…`)")),
    responses((status = 200, description = "The flow is inactive", body = ActivationResponse),
        (status = 502, description = "The vendor refused to remove the webhook; the flow stays active",
            body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn deactivate_flow(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(flow_id): Path<String>,
) -> Result<ApiJson<ActivationResponse>, ApiError> {
    key.require(Role::Editor)?;
    let flow: FlowId = parse_id(&flow_id)?;
    state.inbound.deactivate(key.tenant_id, flow, false).await?;
    Ok(ApiJson(ActivationResponse {
        signing_secret: None,
        flow_id: flow.to_string(),
        active: false,
        hook_url: None,
        plugin_id: None,
        trigger_key: None,
        external_id: None,
        activated_at: None,
    }))
}
