//! Flows and their immutable versions (graph snapshots).

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Flows {
    Table,
    Id,
    TenantId,
    BotId,
    Name,
    Description,
    CurrentVersion,
    Active,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum FlowVersions {
    Table,
    Id,
    FlowId,
    TenantId,
    Version,
    Graph,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Flows::Table)
                    .if_not_exists()
                    .col(string(Flows::Id).primary_key())
                    .col(string(Flows::TenantId))
                    .col(string_null(Flows::BotId))
                    .col(string(Flows::Name))
                    .col(text_null(Flows::Description))
                    .col(integer(Flows::CurrentVersion))
                    .col(boolean(Flows::Active).default(false))
                    .col(timestamp_with_time_zone(Flows::CreatedAt))
                    .col(timestamp_with_time_zone(Flows::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Flows::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flows_tenant")
                            .from(Flows::Table, Flows::TenantId)
                            .to(Alias::new("tenants"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager.create_index(index("idx_flows_tenant", Flows::Table, &["tenant_id", "id"])).await?;
        manager.create_index(index("idx_flows_tenant_bot", Flows::Table, &["tenant_id", "bot_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(FlowVersions::Table)
                    .if_not_exists()
                    .col(string(FlowVersions::Id).primary_key())
                    .col(string(FlowVersions::FlowId))
                    .col(string(FlowVersions::TenantId))
                    .col(integer(FlowVersions::Version))
                    .col(json_binary(FlowVersions::Graph))
                    .col(timestamp_with_time_zone(FlowVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flow_versions_flow")
                            .from(FlowVersions::Table, FlowVersions::FlowId)
                            .to(Flows::Table, Flows::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("uq_flow_versions_flow_version", FlowVersions::Table, &["flow_id", "version"]).unique().take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [FlowVersions::Table.into_iden(), Flows::Table.into_iden()] {
            manager.drop_table(Table::drop().table(t).if_exists().take()).await?;
        }
        Ok(())
    }
}
