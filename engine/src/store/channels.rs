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
use crate::runs::status;
use crate::work::status::MessageStatus;

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    pub id: String,
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub conversation_id: Option<String>,
    pub message: Value,
    pub status: MessageStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub external_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn message_of(m: messages::Model) -> ChannelMessage {
    let status = status::stored("channel_messages", &m.id, &m.status, MessageStatus::Failed);
    ChannelMessage {
        id: m.id,
        tenant_id: m.tenant_id,
        bot_id: m.bot_id,
        plugin_id: m.plugin_id,
        conversation_id: m.conversation_id,
        message: m.message,
        status,
        attempts: m.attempts,
        max_attempts: m.max_attempts,
        external_id: m.external_id,
        last_error: m.last_error,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Queues a message, in the caller's transaction (which also enqueues its work item); the
/// workers send it.
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
        status: Set(MessageStatus::Queued.as_str().into()),
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

/// Claims a due message for one attempt (`queued -> sending`, attempts + 1, with a lease).
/// `None` when it is not claimable: sent, failed, taken by another worker, or not due yet.
///
/// # Errors
/// On a database failure.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &str,
    lease: ChronoDuration,
) -> Result<Option<ChannelMessage>, StoreError> {
    let now = Utc::now();
    let claimed = messages::Entity::update_many()
        .col_expr(messages::Column::Status, Expr::value(MessageStatus::Sending.as_str()))
        .col_expr(messages::Column::LeaseUntil, Expr::value(Some(now + lease)))
        .col_expr(messages::Column::Attempts, Expr::col(messages::Column::Attempts).add(1))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now))
        .filter(messages::Column::Id.eq(id))
        .filter(messages::Column::Status.eq(MessageStatus::Queued.as_str()))
        .filter(messages::Column::NextAttemptAt.lte(now))
        .exec_with_returning(db)
        .await?;
    Ok(claimed.into_iter().next().map(message_of))
}

/// When a `queued` message is due, if it is (a job that came early waits for the rest).
///
/// # Errors
/// On a database failure.
pub async fn due_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(messages::Entity::find_by_id(id.to_string())
        .filter(messages::Column::Status.eq(MessageStatus::Queued.as_str()))
        .one(db)
        .await?
        .map(|row| row.next_attempt_at))
}

/// Messages a crashed process left behind: `sending` past their lease, or `queued` more than
/// `grace` past due (their job may be lost). Longest-waiting first.
///
/// # Errors
/// On a database failure.
pub async fn overdue(
    db: &impl ConnectionTrait,
    grace: ChronoDuration,
    limit: u64,
) -> Result<Vec<ChannelMessage>, StoreError> {
    let now = Utc::now();
    let due = Condition::any()
        .add(
            Condition::all()
                .add(messages::Column::Status.eq(MessageStatus::Sending.as_str()))
                .add(messages::Column::LeaseUntil.lt(now)),
        )
        .add(
            Condition::all()
                .add(messages::Column::Status.eq(MessageStatus::Queued.as_str()))
                .add(messages::Column::NextAttemptAt.lt(now - grace)),
        );
    Ok(messages::Entity::find()
        .filter(due)
        .order_by_asc(messages::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(message_of)
        .collect())
}

/// Returns a `sending` message whose lease ran out to `queued`, due now. `false` when another
/// process took it first.
///
/// # Errors
/// On a database failure.
pub async fn release_expired(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let released = messages::Entity::update_many()
        .col_expr(messages::Column::Status, Expr::value(MessageStatus::Queued.as_str()))
        .col_expr(messages::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(messages::Column::NextAttemptAt, Expr::value(now))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now))
        .filter(messages::Column::Id.eq(id))
        .filter(messages::Column::Status.eq(MessageStatus::Sending.as_str()))
        .filter(messages::Column::LeaseUntil.lt(now))
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}

/// Records an attempt: `sent` (with the channel's id), `failed`, or `queued` again at `next`.
///
/// `false` when this attempt is no longer the one being sent: its outcome was recorded already,
/// or its lease was taken over.
///
/// # Errors
/// On a database failure.
pub async fn finish(
    db: &impl ConnectionTrait,
    claimed: &ChannelMessage,
    status: MessageStatus,
    external_id: Option<String>,
    error: Option<String>,
    next: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let mut update = messages::Entity::update_many()
        .col_expr(messages::Column::Status, Expr::value(status.as_str()))
        .col_expr(messages::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(messages::Column::ExternalId, Expr::value(external_id))
        .col_expr(messages::Column::LastError, Expr::value(error))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now));
    if let Some(next) = next {
        update = update.col_expr(messages::Column::NextAttemptAt, Expr::value(next));
    }
    let result = update
        .filter(messages::Column::Id.eq(claimed.id.as_str()))
        .filter(messages::Column::Status.eq(MessageStatus::Sending.as_str()))
        .filter(messages::Column::Attempts.eq(claimed.attempts))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
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
