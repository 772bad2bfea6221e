//! Plugins: the catalog, per-tenant (and per-bot) settings, test connection, synchronous invoke.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bacon_engine::ids::BotId;
use bacon_engine::plugins::loaded::LoadedPlugin;
use bacon_engine::plugins::registry::{InvokeError, InvokeRequest};
use bacon_engine::plugins::settings::{self, SettingsView};
use bacon_engine::store;
use bacon_engine::tenancy::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{TenantAuth, TenantKey};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(get_plugin_settings, put_plugin_settings, delete_plugin_settings))
        .routes(routes!(test_plugin_connection))
        .routes(routes!(invoke_plugin_action))
}

/// A plugin in the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSummary {
    /// `bacon-plugin-<name>`.
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    /// Action keys.
    pub actions: Vec<String>,
    /// Trigger keys.
    pub triggers: Vec<String>,
    /// Whether the plugin is a messaging channel.
    pub channel: bool,
    /// Whether the plugin adds AI context.
    pub enrichment: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginList {
    pub items: Vec<PluginSummary>,
}

/// An action of a plugin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginActionResponse {
    pub key: String,
    pub description: String,
    /// JSON Schema (2020-12) of the input.
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// JSON Schema (2020-12) of the output.
    #[schema(value_type = Object)]
    pub output_schema: Value,
    /// `{"kind": "none" | "fixed" | "exponential", …}`.
    #[schema(value_type = Object)]
    pub retry: Value,
    pub timeout_ms: u64,
}

/// A trigger of a plugin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginTriggerResponse {
    pub key: String,
    pub description: String,
    /// `webhook`, `polling` or `schedule`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub event_schema: Value,
}

/// Everything about a plugin: settings form, actions, triggers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginDetail {
    #[serde(flatten)]
    pub summary: PluginSummary,
    /// JSON Schema (2020-12) of the settings, with defaults (operator overrides applied);
    /// secret fields are `writeOnly`.
    #[schema(value_type = Object)]
    pub settings_schema: Value,
    pub action_details: Vec<PluginActionResponse>,
    pub trigger_details: Vec<PluginTriggerResponse>,
    /// Hosts the plugin may call.
    pub allowed_hosts: Vec<String>,
}

fn summary(p: &LoadedPlugin) -> PluginSummary {
    let d = &p.definition;
    PluginSummary {
        id: d.id.clone(),
        name: d.name.clone(),
        version: d.version.clone(),
        description: d.description.clone(),
        actions: d.actions.iter().map(|a| a.key.clone()).collect(),
        triggers: d.triggers.iter().map(|t| t.key.clone()).collect(),
        channel: d.channel.is_some(),
        enrichment: d.enricher.is_some(),
    }
}

fn find(state: &AppState, plugin_id: &str) -> Result<std::sync::Arc<LoadedPlugin>, ApiError> {
    state
        .plugins
        .get(plugin_id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound { kind: "plugin", id: plugin_id.chars().take(64).collect() })
}

/// List the plugins this server has loaded.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", operation_id = "list_plugins",
    responses((status = 200, description = "The plugin catalog", body = PluginList)))]
pub async fn list_plugins(State(state): State<AppState>, _: TenantAuth) -> ApiJson<PluginList> {
    ApiJson(PluginList { items: state.plugins.plugins().map(|p| summary(p)).collect() })
}

/// Get a plugin: its settings schema (the form to render), actions and triggers.
#[utoipa::path(get, path = "/v1/plugins/{pluginId}", tag = "plugins", operation_id = "get_plugin",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`")),
    responses((status = 200, description = "The plugin", body = PluginDetail)))]
pub async fn get_plugin(
    State(state): State<AppState>,
    _: TenantAuth,
    Path(plugin_id): Path<String>,
) -> Result<ApiJson<PluginDetail>, ApiError> {
    let p = find(&state, &plugin_id)?;
    let d = &p.definition;
    Ok(ApiJson(PluginDetail {
        summary: summary(&p),
        settings_schema: d.settings_schema.clone(),
        action_details: d
            .actions
            .iter()
            .map(|a| PluginActionResponse {
                key: a.key.clone(),
                description: a.description.clone(),
                input_schema: a.input_schema.clone(),
                output_schema: a.output_schema.clone(),
                retry: serde_json::to_value(&a.retry).unwrap_or(Value::Null),
                timeout_ms: a.timeout.as_millis() as u64,
            })
            .collect(),
        trigger_details: d
            .triggers
            .iter()
            .map(|t| PluginTriggerResponse {
                key: t.key.clone(),
                description: t.description.clone(),
                kind: t.kind_name().into(),
                event_schema: t.event_schema.clone(),
            })
            .collect(),
        allowed_hosts: p.allowed_hosts.clone(),
    }))
}

/// `?botId=`: a bot's override instead of the tenant-wide settings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SettingsScope {
    /// A bot id (`bot_…`): read or write that bot's override.
    pub bot_id: Option<String>,
}

/// Whether a secret field is set; its value is never returned.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretFieldState {
    pub set: bool,
    /// `encrypted` (stored by Bacon) or `env` (read from `BACON_SECRET_<NAME>`), when set.
    pub source: Option<String>,
    /// True when viewing a bot and the value comes from the tenant-wide settings.
    pub inherited: bool,
}

/// The settings of a plugin for the tenant or one bot: an object validated against the plugin's
/// `settingsSchema` (`GET /v1/plugins/{pluginId}`), so its fields differ per plugin. Secret
/// fields are write-only: omit one to keep the stored value, send `null` to clear it, or
/// `"env:NAME"` to read it from `BACON_SECRET_<TENANT>__NAME` at each use.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"allowedHosts": ["api.example.com"], "baseUrl": "https://api.example.com", "bearerToken": "s3cr3t"}))]
pub struct PluginSettingsRequest(pub serde_json::Map<String, Value>);

/// Settings of a plugin for the tenant or one bot.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSettingsResponse {
    pub plugin_id: String,
    pub bot_id: Option<String>,
    /// Whether this scope has stored settings (otherwise values are defaults or inherited).
    pub stored: bool,
    /// Effective non-secret values: defaults, then the tenant's, then the bot's.
    #[schema(value_type = Object)]
    pub values: Value,
    /// One entry per secret field.
    pub secrets: BTreeMap<String, SecretFieldState>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<SettingsView> for PluginSettingsResponse {
    fn from(v: SettingsView) -> Self {
        Self {
            plugin_id: v.plugin_id,
            bot_id: v.bot_id.map(|b| b.to_string()),
            stored: v.stored,
            values: Value::Object(v.values),
            secrets: v
                .secrets
                .into_iter()
                .map(|(k, s)| {
                    (k, SecretFieldState { set: s.set, source: s.source.map(str::to_string), inherited: s.inherited })
                })
                .collect(),
            updated_at: v.updated_at,
        }
    }
}

async fn scope(state: &AppState, key: &TenantKey, scope: &SettingsScope) -> Result<Option<BotId>, ApiError> {
    match &scope.bot_id {
        None => Ok(None),
        Some(text) => {
            let bot: BotId = parse_id(text)?;
            store::bots::get(&state.db, key.tenant_id, bot).await?;
            Ok(Some(bot))
        }
    }
}

/// Get a plugin's settings for the tenant (or `?botId=`). Secrets report only whether they are set.
#[utoipa::path(get, path = "/v1/plugins/{pluginId}/settings", tag = "plugins", operation_id = "get_plugin_settings",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`"), SettingsScope),
    responses((status = 200, description = "The settings", body = PluginSettingsResponse)))]
pub async fn get_plugin_settings(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiQuery(params): ApiQuery<SettingsScope>,
) -> Result<ApiJson<PluginSettingsResponse>, ApiError> {
    let plugin = find(&state, &plugin_id)?;
    let bot = scope(&state, &key, &params).await?;
    Ok(ApiJson(settings::view(&state.db, &plugin, key.tenant_id, bot).await?.into()))
}

/// Replace a plugin's settings for the tenant (or `?botId=`). Validated against the settings
/// schema with defaults applied; nothing is stored on a 422. Omitting a secret keeps the stored
/// value, `null` clears it, and `"env:NAME"` reads it from `BACON_SECRET_NAME` at each use.
#[utoipa::path(put, path = "/v1/plugins/{pluginId}/settings", tag = "plugins", operation_id = "put_plugin_settings",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`"), SettingsScope),
    request_body = PluginSettingsRequest,
    responses((status = 200, description = "The stored settings", body = PluginSettingsResponse)))]
pub async fn put_plugin_settings(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiQuery(params): ApiQuery<SettingsScope>,
    ApiJson(PluginSettingsRequest(body)): ApiJson<PluginSettingsRequest>,
) -> Result<ApiJson<PluginSettingsResponse>, ApiError> {
    key.require(Role::Editor)?;
    let plugin = find(&state, &plugin_id)?;
    let bot = scope(&state, &key, &params).await?;
    let body = Value::Object(body);
    let view = settings::put(&state.db, state.plugins.secrets(), &plugin, key.tenant_id, bot, body).await?;
    tracing::info!(tenant.id = %key.tenant_id, plugin.id = %plugin_id, "Plugin settings saved.");
    Ok(ApiJson(view.into()))
}

/// Delete a plugin's settings for the tenant (or `?botId=`, removing only that bot's override).
#[utoipa::path(delete, path = "/v1/plugins/{pluginId}/settings", tag = "plugins", operation_id = "delete_plugin_settings",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`"), SettingsScope),
    responses((status = 204, description = "The settings are deleted")))]
pub async fn delete_plugin_settings(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiQuery(params): ApiQuery<SettingsScope>,
) -> Result<StatusCode, ApiError> {
    key.require(Role::Editor)?;
    let plugin = find(&state, &plugin_id)?;
    let bot = scope(&state, &key, &params).await?;
    store::plugin_settings::delete(&state.db, key.tenant_id, plugin.id(), bot).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which settings a call uses.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestConnectionRequest {
    /// Use this bot's settings (with its overrides) instead of the tenant's.
    pub bot_id: Option<String>,
}

/// What a connection test found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestConnectionResponse {
    pub ok: bool,
    /// What worked, or the vendor's reason for refusing.
    pub message: String,
    /// Whatever the plugin adds (e.g. the status it got); `{}` when nothing.
    #[schema(value_type = Object)]
    #[serde(default = "empty_object", deserialize_with = "object_or_empty")]
    pub details: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A plugin's `details` that is not an object (say `null`) is reported as `{}`.
fn object_or_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(if value.is_object() { value } else { empty_object() })
}

/// Run the plugin's `test_connection` action with the stored settings (audited). A wrong
/// credential answers 200 with `ok: false` and the vendor's reason.
#[utoipa::path(post, path = "/v1/plugins/{pluginId}/test-connection", tag = "plugins", operation_id = "test_plugin_connection",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`")),
    request_body = TestConnectionRequest,
    responses((status = 200, description = "The result of the test", body = TestConnectionResponse)))]
pub async fn test_plugin_connection(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiJson(body): ApiJson<TestConnectionRequest>,
) -> Result<ApiJson<TestConnectionResponse>, ApiError> {
    key.require(Role::Editor)?;
    find(&state, &plugin_id)?;
    let bot = scope(&state, &key, &SettingsScope { bot_id: body.bot_id }).await?;
    let mut request =
        InvokeRequest::synchronous(key.tenant_id, bot, &plugin_id, "test_connection", serde_json::json!({}));
    request.kind = "test_connection";
    request.deadline = Some(state.invoke_deadline);
    let outcome = state.plugins.invoke(request).await;
    let response = match outcome.result {
        Ok(value) => serde_json::from_value(value).unwrap_or(TestConnectionResponse {
            ok: false,
            message: "the plugin's test_connection returned an unexpected shape".into(),
            details: empty_object(),
        }),
        // The call could not be made at all (else the vendor's answer, or its failure, is the result).
        Err(e @ (InvokeError::UnknownAction { .. } | InvokeError::Store(_))) => return Err(e.into()),
        Err(e) => TestConnectionResponse { ok: false, message: e.to_string(), details: empty_object() },
    };
    Ok(ApiJson(response))
}

/// A synchronous call of one action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"input": {"method": "GET", "url": "https://api.example.com/health"}}))]
pub struct InvokeActionRequest {
    /// The action's input, an object (see its `inputSchema`).
    #[serde(deserialize_with = "crate::extract::object")]
    #[schema(value_type = Object)]
    pub input: serde_json::Map<String, Value>,
    /// Use this bot's settings.
    pub bot_id: Option<String>,
}

/// How a synchronous call ended.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvocationStatus {
    Succeeded,
    Failed,
}

/// Why an action failed (secrets scrubbed).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvocationError {
    /// `retryable`, `rate_limited`, `permanent`, `invalid_input`, `unauthorized`, `egress_refused`,
    /// `panicked`, `timed_out`, `output_too_large`, `not_configured`, `secret_unavailable`.
    pub kind: String,
    pub message: String,
}

/// The result of a synchronous call; every attempt is in the audit log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvokeActionResponse {
    pub status: InvocationStatus,
    /// The action's output when it succeeded.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<InvocationError>,
    /// Attempts made (retries happen in-process per the action's retry policy).
    pub attempts: u32,
}

/// Run an action synchronously with the tenant's settings: input validated against the action's
/// schema (422 with pointers under `/input`), retries per its policy, one audit row per attempt.
#[utoipa::path(post, path = "/v1/plugins/{pluginId}/actions/{actionName}/invoke", tag = "plugins",
    operation_id = "invoke_plugin_action",
    params(("pluginId" = String, Path, description = "`bacon-plugin-<name>`"),
           ("actionName" = String, Path, description = "The action key")),
    request_body = InvokeActionRequest,
    responses((status = 200, description = "The action ran (see `status`)", body = InvokeActionResponse)))]
pub async fn invoke_plugin_action(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path((plugin_id, action)): Path<(String, String)>,
    ApiJson(body): ApiJson<InvokeActionRequest>,
) -> Result<ApiJson<InvokeActionResponse>, ApiError> {
    key.require(Role::Editor)?;
    let plugin = find(&state, &plugin_id)?;
    if plugin.definition.find_action(&action).is_none() {
        return Err(ApiError::NotFound { kind: "action", id: action.chars().take(64).collect() });
    }
    let bot = scope(&state, &key, &SettingsScope { bot_id: body.bot_id }).await?;
    let mut request = InvokeRequest::synchronous(key.tenant_id, bot, &plugin_id, &action, Value::Object(body.input));
    request.deadline = Some(state.invoke_deadline);
    let outcome = state.plugins.invoke(request).await;
    let attempts = outcome.attempts;
    match outcome.result {
        Ok(output) => Ok(ApiJson(InvokeActionResponse {
            status: InvocationStatus::Succeeded,
            output: Some(output),
            error: None,
            attempts,
        })),
        // The request was refused, so no action ran (else its failure is the result).
        Err(e @ (InvokeError::InvalidInput(_) | InvokeError::Store(_))) => Err(e.into()),
        Err(e) => Ok(ApiJson(InvokeActionResponse {
            status: InvocationStatus::Failed,
            output: None,
            error: Some(InvocationError { kind: e.outcome().into(), message: e.to_string() }),
            attempts,
        })),
    }
}
