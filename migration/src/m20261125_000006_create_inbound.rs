//! The webhook inbox (unique delivery id per tenant and plugin) and trigger subscriptions.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboundEvents {
    Table,
    Id,
    TenantId,
    PluginId,
    HookId,
    DeliveryId,
    Headers,
    Body,
    Status,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum TriggerSubscriptions {
    Table,
    Id,
    TenantId,
    FlowId,
    PluginId,
    TriggerKey,
    HookId,
    ExternalId,
    Status,
    Config,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InboundEvents::Table)
                    .if_not_exists()
                    .col(string(InboundEvents::Id).primary_key())
                    .col(string(InboundEvents::TenantId))
                    .col(string(InboundEvents::PluginId))
                    .col(string(InboundEvents::HookId))
                    .col(string(InboundEvents::DeliveryId))
                    .col(json_binary(InboundEvents::Headers))
                    .col(blob(InboundEvents::Body))
                    .col(string(InboundEvents::Status))
                    .col(timestamp_with_time_zone(InboundEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(InboundEvents::ProcessedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("uq_inbound_delivery", InboundEvents::Table, &["tenant_id", "plugin_id", "delivery_id"])
                    .unique()
                    .take(),
            )
            .await?;
        manager.create_index(index("idx_inbound_status", InboundEvents::Table, &["status", "received_at"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(TriggerSubscriptions::Table)
                    .if_not_exists()
                    .col(string(TriggerSubscriptions::Id).primary_key())
                    .col(string(TriggerSubscriptions::TenantId))
                    .col(string(TriggerSubscriptions::FlowId))
                    .col(string_null(TriggerSubscriptions::PluginId))
                    .col(string(TriggerSubscriptions::TriggerKey))
                    .col(string_uniq(TriggerSubscriptions::HookId))
                    .col(string_null(TriggerSubscriptions::ExternalId))
                    .col(string(TriggerSubscriptions::Status))
                    .col(json_binary(TriggerSubscriptions::Config))
                    .col(timestamp_with_time_zone(TriggerSubscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(TriggerSubscriptions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_trigger_subscriptions_flow")
                            .from(TriggerSubscriptions::Table, TriggerSubscriptions::FlowId)
                            .to(Alias::new("flows"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_trigger_subscriptions_flow",
                TriggerSubscriptions::Table,
                &["tenant_id", "flow_id"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [InboundEvents::Table.into_iden(), TriggerSubscriptions::Table.into_iden()] {
            manager.drop_table(Table::drop().table(t).if_exists().take()).await?;
        }
        Ok(())
    }
}
