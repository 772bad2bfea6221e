//! REST-hook subscriptions (a Zap subscribed to one of Bacon's events; the target URL is sealed
//! like a plugin secret) and their outbox of deliveries, one row per event and subscription.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RestHookSubscriptions {
    Table,
    Id,
    TenantId,
    PluginId,
    Event,
    TargetUrl,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RestHookDeliveries {
    Table,
    Id,
    TenantId,
    SubscriptionId,
    Event,
    EventId,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RestHookSubscriptions::Table)
                    .if_not_exists()
                    .col(string(RestHookSubscriptions::Id).primary_key())
                    .col(string(RestHookSubscriptions::TenantId))
                    .col(string(RestHookSubscriptions::PluginId))
                    .col(string(RestHookSubscriptions::Event))
                    .col(text(RestHookSubscriptions::TargetUrl))
                    .col(timestamp_with_time_zone(RestHookSubscriptions::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_rest_hook_subs_event", RestHookSubscriptions::Table, &["tenant_id", "event"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RestHookDeliveries::Table)
                    .if_not_exists()
                    .col(string(RestHookDeliveries::Id).primary_key())
                    .col(string(RestHookDeliveries::TenantId))
                    .col(string(RestHookDeliveries::SubscriptionId))
                    .col(string(RestHookDeliveries::Event))
                    .col(string(RestHookDeliveries::EventId))
                    .col(json_binary(RestHookDeliveries::Payload))
                    .col(string(RestHookDeliveries::Status))
                    .col(integer(RestHookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(RestHookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(RestHookDeliveries::LeaseUntil))
                    .col(text_null(RestHookDeliveries::LastError))
                    .col(timestamp_with_time_zone(RestHookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(RestHookDeliveries::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_rest_hook_dlv_due", RestHookDeliveries::Table, &["status", "next_attempt_at"]))
            .await?;
        manager
            .create_index(index(
                "idx_rest_hook_dlv_event",
                RestHookDeliveries::Table,
                &["tenant_id", "event", "created_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RestHookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RestHookSubscriptions::Table).to_owned()).await
    }
}
