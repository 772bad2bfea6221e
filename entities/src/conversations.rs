//! Conversations: a channel user of a bot mapped to a stable id, so replies reach them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The bot, or `""` when the flow has none.
    pub bot_id: String,
    pub plugin_id: String,
    /// `whatsapp`, …
    pub channel: String,
    /// The channel's address of the user (`whatsapp:+15551234567`): where replies go.
    pub external_user_id: String,
    pub created_at: DateTimeUtc,
    pub last_message_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
