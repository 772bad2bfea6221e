//! Channels: send a message through a plugin's channel adapter as durable work (queued, sent by
//! the workers with retries, each attempt audited), and read its status.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bacon_engine::channels::{DEFAULT_MAX_ATTEMPTS, NewChannelMessage};
use bacon_engine::ids::BotId;
use bacon_engine::plugins::registry::InvokeError;
use bacon_engine::plugins::settings;
use bacon_engine::store;
use bacon_engine::store::channels::{self, ChannelMessage};
use bacon_engine::tenancy::Role;
use bacon_engine::work::MessageStatus;
use bacon_plugin_sdk::channel::OutboundMessage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_channel_message)).routes(routes!(get_channel_message))
}

/// A message to send. Address it with `conversationId` (a reply reaches the user of that
/// conversation) or `to` (the channel's address, `whatsapp:+15551234567`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"conversationId": "conv_01J…", "text": "Your order #1001 has shipped."}))]
pub struct SendChannelMessageRequest {
    pub bot_id: Option<String>,
    pub conversation_id: Option<String>,
    pub to: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// A channel template id (WhatsApp `ContentSid`), required outside the 24-hour window.
    pub template_id: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::object")]
    #[schema(value_type = Object)]
    pub template_variables: Map<String, Value>,
    /// Attempts before the message fails (1 to 10, default 5).
    pub max_attempts: Option<i32>,
}

// The OpenAPI face of the engine's `MessageStatus` (the engine stays free of the API
// framework); a test keeps the names equal.

/// Channel message states: `queued` (waiting for its next attempt), `sending` (an attempt under
/// way), `sent`, `failed` (given up).
#[derive(Serialize, ToSchema)]
#[schema(as = MessageStatus)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Documentation only.
enum MessageStatusSchema {
    Queued,
    Sending,
    Sent,
    Failed,
}

/// A queued, sent or failed message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMessageResponse {
    /// `msg_` followed by a ULID.
    pub id: String,
    pub plugin_id: String,
    pub conversation_id: Option<String>,
    #[schema(value_type = MessageStatusSchema)]
    pub status: MessageStatus,
    pub attempts: i32,
    /// The channel's id of the sent message (Twilio's `SM…`).
    pub external_id: Option<String>,
    /// The last attempt's error, secrets scrubbed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ChannelMessage> for ChannelMessageResponse {
    fn from(m: ChannelMessage) -> Self {
        Self {
            id: m.id,
            plugin_id: m.plugin_id,
            conversation_id: m.conversation_id,
            status: m.status,
            attempts: m.attempts,
            external_id: m.external_id,
            error: m.last_error,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Send a message through a channel (editor or admin key): 202, then the workers send it.
#[utoipa::path(post, path = "/v1/channels/{pluginId}/messages", tag = "channels", operation_id = "send_channel_message",
    params(("pluginId" = String, Path, description = "A plugin with a channel adapter (`bacon-plugin-twilio-whatsapp`)")),
    request_body = SendChannelMessageRequest,
    responses((status = 202, description = "Queued", body = ChannelMessageResponse),
        (status = 409, description = "The plugin has no usable settings for this tenant (or bot); nothing was queued",
            body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn send_channel_message(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path(plugin_id): Path<String>,
    ApiJson(body): ApiJson<SendChannelMessageRequest>,
) -> Result<(StatusCode, ApiJson<ChannelMessageResponse>), ApiError> {
    key.require(Role::Editor)?;
    let Some(plugin) = state.plugins.get(&plugin_id).filter(|p| p.definition.channel.is_some()).cloned() else {
        return Err(ApiError::NotFound { kind: "channel plugin", id: plugin_id.chars().take(100).collect() });
    };
    let mut bot_id = match &body.bot_id {
        Some(b) => {
            let bot = parse_id::<BotId>(b).map_err(|_| ApiError::validation("/botId", "not a bot id"))?;
            store::bots::get(&state.db, key.tenant_id, bot).await?;
            Some(bot.to_string())
        }
        None => None,
    };
    let to = match (&body.conversation_id, &body.to) {
        (Some(conversation), None) => {
            let found = channels::conversation(&state.db, key.tenant_id, conversation)
                .await
                .map_err(|_| ApiError::validation("/conversationId", "no such conversation"))?;
            if found.plugin_id != plugin_id {
                return Err(ApiError::validation("/conversationId", "the conversation is on another channel"));
            }
            bot_id = bot_id.or(found.bot_id);
            found.external_user_id
        }
        (None, Some(to)) if !to.trim().is_empty() => to.trim().to_string(),
        _ => return Err(ApiError::validation("/to", "give exactly one of `conversationId` and `to`")),
    };
    if body.text.as_deref().is_none_or(|t| t.trim().is_empty())
        && body.media_urls.is_empty()
        && body.template_id.is_none()
    {
        return Err(ApiError::validation("/text", "a message needs `text`, `mediaUrls` or a `templateId`"));
    }
    let max_attempts = body.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=10).contains(&max_attempts) {
        return Err(ApiError::validation("/maxAttempts", "must be between 1 and 10"));
    }
    // Without usable settings every send attempt would fail: refuse now, and queue nothing.
    let bot = bot_id.as_deref().and_then(|b| b.parse::<BotId>().ok());
    settings::resolve(&state.db, state.plugins.secrets(), &plugin, key.tenant_id, bot)
        .await
        .map_err(InvokeError::from)?;
    let message = OutboundMessage {
        to,
        text: body.text,
        media_urls: body.media_urls,
        template_id: body.template_id,
        template_variables: body.template_variables,
    };
    let message = serde_json::to_value(message).map_err(ApiError::internal)?;
    let new = NewChannelMessage {
        tenant: key.tenant_id,
        bot_id,
        plugin_id,
        conversation_id: body.conversation_id,
        message,
        max_attempts,
    };
    // The message and its work item commit together; a worker sends it.
    let queued = state.channels.queue_message(new).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(queued.into())))
}

/// A channel message's status.
#[utoipa::path(get, path = "/v1/channels/{pluginId}/messages/{messageId}", tag = "channels",
    operation_id = "get_channel_message",
    params(("pluginId" = String, Path, description = "The channel plugin"),
        ("messageId" = String, Path, description = "The id the send returned (`msg_…`)")),
    responses((status = 200, description = "The message", body = ChannelMessageResponse)))]
pub async fn get_channel_message(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    Path((plugin_id, message_id)): Path<(String, String)>,
) -> Result<ApiJson<ChannelMessageResponse>, ApiError> {
    let message = channels::get(&state.db, key.tenant_id, &message_id).await?;
    if message.plugin_id != plugin_id {
        return Err(ApiError::NotFound { kind: "channel message", id: message_id.chars().take(64).collect() });
    }
    Ok(ApiJson(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn the_documented_message_statuses_are_the_engines() {
        let documented = serde_json::to_value(MessageStatusSchema::schema()).unwrap()["enum"].clone();
        let names: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(documented, serde_json::json!(names));
    }
}
