//! Tenants (server admin key) and their API keys (server admin, or the tenant's own admin key).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bacon_engine::ids::{ApiKeyId, TenantId};
use bacon_engine::store;
use bacon_engine::tenancy::{self, DisplayName, Role, TenantRetention};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListParams;
use super::tenant_limits::LimitsBody;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant))
        .routes(routes!(set_retention))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "Acme Support"}))]
pub struct CreateTenantRequest {
    /// 1 to 200 characters, not blank, no control characters (surrounding spaces are trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantResponse {
    /// `ten_` followed by a ULID.
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub retention: RetentionBody,
    pub limits: LimitsBody,
}

impl From<tenancy::Tenant> for TenantResponse {
    fn from(t: tenancy::Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at,
            retention: t.retention.into(),
            limits: t.limits.into(),
        }
    }
}

/// The longest retention a tenant may be given, in days (100 years).
const MAX_RETENTION_DAYS: u32 = 36_500;

/// A tenant's own retention, in days; `null` keeps the server's setting (`retention.inbound_days`,
/// `retention.runs_days` in `docs/configuration.md`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"inboundDays": 3, "runsDays": 90}))]
pub struct RetentionBody {
    /// Days its inbound webhook deliveries are kept.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    pub inbound_days: Option<u32>,
    /// Days its finished runs (with their steps) and audit rows are kept.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    pub runs_days: Option<u32>,
}

impl From<TenantRetention> for RetentionBody {
    fn from(r: TenantRetention) -> Self {
        Self { inbound_days: r.inbound_days, runs_days: r.runs_days }
    }
}

impl RetentionBody {
    fn parse(self) -> Result<TenantRetention, ApiError> {
        for (pointer, days) in [("/inboundDays", self.inbound_days), ("/runsDays", self.runs_days)] {
            if days.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
                return Err(ApiError::validation(
                    pointer,
                    format!("must be from 1 to {MAX_RETENTION_DAYS} days, or null"),
                ));
            }
        }
        Ok(TenantRetention { inbound_days: self.inbound_days, runs_days: self.runs_days })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantList {
    pub items: Vec<TenantResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyRole {
    /// Read everything of the tenant.
    Viewer,
    /// Also create, change and run flows, bots and settings.
    Editor,
    /// Also manage the tenant's API keys.
    Admin,
}

impl From<ApiKeyRole> for Role {
    fn from(r: ApiKeyRole) -> Self {
        match r {
            ApiKeyRole::Viewer => Role::Viewer,
            ApiKeyRole::Editor => Role::Editor,
            ApiKeyRole::Admin => Role::Admin,
        }
    }
}

impl From<Role> for ApiKeyRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Viewer => ApiKeyRole::Viewer,
            Role::Editor => ApiKeyRole::Editor,
            Role::Admin => ApiKeyRole::Admin,
        }
    }
}

/// A new API key for a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "ci pipeline", "role": "editor"}))]
pub struct CreateApiKeyRequest {
    /// A label to tell keys apart: 1 to 200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    pub role: ApiKeyRole,
}

/// An API key as stored: never the key itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyResponse {
    /// `key_` followed by a ULID.
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: ApiKeyRole,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<tenancy::ApiKey> for ApiKeyResponse {
    fn from(k: tenancy::ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            tenant_id: k.tenant_id.to_string(),
            name: k.name,
            role: k.role.into(),
            prefix: k.prefix,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just issued: `key` is shown this once and cannot be read again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKeyResponse {
    #[serde(flatten)]
    pub api_key: ApiKeyResponse,
    /// The key to send as `Authorization: Bearer <key>`. Store it now.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn parse_name(pointer: &str, raw: &str) -> Result<DisplayName, ApiError> {
    DisplayName::parse(raw).map_err(|message| ApiError::validation(pointer, message))
}

/// Create a tenant (server admin key).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", operation_id = "create_tenant",
    request_body = CreateTenantRequest,
    responses((status = 201, description = "The tenant was created", body = TenantResponse)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, ApiJson<TenantResponse>), ApiError> {
    principal.require_server_admin()?;
    let name = parse_name("/name", &body.name)?;
    let tenant = store::tenants::create(&state.db, name.as_str()).await?;
    tracing::info!(tenant.id = %tenant.id, "Tenant created.");
    Ok((StatusCode::CREATED, ApiJson(tenant.into())))
}

/// List tenants (server admin key).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", operation_id = "list_tenants",
    params(ListParams),
    responses((status = 200, description = "A page of tenants", body = TenantList)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<TenantList>, ApiError> {
    principal.require_server_admin()?;
    let page = store::tenants::list(&state.db, params.cursor::<TenantId>()?, params.limit()?).await?;
    Ok(ApiJson(TenantList { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Get a tenant (server admin key, or any key of that tenant).
#[utoipa::path(get, path = "/v1/tenants/{tenantId}", tag = "tenants", operation_id = "get_tenant",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)")),
    responses((status = 200, description = "The tenant", body = TenantResponse)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
) -> Result<ApiJson<TenantResponse>, ApiError> {
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    principal.require_on_tenant(tenant_id, Role::Viewer)?;
    Ok(ApiJson(store::tenants::get(&state.db, tenant_id).await?.into()))
}

/// Set a tenant's own retention (server admin key): how many days its inbound deliveries, and
/// its finished runs and audit rows, are kept before the workers purge them; `null` keeps the
/// server's setting. Takes effect at the next purge (every 5 minutes).
#[utoipa::path(put, path = "/v1/tenants/{tenantId}/retention", tag = "tenants", operation_id = "set_tenant_retention",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)")),
    request_body = RetentionBody,
    responses((status = 200, description = "The tenant, with its retention", body = TenantResponse)))]
pub async fn set_retention(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<RetentionBody>,
) -> Result<ApiJson<TenantResponse>, ApiError> {
    principal.require_server_admin()?;
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    let retention = body.parse()?;
    let tenant = store::tenants::set_retention(&state.db, tenant_id, retention).await?;
    tracing::info!(tenant.id = %tenant_id, inbound_days = ?retention.inbound_days, runs_days = ?retention.runs_days, "Tenant retention set.");
    Ok(ApiJson(tenant.into()))
}

/// Issue an API key for a tenant (server admin key, or the tenant's admin key). The key is in
/// the response once and never again.
#[utoipa::path(post, path = "/v1/tenants/{tenantId}/api-keys", tag = "tenants", operation_id = "create_api_key",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)")),
    request_body = CreateApiKeyRequest,
    responses((status = 201, description = "The key was issued", body = CreatedApiKeyResponse)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, ApiJson<CreatedApiKeyResponse>), ApiError> {
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    principal.require_on_tenant(tenant_id, Role::Admin)?;
    let name = parse_name("/name", &body.name)?;
    store::tenants::get(&state.db, tenant_id).await?;
    let (key, generated) = store::api_keys::issue(&state.db, tenant_id, name.as_str(), body.role.into()).await?;
    tracing::info!(tenant.id = %tenant_id, key.id = %key.id, role = key.role.as_str(), "API key issued.");
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedApiKeyResponse { api_key: key.into(), key: generated.plaintext.into_inner() }),
    ))
}

/// List a tenant's API keys, active and revoked (server admin key, or the tenant's admin key).
#[utoipa::path(get, path = "/v1/tenants/{tenantId}/api-keys", tag = "tenants", operation_id = "list_api_keys",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)"), ListParams),
    responses((status = 200, description = "A page of API keys", body = ApiKeyList)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<ApiKeyList>, ApiError> {
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    principal.require_on_tenant(tenant_id, Role::Admin)?;
    store::tenants::get(&state.db, tenant_id).await?;
    let page = store::api_keys::list(&state.db, tenant_id, params.cursor::<ApiKeyId>()?, params.limit()?).await?;
    Ok(ApiJson(ApiKeyList { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Revoke an API key; it stops working at once (server admin key, or the tenant's admin key).
#[utoipa::path(delete, path = "/v1/tenants/{tenantId}/api-keys/{keyId}", tag = "tenants", operation_id = "revoke_api_key",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)"),
           ("keyId" = String, Path, description = "The key id (`key_…`)")),
    responses((status = 204, description = "The key is revoked")))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    principal.require_on_tenant(tenant_id, Role::Admin)?;
    let key_id: ApiKeyId = parse_id(&key_id)?;
    store::api_keys::revoke(&state.db, tenant_id, key_id).await?;
    tracing::info!(tenant.id = %tenant_id, key.id = %key_id, "API key revoked.");
    Ok(StatusCode::NO_CONTENT)
}
