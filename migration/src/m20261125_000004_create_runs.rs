//! Runs (one execution of a pinned flow version) and steps (one per node execution).

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    TenantId,
    FlowId,
    FlowVersion,
    Status,
    IdempotencyKey,
    Input,
    Trigger,
    Vars,
    Error,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Steps {
    Table,
    Id,
    RunId,
    TenantId,
    NodeId,
    NodeType,
    Status,
    Attempt,
    MaxAttempts,
    Input,
    Output,
    Error,
    NextAttemptAt,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .if_not_exists()
                    .col(string(Runs::Id).primary_key())
                    .col(string(Runs::TenantId))
                    .col(string(Runs::FlowId))
                    .col(integer(Runs::FlowVersion))
                    .col(string(Runs::Status))
                    .col(string_null(Runs::IdempotencyKey))
                    .col(json_binary(Runs::Input))
                    .col(json_binary_null(Runs::Trigger))
                    .col(json_binary(Runs::Vars))
                    .col(json_binary_null(Runs::Error))
                    .col(timestamp_with_time_zone(Runs::CreatedAt))
                    .col(timestamp_with_time_zone(Runs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Runs::StartedAt))
                    .col(timestamp_with_time_zone_null(Runs::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_runs_flow")
                            .from(Runs::Table, Runs::FlowId)
                            .to(Alias::new("flows"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("uq_runs_idempotency", Runs::Table, &["tenant_id", "flow_id", "idempotency_key"]).unique().take(),
            )
            .await?;
        manager.create_index(index("idx_runs_tenant_flow", Runs::Table, &["tenant_id", "flow_id", "id"])).await?;
        manager.create_index(index("idx_runs_tenant_status", Runs::Table, &["tenant_id", "status", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(Steps::Table)
                    .if_not_exists()
                    .col(string(Steps::Id).primary_key())
                    .col(string(Steps::RunId))
                    .col(string(Steps::TenantId))
                    .col(string(Steps::NodeId))
                    .col(string(Steps::NodeType))
                    .col(string(Steps::Status))
                    .col(integer(Steps::Attempt).default(0))
                    .col(integer(Steps::MaxAttempts))
                    .col(json_binary_null(Steps::Input))
                    .col(json_binary_null(Steps::Output))
                    .col(json_binary_null(Steps::Error))
                    .col(timestamp_with_time_zone_null(Steps::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Steps::LeaseUntil))
                    .col(timestamp_with_time_zone(Steps::CreatedAt))
                    .col(timestamp_with_time_zone(Steps::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Steps::StartedAt))
                    .col(timestamp_with_time_zone_null(Steps::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_steps_run")
                            .from(Steps::Table, Steps::RunId)
                            .to(Runs::Table, Runs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager.create_index(index("idx_steps_run", Steps::Table, &["run_id", "id"])).await?;
        // The reconciler scans for steps whose lease or retry time has passed.
        manager.create_index(index("idx_steps_status_due", Steps::Table, &["status", "next_attempt_at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [Steps::Table.into_iden(), Runs::Table.into_iden()] {
            manager.drop_table(Table::drop().table(t).if_exists().take()).await?;
        }
        Ok(())
    }
}
