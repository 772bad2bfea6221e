//! Bots: the scope that plugin settings and flows can be narrowed to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bacon_engine::ids::BotId;
use bacon_engine::store;
use bacon_engine::tenancy::{self, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::pagination::ListParams;
use super::tenants::parse_name;
use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_bot, list_bots)).routes(routes!(get_bot, delete_bot))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"name": "Support bot", "description": "Answers order questions on WhatsApp"}))]
pub struct CreateBotRequest {
    /// 1 to 200 characters, not blank, no control characters (surrounding spaces are trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// Up to 2,000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotResponse {
    /// `bot_` followed by a ULID.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<tenancy::Bot> for BotResponse {
    fn from(b: tenancy::Bot) -> Self {
        Self { id: b.id.to_string(), name: b.name, description: b.description, created_at: b.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotList {
    pub items: Vec<BotResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Create a bot (editor or admin key).
#[utoipa::path(post, path = "/v1/bots", tag = "bots", operation_id = "create_bot",
    request_body = CreateBotRequest,
    responses((status = 201, description = "The bot was created", body = BotResponse)))]
pub async fn create_bot(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiJson(body): ApiJson<CreateBotRequest>,
) -> Result<(StatusCode, ApiJson<BotResponse>), ApiError> {
    key.require(Role::Editor)?;
    let name = parse_name("/name", &body.name)?;
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
        return Err(ApiError::validation("/description", "must be at most 2000 characters"));
    }
    let bot = store::bots::create(&state.db, key.tenant_id, name.as_str(), body.description.as_deref()).await?;
    Ok((StatusCode::CREATED, ApiJson(bot.into())))
}

/// List the tenant's bots.
#[utoipa::path(get, path = "/v1/bots", tag = "bots", operation_id = "list_bots",
    params(ListParams),
    responses((status = 200, description = "A page of bots", body = BotList)))]
pub async fn list_bots(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<BotList>, ApiError> {
    let page = store::bots::list(&state.db, key.tenant_id, params.cursor::<BotId>()?, params.limit()?).await?;
    Ok(ApiJson(BotList { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Get a bot.
#[utoipa::path(get, path = "/v1/bots/{botId}", tag = "bots", operation_id = "get_bot",
    params(("botId" = String, Path, description = "The bot id (`bot_…`)")),
    responses((status = 200, description = "The bot", body = BotResponse)))]
pub async fn get_bot(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(bot_id): Path<String>,
) -> Result<ApiJson<BotResponse>, ApiError> {
    let bot_id: BotId = parse_id(&bot_id)?;
    Ok(ApiJson(store::bots::get(&state.db, key.tenant_id, bot_id).await?.into()))
}

/// Delete a bot (editor or admin key).
#[utoipa::path(delete, path = "/v1/bots/{botId}", tag = "bots", operation_id = "delete_bot",
    params(("botId" = String, Path, description = "The bot id (`bot_…`)")),
    responses((status = 204, description = "The bot is deleted")))]
pub async fn delete_bot(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(bot_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    key.require(Role::Editor)?;
    let bot_id: BotId = parse_id(&bot_id)?;
    store::bots::delete(&state.db, key.tenant_id, bot_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
