//! The channel outbox (`channel_messages`) and conversations.

use bacon_entities::{channel_messages as messages, conversations};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use crate::StoreError;
use crate::ids::{ChannelMessageId, ConversationId, TenantId};

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    pub id: String,
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub conversation_id: Option<String>,
    pub message: Value,
    /// `queued`, `sending`, `sent`, `failed`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub external_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn message_of(m: messages::Model) -> ChannelMessage {
    ChannelMessage {
        id: m.id,
        tenant_id: m.tenant_id,
        bot_id: m.bot_id,
        plugin_id: m.plugin_id,
        conversation_id: m.conversation_id,
        message: m.message,
        status: m.status,
        attempts: m.attempts,
        max_attempts: m.max_attempts,
        external_id: m.external_id,
        last_error: m.last_error,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Queues a message; the workers send it.
///
/// # Errors
/// On a database failure.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    bot_id: Option<String>,
    plugin_id: &str,
    conversation_id: Option<String>,
    message: Value,
    max_attempts: i32,
) -> Result<ChannelMessage, StoreError> {
    let now = Utc::now();
    let model = messages::ActiveModel {
        id: Set(ChannelMessageId::generate().to_string()),
        tenant_id: Set(tenant.to_string()),
        bot_id: Set(bot_id),
        plugin_id: Set(plugin_id.to_string()),
        conversation_id: Set(conversation_id),
        message: Set(message),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(max_attempts),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        external_id: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(message_of(model))
}

/// A message of this tenant.
///
/// # Errors
/// `NotFound` when it does not exist for this tenant.
pub async fn get(db: &impl ConnectionTrait, tenant: TenantId, id: &str) -> Result<ChannelMessage, StoreError> {
    messages::Entity::find_by_id(id.to_string())
        .filter(messages::Column::TenantId.eq(tenant.to_string()))
        .one(db)
        .await?
        .map(message_of)
        .ok_or_else(|| StoreError::not_found("channel message", id))
}

/// Claims up to `limit` due messages for one attempt each, with a lease.
///
/// # Errors
/// On a database failure.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: ChronoDuration,
) -> Result<Vec<ChannelMessage>, StoreError> {
    let now = Utc::now();
    let due = Condition::any()
        .add(Condition::all().add(messages::Column::Status.eq("queued")).add(messages::Column::NextAttemptAt.lte(now)))
        .add(Condition::all().add(messages::Column::Status.eq("sending")).add(messages::Column::LeaseUntil.lt(now)));
    let candidates = messages::Entity::find()
        .filter(due.clone())
        .order_by_asc(messages::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for row in candidates {
        let result = messages::Entity::update_many()
            .col_expr(messages::Column::Status, Expr::value("sending"))
            .col_expr(messages::Column::LeaseUntil, Expr::value(Some(now + lease)))
            .col_expr(messages::Column::Attempts, Expr::col(messages::Column::Attempts).add(1))
            .col_expr(messages::Column::UpdatedAt, Expr::value(now))
            .filter(messages::Column::Id.eq(row.id.clone()))
            .filter(due.clone())
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            let mut claimed_row = message_of(row);
            claimed_row.attempts += 1;
            claimed_row.status = "sending".into();
            claimed.push(claimed_row);
        }
    }
    Ok(claimed)
}

/// Records an attempt: `sent` (with the channel's id), `failed`, or `queued` again at `next`.
///
/// # Errors
/// On a database failure.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    external_id: Option<String>,
    error: Option<String>,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let mut update = messages::Entity::update_many()
        .col_expr(messages::Column::Status, Expr::value(status))
        .col_expr(messages::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(messages::Column::ExternalId, Expr::value(external_id))
        .col_expr(messages::Column::LastError, Expr::value(error))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now));
    if let Some(next) = next {
        update = update.col_expr(messages::Column::NextAttemptAt, Expr::value(next));
    }
    update.filter(messages::Column::Id.eq(id)).filter(messages::Column::Status.eq("sending")).exec(db).await?;
    Ok(())
}

/// A conversation with a channel user.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub channel: String,
    pub external_user_id: String,
}

fn conversation_of(m: conversations::Model) -> Conversation {
    Conversation {
        id: m.id,
        tenant_id: m.tenant_id,
        bot_id: (!m.bot_id.is_empty()).then_some(m.bot_id),
        plugin_id: m.plugin_id,
        channel: m.channel,
        external_user_id: m.external_user_id,
    }
}

/// The conversation of this channel user with this bot, created on their first message.
///
/// # Errors
/// On a database failure.
pub async fn conversation_for(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    bot_id: Option<&str>,
    plugin_id: &str,
    channel: &str,
    external_user_id: &str,
) -> Result<Conversation, StoreError> {
    let now = Utc::now();
    let bot = bot_id.unwrap_or_default();
    conversations::Entity::insert(conversations::ActiveModel {
        id: Set(ConversationId::generate().to_string()),
        tenant_id: Set(tenant.to_string()),
        bot_id: Set(bot.to_string()),
        plugin_id: Set(plugin_id.to_string()),
        channel: Set(channel.to_string()),
        external_user_id: Set(external_user_id.to_string()),
        created_at: Set(now),
        last_message_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            conversations::Column::TenantId,
            conversations::Column::BotId,
            conversations::Column::PluginId,
            conversations::Column::ExternalUserId,
        ])
        .update_column(conversations::Column::LastMessageAt)
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    conversations::Entity::find()
        .filter(conversations::Column::TenantId.eq(tenant.to_string()))
        .filter(conversations::Column::BotId.eq(bot))
        .filter(conversations::Column::PluginId.eq(plugin_id))
        .filter(conversations::Column::ExternalUserId.eq(external_user_id))
        .one(db)
        .await?
        .map(conversation_of)
        .ok_or_else(|| StoreError::not_found("conversation", external_user_id))
}

/// A conversation of this tenant.
///
/// # Errors
/// `NotFound` when it does not exist for this tenant.
pub async fn conversation(db: &impl ConnectionTrait, tenant: TenantId, id: &str) -> Result<Conversation, StoreError> {
    conversations::Entity::find_by_id(id.to_string())
        .filter(conversations::Column::TenantId.eq(tenant.to_string()))
        .one(db)
        .await?
        .map(conversation_of)
        .ok_or_else(|| StoreError::not_found("conversation", id))
}
