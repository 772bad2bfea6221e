//! Channels: the outbox of messages sent through a plugin's channel adapter (delivered and retried
//! by the workers), and conversations (a channel user mapped to a stable conversation id, so
//! replies reach the same conversation).

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChannelMessages {
    Table,
    Id,
    TenantId,
    BotId,
    PluginId,
    ConversationId,
    Message,
    Status,
    Attempts,
    MaxAttempts,
    NextAttemptAt,
    LeaseUntil,
    ExternalId,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    TenantId,
    BotId,
    PluginId,
    Channel,
    ExternalUserId,
    CreatedAt,
    LastMessageAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChannelMessages::Table)
                    .if_not_exists()
                    .col(string(ChannelMessages::Id).primary_key())
                    .col(string(ChannelMessages::TenantId))
                    .col(string_null(ChannelMessages::BotId))
                    .col(string(ChannelMessages::PluginId))
                    .col(string_null(ChannelMessages::ConversationId))
                    .col(json_binary(ChannelMessages::Message))
                    .col(string(ChannelMessages::Status))
                    .col(integer(ChannelMessages::Attempts))
                    .col(integer(ChannelMessages::MaxAttempts))
                    .col(timestamp_with_time_zone(ChannelMessages::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(ChannelMessages::LeaseUntil))
                    .col(string_null(ChannelMessages::ExternalId))
                    .col(text_null(ChannelMessages::LastError))
                    .col(timestamp_with_time_zone(ChannelMessages::CreatedAt))
                    .col(timestamp_with_time_zone(ChannelMessages::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_channel_messages_due", ChannelMessages::Table, &["status", "next_attempt_at"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(string(Conversations::Id).primary_key())
                    .col(string(Conversations::TenantId))
                    .col(string(Conversations::BotId))
                    .col(string(Conversations::PluginId))
                    .col(string(Conversations::Channel))
                    .col(string(Conversations::ExternalUserId))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::LastMessageAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_conversations_user",
                    Conversations::Table,
                    &["tenant_id", "bot_id", "plugin_id", "external_user_id"],
                )
                .unique()
                .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Conversations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ChannelMessages::Table).to_owned()).await
    }
}
