//! The channel outbox: messages sent through a plugin's channel adapter by the workers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub conversation_id: Option<String>,
    /// The `OutboundMessage` (recipient, text, media, template).
    #[sea_orm(column_type = "JsonBinary")]
    pub message: Json,
    /// `queued`, `sending`, `sent`, `failed`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    /// The channel's id of the sent message.
    pub external_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
