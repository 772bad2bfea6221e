//! Flow constructs (issue #16): child runs link to the parent step that started them
//! (`runs.parent_run_id`, `runs.parent_step_id`); a synchronous webhook's answer is kept on its
//! run (`runs.response`), so a retried delivery gets the same one; and a `wait` node's open wait
//! is a row in `waits` until an event, a matching delivery or its timeout ends it. A run of a
//! flow with a run timeout has its `deadline_at` (the reconciler's check when the deadline's job
//! was lost).
//!
//! Every new column is null for existing runs.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden, Clone, Copy)]
enum Runs {
    Table,
    ParentRunId,
    ParentStepId,
    Response,
    DeadlineAt,
}

#[derive(Iden)]
enum Waits {
    Table,
    Id,
    TenantId,
    RunId,
    StepId,
    NodeId,
    EventName,
    PluginId,
    EventKey,
    CorrelationKey,
    DueAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [Runs::ParentRunId, Runs::ParentStepId] {
            manager
                .alter_table(
                    Table::alter().table(Runs::Table).add_column(ColumnDef::new(column).string().null()).take(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::Response).json_binary().null())
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::DeadlineAt).timestamp_with_time_zone().null())
                    .take(),
            )
            .await?;
        // Running runs with a deadline, for the reconciler.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_runs_deadline ON runs (deadline_at) WHERE deadline_at IS NOT NULL AND status = 'running'",
            )
            .await?;
        // Children of a run, for the cancel cascade (few runs have a parent: a partial index).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Waits::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Waits::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Waits::TenantId).string().not_null())
                    .col(ColumnDef::new(Waits::RunId).string().not_null())
                    .col(ColumnDef::new(Waits::StepId).string().not_null())
                    .col(ColumnDef::new(Waits::NodeId).string().not_null())
                    .col(ColumnDef::new(Waits::EventName).string().not_null())
                    .col(ColumnDef::new(Waits::PluginId).string().null())
                    .col(ColumnDef::new(Waits::EventKey).string().null())
                    .col(ColumnDef::new(Waits::CorrelationKey).string().null())
                    .col(ColumnDef::new(Waits::DueAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Waits::CreatedAt).timestamp_with_time_zone().not_null())
                    .take(),
            )
            .await?;
        manager.create_index(index("uq_waits_step", Waits::Table, &["step_id"]).unique().take()).await?;
        manager.create_index(index("idx_waits_run_event", Waits::Table, &["run_id", "event_name"])).await?;
        manager
            .create_index(index("idx_waits_correlation", Waits::Table, &["tenant_id", "plugin_id", "correlation_key"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Waits::Table).if_exists().take()).await?;
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS idx_runs_parent").await?;
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS idx_runs_deadline").await?;
        for column in [Runs::DeadlineAt, Runs::Response, Runs::ParentStepId, Runs::ParentRunId] {
            manager.alter_table(Table::alter().table(Runs::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
