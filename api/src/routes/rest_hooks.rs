//! REST hooks (Zapier calls these): subscribe a target URL to one of Bacon's events, unsubscribe,
//! and the sample list Zapier shows while a Zap is built. Authenticated with a tenant API key
//! (Zapier's "API Key" auth sends it as `Authorization: Bearer <key>`).
//!
//! Events are delivered by the workers from an outbox (see `bacon_engine::hooks`); a 410 from
//! Zapier removes the subscription. The target URL is the subscriber's credential: it is stored
//! sealed like a plugin secret and never returned.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bacon_engine::ids::HookSubscriptionId;
use bacon_engine::secrets::cipher::Binding;
use bacon_engine::store::rest_hooks;
use bacon_engine::tenancy::Role;
use bacon_plugin_zapier as zapier;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(subscribe_rest_hook, list_rest_hooks))
        .routes(routes!(unsubscribe_rest_hook))
        .routes(routes!(list_rest_hook_samples))
}

/// Zapier's subscribe body (snake_case, as Zapier sends it).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target_url": "https://hooks.zapier.com/hooks/standard/123/abc/", "event": "run.failed"}))]
pub struct SubscribeRestHookRequest {
    /// The URL Zapier generated for the Zap: https on `hooks.zapier.com`.
    pub target_url: String,
    /// `message.received`, `run.succeeded`, `run.failed` or `run.cancelled`.
    pub event: String,
}

/// The subscription's id; Zapier sends it back to unsubscribe.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscribeRestHookResponse {
    /// `sub_` followed by a ULID.
    pub id: String,
}

/// A subscription as listed (its target URL is a credential and never shown).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestHookSubscriptionResponse {
    pub id: String,
    pub event: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The tenant's subscriptions to a plugin's events.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestHookSubscriptionList {
    pub items: Vec<RestHookSubscriptionResponse>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SampleParams {
    /// The event whose samples to list.
    pub event: String,
    /// At most this many (1 to 50, default 10).
    pub limit: Option<u64>,
}

fn rest_hook_plugin(state: &AppState, plugin_id: &str) -> Result<(), ApiError> {
    if plugin_id == zapier::PLUGIN_ID && state.plugins.get(plugin_id).is_some() {
        Ok(())
    } else {
        Err(ApiError::NotFound { kind: "REST-hook plugin", id: plugin_id.chars().take(100).collect() })
    }
}

/// Subscribe to an event (editor or admin key). Zapier calls this when a Zap is turned on.
#[utoipa::path(post, path = "/v1/plugins/{pluginId}/hooks", tag = "rest-hooks", operation_id = "subscribe_rest_hook",
    params(("pluginId" = String, Path, description = "`bacon-plugin-zapier`")),
    request_body = SubscribeRestHookRequest,
    responses((status = 201, description = "Subscribed", body = SubscribeRestHookResponse)))]
pub async fn subscribe_rest_hook(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiJson(body): ApiJson<SubscribeRestHookRequest>,
) -> Result<(StatusCode, ApiJson<SubscribeRestHookResponse>), ApiError> {
    key.require(Role::Editor)?;
    rest_hook_plugin(&state, &plugin_id)?;
    let request = zapier::SubscribeRequest { target_url: body.target_url, event: body.event };
    let parsed = request.parse().map_err(|e| ApiError::validation(e.pointer(), e.to_string()))?;
    let id = HookSubscriptionId::generate();
    let tenant = key.tenant_id.to_string();
    let field = rest_hooks::target_field(&id.to_string());
    let binding = Binding::tenant(&tenant, &plugin_id, &field);
    let sealed = state.plugins.secrets().keyring().encrypt(parsed.target_url.expose(), &binding);
    let stored = rest_hooks::subscribe(&state.db, id, key.tenant_id, &plugin_id, parsed.event, sealed).await?;
    tracing::info!(tenant.id = %key.tenant_id, subscription.id = %stored.id, event = %stored.event, "REST hook subscribed.");
    Ok((StatusCode::CREATED, ApiJson(SubscribeRestHookResponse { id: stored.id })))
}

/// List the tenant's subscriptions (a 410 from the subscriber removes one).
#[utoipa::path(get, path = "/v1/plugins/{pluginId}/hooks", tag = "rest-hooks", operation_id = "list_rest_hooks",
    params(("pluginId" = String, Path, description = "`bacon-plugin-zapier`")),
    responses((status = 200, description = "The subscriptions, oldest first", body = RestHookSubscriptionList)))]
pub async fn list_rest_hooks(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
) -> Result<ApiJson<RestHookSubscriptionList>, ApiError> {
    rest_hook_plugin(&state, &plugin_id)?;
    let items = rest_hooks::list(&state.db, key.tenant_id, &plugin_id)
        .await?
        .into_iter()
        .map(|s| RestHookSubscriptionResponse { id: s.id, event: s.event, created_at: s.created_at })
        .collect();
    Ok(ApiJson(RestHookSubscriptionList { items }))
}

/// Unsubscribe (editor or admin key). Zapier calls this when a Zap is turned off.
#[utoipa::path(delete, path = "/v1/plugins/{pluginId}/hooks/{subscriptionId}", tag = "rest-hooks",
    operation_id = "unsubscribe_rest_hook",
    params(("pluginId" = String, Path, description = "`bacon-plugin-zapier`"),
        ("subscriptionId" = String, Path, description = "The id the subscribe returned")),
    responses((status = 204, description = "Unsubscribed; its undelivered events are dropped")))]
pub async fn unsubscribe_rest_hook(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path((plugin_id, subscription_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    key.require(Role::Editor)?;
    rest_hook_plugin(&state, &plugin_id)?;
    if !rest_hooks::unsubscribe(&state.db, key.tenant_id, &plugin_id, &subscription_id).await? {
        return Err(ApiError::NotFound { kind: "subscription", id: subscription_id.chars().take(100).collect() });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The latest payloads of an event, newest first (Zapier's sample list); the event's sample
/// when there are none yet.
#[utoipa::path(get, path = "/v1/plugins/{pluginId}/samples", tag = "rest-hooks", operation_id = "list_rest_hook_samples",
    params(("pluginId" = String, Path, description = "`bacon-plugin-zapier`"), SampleParams),
    responses((status = 200, description = "Payloads, newest first, each with a unique `id`", body = Vec<Object>)))]
pub async fn list_rest_hook_samples(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiQuery(params): ApiQuery<SampleParams>,
) -> Result<ApiJson<Vec<Value>>, ApiError> {
    rest_hook_plugin(&state, &plugin_id)?;
    let limit = params.limit.unwrap_or(10).clamp(1, 50);
    if zapier::find_event(&params.event).is_none() {
        let known = zapier::events().iter().map(|e| e.name).collect::<Vec<_>>().join(", ");
        let detail = format!("`event` must be one of: {known}");
        return Err(ApiError::BadRequest { code: "invalid_query", detail });
    }
    let recent = rest_hooks::recent_payloads(&state.db, key.tenant_id, &params.event, limit).await?;
    let list = zapier::sample_list(&params.event, recent, limit as usize).unwrap_or_default();
    Ok(ApiJson(list))
}
